"""The validation state of each user's cédula, and the one place where that state changes.

A row moves through its states only by the methods of :class:`CedulaInfoQuerySet` (claim,
release, record, mark lost, touch for a re-queue), each one conditional ``UPDATE`` that holds only
while the row is as its caller last saw it (:meth:`CedulaInfoQuerySet.as_seen`). What a lookup's
result means for the row (:func:`outcome_for`) and when a failed attempt is retried
(:func:`retry_delay_after`) are decided here too, for the job and the sweeper alike.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import math
import re
from collections.abc import Mapping
from typing import Any, Protocol

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.exceptions import FieldDoesNotExist
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .conf import app_settings
from .numbers import MAX_LENGTH
from .results import DATA_FIELDS, NOVEDAD_FIELDS, PLACE_FIELDS, ScrapeResult, ScrapeStatus, is_death_novedad

logger = logging.getLogger(__name__)


class CedulaStatus(models.TextChoices):
    """Where a validation stands. Also reachable as ``CedulaInfo.Status``."""

    PENDING = "pending", _("Pending")
    PROCESSING = "processing", _("Processing")
    RETRYING = "retrying", _("Waiting to retry")
    ACTIVE = "active", _("Active")
    NOT_FOUND = "not_found", _("Not in the census")
    CANCELLED_DECEASED = "cancelled_deceased", _("Cancelled (deceased)")
    CANCELLED_OTHER = "cancelled_other", _("Cancelled (other)")
    NONEXISTENT = "nonexistent", _("Number does not exist")
    AWAITING_CONSENT = "awaiting_consent", _("Waiting for the holder's authorization")
    INVALID = "invalid", _("Invalid number")
    ERROR = "error", _("Error")
    TIMEOUT = "timeout", _("Timed out")
    BLOCKED = "blocked", _("Blocked by the source")


#: States no job will change again.
FINAL_STATUSES = frozenset(
    {
        CedulaStatus.ACTIVE,
        CedulaStatus.NOT_FOUND,
        CedulaStatus.CANCELLED_DECEASED,
        CedulaStatus.CANCELLED_OTHER,
        CedulaStatus.NONEXISTENT,
        CedulaStatus.INVALID,
        CedulaStatus.ERROR,
        CedulaStatus.TIMEOUT,
        CedulaStatus.BLOCKED,
    }
)
#: States a job may claim a row from: queued for its first attempt, or waiting for a retry.
CLAIMABLE_STATUSES = (CedulaStatus.PENDING, CedulaStatus.RETRYING)
#: States in which a validation is under way.
IN_PROGRESS_STATUSES = (CedulaStatus.PENDING, CedulaStatus.PROCESSING, CedulaStatus.RETRYING)
#: Final states where the lookup failed, not the cédula: a host may offer "Try again".
RETRYABLE_STATUSES = frozenset({CedulaStatus.ERROR, CedulaStatus.TIMEOUT, CedulaStatus.BLOCKED})
CANCELLED_STATUSES = frozenset({CedulaStatus.CANCELLED_DECEASED, CedulaStatus.CANCELLED_OTHER})

#: ``error_code`` of a row ended by a configuration error: final at once, since every retry would
#: fail the same way.
CONFIG_ERROR = "config_error"
#: ``error_code`` of a row whose outcome could not be stored, even on a fresh connection.
STORE_ERROR = "store_error"
#: ``error_code`` of an attempt whose worker was lost (it stayed PROCESSING too long).
LOST = "lost"
#: ``error_code`` of a row waiting, without an attempt counted, for a source out of service
#: (:mod:`django_cedula.health`); queued again the moment the source is back.
SOURCE_OUT_OF_SERVICE = "out_of_service"

#: How long a stored error message may be.
ERROR_MESSAGE_MAX_LENGTH = 1000

# The final state a transient failure ends in once no retry is left.
_EXHAUSTED_STATUS = {ScrapeStatus.TIMEOUT: CedulaStatus.TIMEOUT, ScrapeStatus.BLOCKED: CedulaStatus.BLOCKED}

# Control characters other than tab and line breaks: an answer cut short can carry binary noise,
# and PostgreSQL refuses a NUL in a text column (the whole outcome would fail to store).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A code point of a UTF-16 surrogate: no database driver can encode one (UTF-8 has no form for it).
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def storable(text: object) -> str:
    """``text`` as any database stores it: a pair of UTF-16 surrogates joined into the character
    it spells, a lone surrogate and every control character but tab and line breaks replaced by
    U+FFFD (a database may refuse them, and with them the whole outcome).

    A source's text can carry such code points (a JSON ``\\ud800`` escape, a script's string read
    from a page), and a driver refuses them with ``UnicodeEncodeError``, not a ``DatabaseError``:
    the paid answer would be lost. :func:`fit_to_columns` passes every text of an outcome here.
    """
    value = text if isinstance(text, str) else str(text)
    if _SURROGATE.search(value):
        value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _CONTROL.sub("\ufffd", value)


def retry_delay_after(attempt: int) -> float | None:
    """Seconds until the attempt after ``attempt`` (which failed), or ``None`` when ``attempt`` was
    the last: the retry-or-final rule of ``CEDULA_RETRY_DELAYS``, for the job and the sweeper."""
    delays = app_settings.RETRY_DELAYS
    return float(delays[attempt - 1]) if attempt <= len(delays) else None


def cleared_fields(now: datetime.datetime) -> dict[str, Any]:
    """A row made new for a validation requested at ``now``: PENDING, every answer and error gone."""
    return {
        **dict.fromkeys(DATA_FIELDS, ""),
        "status": CedulaStatus.PENDING,
        "fetched_at": None,
        "error_code": "",
        "error_message": "",
        "raw_response": "",
        "retry_count": 0,
        "next_attempt_at": None,
        "requested_at": now,
        "vigencia": "",
        "purged_at": None,
    }


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How to update the row after an attempt, and whether to queue another."""

    status: str
    fields: dict[str, Any]
    #: Seconds until the next attempt, or ``None`` when this attempt is the last.
    retry_delay: float | None = None

    @property
    def is_final(self) -> bool:
        return self.retry_delay is None


