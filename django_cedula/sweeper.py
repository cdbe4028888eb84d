"""Re-queue validations whose job was lost.

A row can be left behind in three ways:

* **pending** for too long: the queue never got its first job (the broker was down when the user
  registered; the failure was logged and swallowed so that the registration succeeded);
* **retrying** long after ``next_attempt_at``: the delayed job was lost the same way;
* **processing** for too long: the worker died mid-lookup (a crash, an OOM kill, a deploy, a job
  timeout), and a broker without delivery receipts (Redis) will not deliver the job again.

:func:`sweep` queues such rows again. Jobs claim their row with one conditional ``UPDATE``, so a
job that was only late, not lost, and the re-queued one cannot both run: whichever comes second
finds the attempt taken and does nothing.

A lost PROCESSING attempt counts as spent (it may have cost a request and a captcha): the row
goes on to its next attempt, counted in ``retry_count`` with ``error_code`` ``lost``, and ends as
ERROR / ``lost`` when no attempt is left. So a row whose jobs keep dying ends instead of being
looked up again for ever. Unless its job got an answer and only the database failed it: a job
whose store outlasts a database outage keeps its outcome in the shared cache
(:func:`~.models.keep_outcome`), and the sweeper stores that outcome instead, as the job would
have, with no second lookup.

Each sweep also applies the retention limits of ``CEDULA_PRIVACY`` (:func:`purge_expired`): the
source's raw answer is blanked ``RAW_RESPONSE_DAYS`` after the final answer, the voting place
``PLACE_DAYS`` after it; ``manage.py cedula_purge`` runs that part alone.

Run it with ``manage.py cedula_sweep`` (cron), or let Django-Q2 run it every 10 minutes with
``CEDULA_SWEEP = {"SCHEDULE": True}``.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.apps import AppConfig
from django.apps.registry import Apps
from django.db import router, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from . import health
from .backends import enqueue_validation
from .conf import app_settings
from .models import (
    FINAL_STATUSES,
    LOST,
    CedulaInfo,
    CedulaStatus,
    KeptOutcome,
    forget_outcome,
    kept_outcome,
    retry_delay_after,
)
from .results import PLACE_FIELDS
from .scrapers.base import probe
from .scrapers.chain import scrapers_by_source, source_names
from .signals import retry_scheduled, send_now, validation_finished

logger = logging.getLogger(__name__)

#: The name of the Django-Q2 schedule that ``CEDULA_SWEEP["SCHEDULE"]`` installs.
SCHEDULE_NAME = "django_cedula.sweep"
#: What that schedule runs.
SCHEDULE_FUNC = "django_cedula.sweeper.run_scheduled_sweep"
#: How often it runs, in minutes.
SCHEDULE_MINUTES = 10

#: Rows read per query; memory stays flat however many rows are stuck.
CHUNK_SIZE = 1000


@dataclasses.dataclass
class SweepReport:
    """What one sweep did (or, in a dry run, would have done)."""

    dry_run: bool = False
    #: PENDING rows whose first job was queued again.
    pending: int = 0
    #: RETRYING rows whose next attempt was queued again.
    retrying: int = 0
    #: PROCESSING rows whose lost attempt was counted and whose next attempt was queued.
    processing: int = 0
    #: PROCESSING rows whose lost attempt was their last: ended as ERROR / ``lost``.
    lost: int = 0
    #: PROCESSING rows whose job could not store its outcome through a database outage: the outcome
    #: it kept in the cache was stored instead (and a retry it called for queued), not counted lost.
    recovered: int = 0
    #: Stale PENDING or RETRYING rows left alone this time: they were re-queued recently (back-off).
    deferred: int = 0
    #: Rows that changed between being read and being updated (a job or a request got there first).
    changed: int = 0
    #: Re-queued rows whose job the backend refused (broker still down); the next sweep tries again.
    enqueue_failures: int = 0
    #: Sources out of service whose form was probed for free (:mod:`~.health`), and those of them
    #: that the probe put back in service.
    probed: list[str] = dataclasses.field(default_factory=list)
    resumed: list[str] = dataclasses.field(default_factory=list)
    #: What the retention limits blanked (:func:`purge_expired`), or would in a dry run.
    purged_raw_responses: int = 0
    purged_places: int = 0

    @property
    def requeued(self) -> int:
        """Rows queued again, of all kinds."""
        return self.pending + self.retrying + self.processing

    def as_dict(self) -> dict[str, Any]:
        """The counts as a plain dict (for JSON and Django-Q2's result)."""
        return {**dataclasses.asdict(self), "requeued": self.requeued}


def candidates(
    *, now: datetime.datetime | None = None, using: str | None = None
) -> dict[str, QuerySet[CedulaInfo]]:
    """The rows :func:`sweep` looks at, by kind (``processing``, ``pending``, ``retrying``).

    Stale PENDING and RETRYING rows that were re-queued recently are among them; :func:`sweep`
    defers those (see its back-off).
    """
    now = now or timezone.now()
    rows = CedulaInfo.objects.using(using or router.db_for_write(CedulaInfo))
    processing_cutoff = now - datetime.timedelta(seconds=app_settings.SWEEP_PROCESSING_AFTER)
    pending_cutoff = now - datetime.timedelta(seconds=app_settings.SWEEP_PENDING_AFTER)
    due = Q(next_attempt_at__lt=pending_cutoff) | Q(next_attempt_at__isnull=True)
    return {
        "processing": rows.filter(status=CedulaStatus.PROCESSING, updated_at__lt=processing_cutoff),
        # A job deferred by the throttle sets next_attempt_at: it is not lost until that has passed.
        "pending": rows.filter(status=CedulaStatus.PENDING, updated_at__lt=pending_cutoff).filter(due),
        "retrying": rows.filter(status=CedulaStatus.RETRYING, updated_at__lt=pending_cutoff).filter(due),
    }


def sweep(
    *,
    dry_run: bool = False,
    now: datetime.datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
    using: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> SweepReport:
    """Queue again every validation whose job looks lost; return what was done.

    * PENDING rows not touched for ``CEDULA_SWEEP["PENDING_AFTER"]`` seconds, and RETRYING rows
      whose ``next_attempt_at`` passed more than that long ago, get their attempt queued again.
    * PROCESSING rows not touched for ``CEDULA_SWEEP["PROCESSING_AFTER"]`` seconds get the outcome
      their job kept in the cache when it could not store it, if there is one; otherwise their
      attempt counts as lost (:meth:`~.models.CedulaInfoQuerySet.mark_lost`) and the next one is
      queued. Either with one conditional ``UPDATE`` on the row as read.

    Each re-queue touches ``updated_at``, and a row is only re-queued again once it has waited at
    least as long as it had already waited: a row stuck behind a long but live backlog (after a
    large ``cedula_revalidate``) is queued again a handful of times, not once per sweep.

    ``dry_run`` counts without changing or queuing anything. Rows are read ``chunk_size`` at a
    time by primary key, so memory does not grow with their number; ``progress`` is called with
    the number of rows examined after each chunk. Call it outside a transaction: jobs are handed
    to the queue once the row's update commits.
    """
    now = now or timezone.now()
    using = using or router.db_for_write(CedulaInfo)
    report = SweepReport(dry_run=dry_run)
    pending_after = datetime.timedelta(seconds=app_settings.SWEEP_PENDING_AFTER)
    columns = (
        "user_id",
        "status",
        "retry_count",
        "updated_at",
        "requested_at",
        "next_attempt_at",
        "created_at",
    )
    stuck = candidates(now=now, using=using)

    # PROCESSING first: the rows it moves back are fresh (updated_at = now), so the passes
    # over PENDING and RETRYING below do not queue them a second time.
    for chunk in _chunks(stuck["processing"], columns, chunk_size):
        for row in chunk:
            _requeue_processing(_Row(*row), report, now=now, using=using)
        if progress:
            progress(len(chunk))
    for status in (CedulaStatus.PENDING, CedulaStatus.RETRYING):
        for chunk in _chunks(stuck[status], columns, chunk_size):
            for row in chunk:
                _requeue_waiting(
                    _Row(*row), status, report, now=now, pending_after=pending_after, using=using
                )
            if progress:
                progress(len(chunk))

    if not dry_run:
        probe_sources(report)
    purged = purge_expired(now=now, dry_run=dry_run, chunk_size=chunk_size, using=using)
    report.purged_raw_responses, report.purged_places = purged.raw_responses, purged.places
    if report.requeued or report.lost or report.recovered or report.changed or report.enqueue_failures:
        logger.info(
            "Cédula sweep%s: %s pending, %s retrying and %s processing rows re-queued; "
            "%s ended as lost, %s stored from their job's kept outcome, %s deferred, "
            "%s changed meanwhile, %s could not be queued",
            " (dry run)" if dry_run else "",
            report.pending,
            report.retrying,
            report.processing,
            report.lost,
            report.recovered,
            report.deferred,
            report.changed,
            report.enqueue_failures,
        )
    return report


# -- retention (CEDULA_PRIVACY): what is kept after the final answer, and for how long


@dataclasses.dataclass
class PurgeReport:
    """What one purge blanked (or, in a dry run, would blank)."""

    dry_run: bool = False
    #: Rows whose raw answer was blanked (``RAW_RESPONSE_DAYS``).
    raw_responses: int = 0
    #: Rows whose voting place was blanked and ``purged_at`` set (``PLACE_DAYS``).
    places: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _cutoff(days: float | None, now: datetime.datetime) -> datetime.datetime | None:
    return None if days is None else now - datetime.timedelta(days=float(days))


def expired(
    *, now: datetime.datetime | None = None, using: str | None = None
) -> dict[str, QuerySet[CedulaInfo]]:
    """The rows :func:`purge_expired` blanks, by kind: ``raw_responses`` and ``places`` (an empty
    queryset for a limit that is ``None``).

    A raw answer expires ``RAW_RESPONSE_DAYS`` after the final answer: after ``fetched_at``, or,
    for a validation that ended without one (an error, a timeout), after its last change. A place
    expires ``PLACE_DAYS`` after ``fetched_at``, once (``purged_at`` is then set). Rows still being
    validated are never touched: a new request clears ``fetched_at``, and the conditions are
    checked again by every ``UPDATE``.
    """
    now = now or timezone.now()
    rows = CedulaInfo.objects.using(using or router.db_for_write(CedulaInfo))
    privacy = app_settings.PRIVACY
    raw_cutoff = _cutoff(privacy["RAW_RESPONSE_DAYS"], now)
    place_cutoff = _cutoff(privacy["PLACE_DAYS"], now)
    raw = rows.none()
    if raw_cutoff is not None:
        raw = rows.exclude(raw_response="").filter(
            Q(fetched_at__lt=raw_cutoff)
            | Q(fetched_at__isnull=True, status__in=FINAL_STATUSES, updated_at__lt=raw_cutoff)
        )
    places = rows.none()
    if place_cutoff is not None:
        places = rows.filter(status=CedulaStatus.ACTIVE, purged_at__isnull=True, fetched_at__lt=place_cutoff)
    return {"raw_responses": raw, "places": places}


def purge_expired(
    *,
    now: datetime.datetime | None = None,
    dry_run: bool = False,
    chunk_size: int = CHUNK_SIZE,
    using: str | None = None,
) -> PurgeReport:
    """Blank what the retention limits of ``CEDULA_PRIVACY`` say is no longer kept (:func:`expired`):
    the raw answer (``RAW_RESPONSE_DAYS``), and the voting place (``PLACE_DAYS``: the place fields
    blanked, ``purged_at`` set). The status, the record note and every date stay.

    By ranges of ``chunk_size`` primary keys: one query finds where a range ends, one ``UPDATE``
    blanks it, so memory stays flat and no lock is held long however many rows expire.
    ``updated_at`` is left as it is (the row's validation did not change). ``dry_run`` counts.
    Part of every :func:`sweep`.
    """
    now = now or timezone.now()
    report = PurgeReport(dry_run=dry_run)
    kinds = expired(now=now, using=using)
    changes: dict[str, dict[str, Any]] = {
        "raw_responses": {"raw_response": ""},
        "places": {**dict.fromkeys(PLACE_FIELDS, ""), "purged_at": now},
    }
    for kind, queryset in kinds.items():
        if dry_run:
            setattr(report, kind, queryset.count())
            continue
        setattr(report, kind, _update_by_ranges(queryset, changes[kind], chunk_size))
    if report.raw_responses or report.places:
        logger.info(
            "Cédula retention%s: %s raw answers and %s voting places blanked",
            " (dry run)" if dry_run else "",
            report.raw_responses,
            report.places,
        )
    return report


def _update_by_ranges(queryset: QuerySet[CedulaInfo], fields: dict[str, Any], size: int) -> int:
    """``queryset.update(**fields)``, one range of at most ``size`` matching rows (by primary key) at
    a time; returns the rows updated."""
    updated = 0
    last: Any = None
    while True:
        rest = queryset if last is None else queryset.filter(pk__gt=last)
        # The range's last key: the size-th match from the last range on (an index walk, no rows
        # loaded); none when fewer are left, and the last range takes them all.
        end = next(iter(rest.order_by("pk").values_list("pk", flat=True)[size - 1 : size]), None)
        chunk = rest if end is None else rest.filter(pk__lte=end)
        updated += chunk.update(**fields)
        if end is None:
            return updated
        last = end


def probe_sources(report: SweepReport | None = None) -> SweepReport:
    """Probe the form of every source out of service whose probe is due (``CEDULA_SOURCE_HEALTH
    ["PROBE_EVERY"]``, one worker at a time for the cluster): a GET, no solve. A form with its
    shape again puts back a source that was out because of its form, whose receivers queue the rows
    that waited. Part of every :func:`sweep`, so a scheduled sweep is the probe's schedule."""
    report = report or SweepReport()
    try:
        due = [source for source in source_names() if health.probe_due(source)]
        if not due:
            return report
        scrapers = scrapers_by_source()
    except Exception as exc:  # a sweep must go on: the probe is a courtesy
        logger.error("Could not probe the sources out of service (%s: %s)", type(exc).__name__, exc)
        return report
    for source in due:
        scraper = scrapers.get(source)
        if scraper is None:
            continue
        found = probe(scraper, source)
        report.probed.append(source)
        if found.ok and not health.out_of_service([source]):
            report.resumed.append(source)
    return report


@dataclasses.dataclass(frozen=True)
class _Row:
    """What the sweep read of a row (a :class:`~.models.SeenRow`), without loading the model."""

    pk: int
    user_id: int | str
    status: str
    retry_count: int
    updated_at: datetime.datetime
    requested_at: datetime.datetime | None
    next_attempt_at: datetime.datetime | None
    created_at: datetime.datetime


def _chunks(
    queryset: QuerySet[CedulaInfo], columns: Sequence[str], size: int
) -> Iterator[list[tuple[Any, ...]]]:
    """``queryset``'s rows as tuples ``(pk, *columns)``, ``size`` at a time, by ascending primary key.

    Keyset pagination rather than one open cursor: rows are updated between chunks, and
    SQLite may show a cursor the rows it has just seen updated.
    """
    last: int | None = None
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        chunk = list(page.order_by("pk").values_list("pk", *columns)[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1][0]


def _requeue_processing(row: _Row, report: SweepReport, *, now: datetime.datetime, using: str) -> None:
    # The attempt that was PROCESSING is spent: it may have cost a request and a captcha, and a
    # job that keeps dying (an answer that crashes the worker, a job timeout shorter than the
    # lookup) must run out of attempts like any other failure rather than repeat for ever.
    lost_attempt = row.retry_count + 1
    kept = kept_outcome(row, lost_attempt)
    if kept is not None:
        _store_kept(row, lost_attempt, kept, report, now=now, using=using)
        return
    if report.dry_run:
        if retry_delay_after(lost_attempt) is None:
            report.lost += 1
        else:
            report.processing += 1
        return
    error = _("attempt %(attempt)s was lost: its worker stopped before storing an answer") % {
        "attempt": lost_attempt
    }
    outcome = CedulaInfo.objects.using(using).mark_lost(row, now=now, message=str(error))
    if outcome is None:
        report.changed += 1
        return
    logger.info(
        "Cédula sweep: user %s was processing since %s (attempt %s); its worker is presumed dead, %s",
        row.user_id,
        row.updated_at.isoformat(),
        lost_attempt,
        "next attempt queued"
        if outcome.retry_delay is not None
        else "no attempt is left: ended as error (lost)",
    )
    if outcome.is_final:
        report.lost += 1
        _send_after_commit(row, using, validation_finished, status=outcome.status, result=None)
        return
    report.processing += 1
    _enqueue_on_commit(
        dataclasses.replace(row, status=outcome.status, retry_count=lost_attempt),
        report,
        now=now,
        using=using,
        on_accepted=lambda: _send_after_commit(
            row, using, retry_scheduled, attempt=lost_attempt + 1, delay=0.0, error_code=LOST
        ),
    )


def _store_kept(
    row: _Row, attempt: int, kept: KeptOutcome, report: SweepReport, *, now: datetime.datetime, using: str
) -> None:
    """Store the outcome attempt ``attempt``'s job kept (its store met a database outage and the
    job ended before the database came back), and do what the job would have done next: the
    signal of a final outcome, or the retry it called for."""
    if report.dry_run:
        report.recovered += 1
        return
    # The raw answer is not kept (see keep_outcome): the row's is cleared rather than left as an
    # earlier attempt's.
    fields = {**kept.fields, "raw_response": ""}
    if not CedulaInfo.objects.using(using).record(row, fields, now=now):
        report.changed += 1
        return
    transaction.on_commit(lambda: forget_outcome(row, attempt), using=using)
    report.recovered += 1
    status = str(fields["status"])
    logger.info(
        "Cédula sweep: user %s was processing since %s (attempt %s); its job got an outcome but could "
        "not store it, stored now as %s from the cache (no second lookup)",
        row.user_id,
        row.updated_at.isoformat(),
        attempt,
        status,
    )
    if kept.retry_delay is None:
        _send_after_commit(row, using, validation_finished, status=status, result=None)
        return
    next_attempt_at = fields.get("next_attempt_at")
    delay = max(0.0, (next_attempt_at - now).total_seconds()) if next_attempt_at is not None else 0.0
    waiting = dataclasses.replace(row, status=status, retry_count=int(fields.get("retry_count", attempt)))
    _enqueue_on_commit(
        waiting,
        report,
        now=now,
        using=using,
        delay=delay,
        on_accepted=lambda: _send_after_commit(
            row,
            using,
            retry_scheduled,
            attempt=waiting.retry_count + 1,
            delay=delay,
            error_code=str(fields.get("error_code", "")),
        ),
    )


def _send_after_commit(row: _Row, using: str, signal: Any, **kwargs: Any) -> None:
    """Send ``signal`` about the row as now stored, once the sweep's update has committed."""

    def send() -> None:
        info = CedulaInfo.objects.using(using).filter(pk=row.pk).first()
        if info is not None:
            send_now(signal, info, **kwargs)

    transaction.on_commit(send, using=using)


def _requeue_waiting(
    row: _Row,
    status: str,
    report: SweepReport,
    *,
    now: datetime.datetime,
    pending_after: datetime.timedelta,
    using: str,
) -> None:
    # When the row became due to run, and when it was last queued (by a request, a failed
    # attempt or a sweep): it waits at least as long again as it has already waited, so that
    # re-queues of a row stuck behind a live backlog back off exponentially.
    if status == CedulaStatus.PENDING:
        # requested_at is set just before updated_at; min() keeps a hand-edited row sweepable.
        due = min(row.requested_at or row.created_at, row.updated_at)
    else:
        due = row.next_attempt_at or row.updated_at
    last_queued = max(row.updated_at, due)
    if now - last_queued < max(pending_after, last_queued - due):
        report.deferred += 1
        return
    if not report.dry_run:
        if not CedulaInfo.objects.using(using).touch(row, now=now):
            report.changed += 1
            return
        logger.debug("Cédula sweep: user %s was %s since %s; re-queued", row.user_id, status, due.isoformat())
        _enqueue_on_commit(row, report, now=now, using=using)
    if status == CedulaStatus.PENDING:
        report.pending += 1
    else:
        report.retrying += 1


def _enqueue_on_commit(
    row: _Row,
    report: SweepReport,
    *,
    now: datetime.datetime,
    using: str,
    delay: float = 0.0,
    on_accepted: Callable[[], None] | None = None,
) -> None:
    def enqueue() -> None:
        if enqueue_validation(row.user_id, row.retry_count + 1, delay=delay):
            if on_accepted is not None:
                on_accepted()
            return
        report.enqueue_failures += 1
        # Not queued after all: give the row back its last-queued time, so that the next sweep
        # tries again instead of backing off as if this one had queued it (after a long outage
        # the back-off would otherwise hold rows for hours once the broker is back).
        CedulaInfo.objects.using(using).untouch(row, touched_at=now)

    # Outside a transaction this runs at once; inside one, the job must not reach a worker
    # before the row it claims is committed.
    transaction.on_commit(enqueue, using=using)


def run_scheduled_sweep() -> dict[str, Any]:
    """What the ``django_cedula.sweep`` Django-Q2 schedule runs: :func:`sweep`, returning its counts."""
    return sweep().as_dict()


def ensure_schedule(*, using: str | None = None, apps: Apps | None = None) -> None:
    """Create or update the Django-Q2 schedule of the sweep, or delete it, per ``CEDULA_SWEEP["SCHEDULE"]``.

    Called after ``migrate``; call it yourself after changing the setting without migrating.
    The schedule is named ``django_cedula.sweep`` and runs :func:`run_scheduled_sweep` every
    10 minutes; its ``next_run`` is kept when it already exists.
    """
    from django.apps import apps as global_apps

    registry = apps or global_apps
    if not global_apps.is_installed("django_q"):
        if app_settings.SWEEP_SCHEDULE:
            logger.warning(
                'CEDULA_SWEEP["SCHEDULE"] is on but django_q is not installed; no schedule created'
            )
        return
    from django_q.models import Schedule as ScheduleConstants

    try:
        schedule_model = registry.get_model("django_q", "Schedule")
    except LookupError:  # django_q's migrations are not applied (yet) on this database
        return
    using = using or router.db_for_write(schedule_model)
    if not router.allow_migrate_model(using, schedule_model):
        return
    schedules = schedule_model._default_manager.using(using).filter(name=SCHEDULE_NAME)
    if not app_settings.SWEEP_SCHEDULE:
        schedules.delete()
        return
    fields = {
        "func": SCHEDULE_FUNC,
        "schedule_type": ScheduleConstants.MINUTES,
        "minutes": SCHEDULE_MINUTES,
        "repeats": -1,
    }
    # Django-Q2 does not make schedule names unique: update the oldest, drop any copies.
    first = schedules.order_by("pk").values_list("pk", flat=True).first()
    if first is None:
        schedules.create(name=SCHEDULE_NAME, next_run=timezone.now(), **fields)
    else:
        schedules.filter(pk=first).update(**fields)
        schedules.exclude(pk=first).delete()


def schedule_after_migrate(
    sender: AppConfig, *, using: str, apps: Apps | None = None, plan: Any = None, **kwargs: Any
) -> None:
    """``post_migrate`` receiver (for the django_cedula app): :func:`ensure_schedule` on ``using``.

    Not done in ``AppConfig.ready()``: no database access at start-up, where the tables may
    not exist yet and every management command would pay for it.
    """
    ensure_schedule(using=using, apps=apps)