def failure_outcome(
    attempt: int, *, error_code: str, error_message: str, exhausted: str, now: datetime.datetime
) -> Outcome:
    """Attempt ``attempt`` failed: retried while delays remain (:func:`retry_delay_after`), else
    final as ``exhausted``."""
    fields: dict[str, Any] = {
        "error_code": error_code,
        "error_message": storable(error_message[:ERROR_MESSAGE_MAX_LENGTH]),
    }
    delay = retry_delay_after(attempt)
    if delay is None:
        fields.update(status=exhausted, next_attempt_at=None)
        return Outcome(status=exhausted, fields=fields)
    fields.update(
        status=CedulaStatus.RETRYING,
        retry_count=attempt,
        next_attempt_at=now + datetime.timedelta(seconds=delay),
    )
    return Outcome(status=CedulaStatus.RETRYING, fields=fields, retry_delay=delay)


def outcome_for(
    result: ScrapeResult, *, attempt: int, now: datetime.datetime, raw_response: str = ""
) -> Outcome:
    """What attempt ``attempt``'s ``result`` means for the row.

    Found, not found and cancelled are final. Any other status is transient: retried while
    ``CEDULA_RETRY_DELAYS`` has a delay for the attempt, and ending as TIMEOUT, BLOCKED or ERROR
    (by the last failure's kind) once they run out.
    """
    if not result.status.is_final:
        error = f"{result.status.value}: {result.error}" if result.error else result.status.value
        outcome = failure_outcome(
            attempt,
            error_code=result.status.value,
            error_message=error,
            exhausted=_EXHAUSTED_STATUS.get(result.status, CedulaStatus.ERROR),
            now=now,
        )
        outcome.fields["raw_response"] = raw_response
        return outcome
    fields: dict[str, Any] = dict.fromkeys(DATA_FIELDS, "")
    # The source that answered: the row's answer is its (a failure leaves the stored answer's).
    fields.update(
        raw_response=raw_response,
        fetched_at=now,
        error_code="",
        error_message="",
        next_attempt_at=None,
        source=storable(result.source),
    )
    if result.status is ScrapeStatus.FOUND:
        status = CedulaStatus.ACTIVE
        fields.update({name: storable(getattr(result, name)) for name in PLACE_FIELDS})
    elif result.status is ScrapeStatus.NOT_FOUND:
        status = CedulaStatus.NOT_FOUND
    elif result.status is ScrapeStatus.NONEXISTENT:
        status = CedulaStatus.NONEXISTENT
    else:
        deceased = is_death_novedad(result.novedad)
        status = CedulaStatus.CANCELLED_DECEASED if deceased else CedulaStatus.CANCELLED_OTHER
        fields.update({name: storable(getattr(result, name)) for name in NOVEDAD_FIELDS})
    return Outcome(status=status, fields={"status": status, **fields})


def bounded_raw_response(raw: str) -> str:
    """The part of a raw answer that may be stored (``CEDULA_STORE_RAW_RESPONSE``, ``..._MAX_LENGTH``)."""
    max_length = app_settings.RAW_RESPONSE_MAX_LENGTH
    if not app_settings.STORE_RAW_RESPONSE or max_length <= 0:
        return ""
    return storable(raw[:max_length])


class SeenRow(Protocol):
    """What a caller saw of a row: enough to tell whether it changed since."""

    @property
    def pk(self) -> Any: ...
    @property
    def status(self) -> str: ...
    @property
    def retry_count(self) -> int: ...
    @property
    def requested_at(self) -> datetime.datetime | None: ...
    @property
    def updated_at(self) -> datetime.datetime: ...


class CedulaInfoQuerySet(models.QuerySet["CedulaInfo"]):
    """The row's transitions. Each is one conditional ``UPDATE``: of two workers racing for the
    same row, the database serialises them and the loser's ``WHERE`` no longer matches."""

    def as_seen(self, row: SeenRow) -> CedulaInfoQuerySet:
        """The row if it is still as ``row`` saw it: the same validation (``requested_at``: a
        restart sets a new one), the same attempt (``retry_count``), the same state and no write
        since (``updated_at``). The one "still ours" rule of the job and the sweeper."""
        return self.filter(
            pk=row.pk,
            status=row.status,
            retry_count=row.retry_count,
            requested_at=row.requested_at,
            updated_at=row.updated_at,
        )

    def claim(self, user_id: int | str, attempt: int) -> CedulaInfo | None:
        """Mark the row PROCESSING for ``attempt``; ``None`` when another delivery has it, or the
        user or the row is gone."""
        # The update and the read in one transaction: the update's lock holds the row as claimed
        # until the read has it (a restart in between must not hand this job a row it never claimed).
        with transaction.atomic(using=self.db):
            claimed = self.filter(
                user_id=user_id, status__in=CLAIMABLE_STATUSES, retry_count=attempt - 1
            ).update(status=CedulaStatus.PROCESSING, next_attempt_at=None, updated_at=timezone.now())
            return self.filter(user_id=user_id).first() if claimed else None

    def release(
        self, info: CedulaInfo, attempt: int, *, wait: float, error_code: str = "", error_message: str = ""
    ) -> str | None:
        """Give a claimed row back, claimable by the same attempt in ``wait`` seconds: not a
        retry, since nothing was looked up (or nothing the row should pay for). With
        ``error_code``, the row says why it waits (:data:`SOURCE_OUT_OF_SERVICE`). Returns the status
        it was left in, ``None`` when the row was no longer as claimed."""
        status = CedulaStatus.PENDING if attempt == 1 else CedulaStatus.RETRYING
        now = timezone.now()
        fields: dict[str, Any] = {"status": status, "next_attempt_at": now + datetime.timedelta(seconds=wait)}
        if error_code:
            fields.update(error_code=error_code, error_message=error_message)
        released = self.as_seen(info).update(**fit_to_columns(fields), updated_at=now)
        if released:
            for name, value in fields.items():
                setattr(info, name, value)
            info.updated_at = now
        return status if released else None

    def hold_for_consent(self, user_id: int | str) -> str | None:
        """A row that may not be looked up (no authorization in force, ``CEDULA_PRIVACY
        ["REQUIRE_CONSENT"]``) waits as AWAITING_CONSENT, not counted; ``None`` when no waiting row
        was there to hold (taken, final, or gone)."""
        held = self.filter(user_id=user_id, status__in=CLAIMABLE_STATUSES).update(
            status=CedulaStatus.AWAITING_CONSENT, next_attempt_at=None, updated_at=timezone.now()
        )
        return CedulaStatus.AWAITING_CONSENT if held else None

    def note_vigencia(self, info: CedulaInfo, vigencia: str) -> bool:
        """Keep what the pre-check said on the claimed row (its status and "as seen" fields
        untouched); ``False`` when the row was no longer as claimed."""
        noted = self.as_seen(info).update(vigencia=vigencia)
        if noted:
            info.vigencia = vigencia
        return bool(noted)

    def waiting_for_sources(self) -> CedulaInfoQuerySet:
        """Rows waiting for a source out of service (:meth:`release` with
        :data:`SOURCE_OUT_OF_SERVICE`), oldest request first: the order they are queued in when the
        source comes back."""
        return self.filter(status__in=CLAIMABLE_STATUSES, error_code=SOURCE_OUT_OF_SERVICE).order_by(
            "requested_at", "pk"
        )

    def record(
        self, row: SeenRow, fields: Mapping[str, Any], *, now: datetime.datetime | None = None
    ) -> bool:
        """Store an attempt's outcome (``fields``, made :func:`fit_to_columns`) on the row as ``row``
        saw it, and keep ``row`` in step with it when it is a model instance; ``False`` when the row
        had changed (nothing stored). The job records what its lookup found; the sweeper, the
        outcome a job kept when it could not store it (:func:`kept_outcome`)."""
        fields = fit_to_columns(fields)
        now = now or timezone.now()
        if not self.as_seen(row).update(**fields, updated_at=now):
            return False
        if isinstance(row, CedulaInfo):
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = now
        return True

    def mark_lost(self, row: SeenRow, *, now: datetime.datetime, message: str) -> Outcome | None:
        """Count a PROCESSING attempt whose worker is gone as spent: the next attempt is due at
        once, or the row ends as ERROR / ``lost`` when it was the last. ``None`` when the row
        changed meanwhile (a job that finished, or a restart, wins)."""
        lost_attempt = row.retry_count + 1
        outcome = failure_outcome(
            lost_attempt, error_code=LOST, error_message=message, exhausted=CedulaStatus.ERROR, now=now
        )
        if outcome.retry_delay is not None:
            # Long overdue already: the next attempt runs now, not after its delay.
            outcome = dataclasses.replace(
                outcome, fields={**outcome.fields, "next_attempt_at": now}, retry_delay=0.0
            )
        moved = self.as_seen(row).update(**fit_to_columns(outcome.fields), updated_at=now)
        return outcome if moved else None

    def touch(self, row: SeenRow, *, now: datetime.datetime) -> bool:
        """Mark a waiting row as queued again at ``now`` (the sweeper's back-off counts from it)."""
        return bool(self.as_seen(row).update(updated_at=now))

    def untouch(self, row: SeenRow, *, touched_at: datetime.datetime) -> None:
        """Undo :meth:`touch` when the queue refused the job after all, so that the next sweep
        tries again instead of backing off as if this one had queued it."""
        self.filter(pk=row.pk, updated_at=touched_at).update(updated_at=row.updated_at)


@functools.cache
def _column_length(name: str) -> int | None:
    """The ``max_length`` of ``CedulaInfo``'s field ``name`` (``None``: unbounded or not a column)."""
    try:
        field = CedulaInfo._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    length = getattr(field, "max_length", None)
    return length if isinstance(length, int) else None


def fit_to_columns(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` as the database will take them: every text made :func:`storable` and cut to its
    column's ``max_length``, read from the model's fields.

    Every write of an outcome passes here (:meth:`CedulaInfoQuerySet.record`,
    :meth:`~CedulaInfoQuerySet.mark_lost`). SQLite ignores column lengths, PostgreSQL and MySQL
    refuse an over-long value and the whole outcome with it. What a source answers is not ours to
    trust: a ``mesa`` of 21 characters must not cost another paid lookup. A cut value ends in "…";
    ``raw_response`` keeps the answer.
    """
    fitted: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, str):
            value = storable(value)
            limit = _column_length(name)
            if limit is not None and len(value) > limit:
                value = value[: limit - 1] + "…"
        fitted[name] = value
    return fitted


# Outcomes kept for the sweeper ---------------------------------------------------------------
#
# A job whose store meets a database outage keeps its outcome in the shared cache (the database
# is what failed) until the store succeeds. Should the job end first (out of time, killed), the
# sweeper finds the row PROCESSING and stores the kept outcome instead of counting the attempt
# lost: the lookup was paid for once.

#: Seconds a kept outcome outlives ``CEDULA_SWEEP["PROCESSING_AFTER"]``: the sweep that finds its
#: row may come that much later (a daily cron, a sweeper that was down with the database).
KEPT_MARGIN = 86400.0
# What a kept outcome holds: the fields an outcome writes, but not the raw answer (the page may
# quote the cédula, and the cache is no place for personal data the row does not need back).
_KEPT_TEXTS = frozenset({*DATA_FIELDS, "status", "source", "error_code", "error_message"})
_KEPT_TIMES = frozenset({"fetched_at", "next_attempt_at"})
# The statuses an outcome leaves a row in: an answer, a retry, or a failure out of retries.
_OUTCOME_STATUSES = frozenset({CedulaStatus.RETRYING, *FINAL_STATUSES})


@dataclasses.dataclass(frozen=True)
class KeptOutcome:
    """An attempt's outcome as its job kept it: the fields to record, and the retry it queues."""

    fields: dict[str, Any]
    #: Seconds until the next attempt, or ``None`` when the outcome is final.
    retry_delay: float | None


def keep_outcome(row: SeenRow, attempt: int, fields: Mapping[str, Any], *, retry_delay: float | None) -> bool:
    """Keep attempt ``attempt``'s outcome for ``row`` in the shared cache (``CEDULA_CACHE_ALIAS``),
    for the sweeper should the job not get to store it; ``False`` (logged) when the cache failed."""
    fitted = fit_to_columns(fields)
    value = {
        "requested_at": _isoformat(row.requested_at),
        "retry_delay": retry_delay,
        "fields": {
            name: _isoformat(value) if name in _KEPT_TIMES else value
            for name, value in fitted.items()
            if name in _KEPT_TEXTS or name in _KEPT_TIMES or name == "retry_count"
        },
    }
    after = app_settings.SWEEP_PROCESSING_AFTER
    timeout = after + KEPT_MARGIN if math.isfinite(after) else None
    try:
        _kept_cache().set(_kept_key(row, attempt), value, timeout)
    except Exception as exc:
        logger.error(
            "The outcome of attempt %s for row %s could not be kept in the cache %r either (%s: %s)",
            attempt,
            row.pk,
            app_settings.CACHE_ALIAS,
            type(exc).__name__,
            exc,
        )
        return False
    return True


def kept_outcome(row: SeenRow, attempt: int) -> KeptOutcome | None:
    """The outcome a job kept for attempt ``attempt`` of the validation ``row`` saw, if any.

    ``None`` when there is none, when the cache cannot be read (logged), and for a kept value that
    is not a valid outcome of this validation (discarded: a restart since, or garbage)."""
    key = _kept_key(row, attempt)
    try:
        value = _kept_cache().get(key)
    except Exception as exc:
        logger.error(
            "Kept outcomes could not be read from the cache %r (%s: %s)",
            app_settings.CACHE_ALIAS,
            type(exc).__name__,
            exc,
        )
        return None
    if value is None:
        return None
    kept = _read_kept(value, row)
    if kept is None:
        logger.warning(
            "Discarded a kept outcome of row %s, attempt %s: not one of this validation", row.pk, attempt
        )
        forget_outcome(row, attempt)
    return kept


def forget_outcome(row: SeenRow, attempt: int) -> None:
    """Drop the outcome kept for attempt ``attempt`` of ``row`` (stored, or no longer wanted)."""
    try:
        _kept_cache().delete(_kept_key(row, attempt))
    except Exception as exc:
        # Harmless if left: it names one attempt of one validation, which no sweep will find PROCESSING again.
        logger.warning(
            "A kept outcome of row %s could not be dropped (%s: %s)", row.pk, type(exc).__name__, exc
        )


def _kept_cache() -> BaseCache:
    return caches[app_settings.CACHE_ALIAS]


def _kept_key(row: SeenRow, attempt: int) -> str:
    return f"django_cedula:kept:{row.pk}:{attempt}"


def _isoformat(value: object) -> str | None:
    return value.isoformat() if isinstance(value, datetime.datetime) else None


def _read_kept(value: object, row: SeenRow) -> KeptOutcome | None:
    """``value`` as a :class:`KeptOutcome` of the validation ``row`` saw, or ``None``. Read from a
    cache, so checked as untrusted input: the shape, every field's type, the status."""
    if not isinstance(value, dict) or not isinstance(value.get("fields"), dict):
        return None
    if _parse_time(value.get("requested_at")) != row.requested_at:
        return None  # another validation's (the row was restarted since), or garbage
    delay = value.get("retry_delay")
    if delay is not None and not (
        isinstance(delay, (int, float))
        and not isinstance(delay, bool)
        and math.isfinite(delay)
        and delay >= 0
    ):
        return None
    fields: dict[str, Any] = {}
    for name, field_value in value["fields"].items():
        if name in _KEPT_TEXTS and isinstance(field_value, str):
            fields[name] = field_value
        elif name in _KEPT_TIMES and (field_value is None or _parse_time(field_value) is not None):
            fields[name] = _parse_time(field_value)
        elif name == "retry_count" and type(field_value) is int and 0 <= field_value <= 32767:
            fields[name] = field_value
        else:
            return None
    if fields.get("status") not in _OUTCOME_STATUSES or (fields["status"] == CedulaStatus.RETRYING) != (
        delay is not None
    ):
        return None
    return KeptOutcome(fields=fields, retry_delay=None if delay is None else float(delay))


def _parse_time(value: object) -> datetime.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None or not settings.USE_TZ else None


class CedulaInfo(models.Model):
    """What the Registraduría said about one user's cédula, and where its validation stands."""

    Status = CedulaStatus
    FINAL_STATUSES = FINAL_STATUSES
    PLACE_FIELDS = PLACE_FIELDS
    NOVEDAD_FIELDS = NOVEDAD_FIELDS

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="cedula_info",
        verbose_name=_("user"),
    )
    cedula = models.CharField(_("cédula"), max_length=MAX_LENGTH, db_index=True)
    status = models.CharField(
        _("status"), max_length=20, choices=CedulaStatus.choices, default=CedulaStatus.PENDING, db_index=True
    )

    # The place and novedad fields keep the census's own (Spanish) names in code; their labels are
    # the one vocabulary the admin, the host pieces and the docs use: English here, Spanish in the
    # catalogue (departamento, municipio, puesto de votación, dirección, mesa; novedad, ...).
    departamento = models.CharField(_("department"), max_length=100, blank=True)
    municipio = models.CharField(_("municipality"), max_length=100, blank=True)
    puesto = models.CharField(_("polling station"), max_length=255, blank=True)
    direccion = models.CharField(_("address"), max_length=255, blank=True)
    mesa = models.CharField(_("voting table"), max_length=20, blank=True)

    novedad = models.CharField(_("record note"), max_length=255, blank=True)
    resolucion = models.CharField(_("resolution"), max_length=100, blank=True)
    fecha_novedad = models.CharField(
        _("date of the record note"), max_length=50, blank=True, help_text=_("As the source writes it.")
    )
    source = models.CharField(
        _("answered by"),
        max_length=40,
        blank=True,
        help_text=_("The source whose answer is stored (an entry of CEDULA_SOURCES)."),
    )

    vigencia = models.CharField(
        _("vigencia"),
        max_length=20,
        blank=True,
        choices=[
            ("alive", _("Exists, holder alive")),
            ("deceased", _("Cancelled by death")),
            ("nonexistent", _("Does not exist")),
            ("no_data", _("No data")),
        ],
        help_text=_("What the Registraduría's free vigencia pre-check said of the number, if it was asked."),
    )

    # Indexed: the retention purge looks for answers older than its limits on every sweep.
    fetched_at = models.DateTimeField(_("answered at"), null=True, blank=True, db_index=True)
    purged_at = models.DateTimeField(
        _("purged at"),
        null=True,
        blank=True,
        help_text=_("When the retention limit blanked the voting place (CEDULA_PRIVACY)."),
    )
    error_code = models.CharField(
        _("last error kind"), max_length=20, blank=True, help_text=_("timeout, network_error, blocked, ...")
    )
    error_message = models.TextField(_("last error"), blank=True)
    raw_response = models.TextField(_("raw response"), blank=True)
    retry_count = models.PositiveSmallIntegerField(_("retries"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    requested_at = models.DateTimeField(
        _("requested at"), null=True, blank=True, help_text=_("When this validation was last asked for.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    objects = CedulaInfoQuerySet.as_manager()

    class Meta:
        verbose_name = _("cédula validation")
        verbose_name_plural = _("cédula validations")
        permissions = [
            ("view_raw_response", _("Can view raw responses from the source")),
            ("export_cedulainfo", _("Can export what is kept about a holder")),
            ("forget_cedulainfo", _("Can forget a holder's data")),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.get_status_display()}"

    @property
    def is_final(self) -> bool:
        """Whether validation has ended (successfully or not); no job will change the row again."""
        return self.status in FINAL_STATUSES

    @property
    def exists_but_not_registered(self) -> bool:
        """Not in the census, but the pre-check said the cédula exists and its holder lives: a
        citizen who is not registered to vote, not a typo."""
        return self.status == CedulaStatus.NOT_FOUND and self.vigencia == "alive"


class CedulaConsentQuerySet(models.QuerySet["CedulaConsent"]):
    def in_force(self) -> CedulaConsentQuerySet:
        """Authorizations not withdrawn."""
        return self.filter(withdrawn_at__isnull=True)

    def holds_for(self, user_id: int | str) -> bool:
        """Whether ``user_id`` has an authorization in force."""
        return self.in_force().filter(user_id=user_id).exists()


class CedulaConsent(models.Model):
    """The holder's authorization to look their cédula up at the Registraduría (Ley 1581 de 2012,
    art. 9): proof of when, which text, how and by whom, kept while lookups based on it are kept
    and past the holder's ``forget`` (:mod:`django_cedula.rights`). A withdrawn authorization keeps
    its row, with ``withdrawn_at``."""

    class Method(models.TextChoices):
        FORM = "form", _("A form the holder filled in")
        ADMIN = "admin", _("Recorded by staff in the admin")
        IMPORT = "import", _("Imported from the site's own records")
        API = "api", _("Recorded by the site's code")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cedula_consents",
        verbose_name=_("holder"),
    )
    #: The holder's primary key as text: who it was, once the account is gone.
    user_ref = models.CharField(_("holder's id"), max_length=64)
    version = models.CharField(
        _("text version"), max_length=50, help_text=_("The version of the authorization text shown.")
    )
    text = models.TextField(_("text shown"), blank=True)
    method = models.CharField(_("how"), max_length=10, choices=Method.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    granted_at = models.DateTimeField(_("granted at"), db_index=True)
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)

    objects = CedulaConsentQuerySet.as_manager()

    class Meta:
        verbose_name = _("authorization to look the cédula up")
        verbose_name_plural = _("authorizations to look the cédula up")
        ordering = ["-granted_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.user_ref}: {self.version} ({self.get_method_display()})"

    @property
    def in_force(self) -> bool:
        return self.withdrawn_at is None


class CaptchaSpend(models.Model):
    """What the captcha solves of one day (UTC) came to: one row a day, counters only.

    Written by :mod:`django_cedula.captcha.spend`; read by ``cedula_stats`` and the admin.
    """

    day = models.DateField(_("day"), unique=True)
    #: Solves asked of the service (by the token supply or by a lookup for itself).
    requested = models.PositiveIntegerField(_("solves requested"), default=0)
    #: Solves that came back with a token.
    delivered = models.PositiveIntegerField(_("tokens delivered"), default=0)
    #: Tokens a lookup sent to the site.
    used = models.PositiveIntegerField(_("tokens used"), default=0)
    #: Tokens thrown away unused once older than the token supply's ``MAX_AGE``.
    expired = models.PositiveIntegerField(_("tokens expired unused"), default=0)
    #: Tokens the site refused (reported to the service as incorrect where it supports it).
    refused = models.PositiveIntegerField(_("tokens refused by the site"), default=0)
    #: Solves that failed or gave up (no token).
    failed = models.PositiveIntegerField(_("solves failed"), default=0)

    class Meta:
        verbose_name = _("captcha spend")
        verbose_name_plural = _("captcha spend")
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day}: {self.requested} solves"
