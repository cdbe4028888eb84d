"""Asking for validations: the public calls every entry point uses (admin, commands, host code), and the
``post_save`` receivers that make them when a user is created or changes their cédula."""

from __future__ import annotations

import collections
import datetime
import enum
import itertools
import logging
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.mail import mail_admins
from django.db import router, transaction
from django.db.models.signals import post_save
from django.utils import timezone
from django.utils.translation import gettext as _

from .backends import enqueue_validation_on_commit, enqueue_validations_on_commit, get_backend
from .backends.base import ValidationJob
from .conf import app_settings
from .exceptions import InvalidCedulaError
from .health import since_text
from .models import (
    IN_PROGRESS_STATUSES,
    RETRYABLE_STATUSES,
    CedulaConsent,
    CedulaInfo,
    CedulaStatus,
    cleared_fields,
)
from .numbers import normalize_cedula
from .scrapers.chain import source_names
from .signals import source_back_in_service, source_out_of_service

logger = logging.getLogger(__name__)


def user_cedula(user: Any) -> object:
    """The raw value of the user's cédula field (``CEDULA_USER_FIELD``)."""
    return getattr(user, app_settings.USER_FIELD, None)


class RequestDecision(str, enum.Enum):
    """What :func:`request_validation` does (or, for :func:`plan_validation`, would do) for a user."""

    #: The row was created or reset to PENDING and the first attempt is queued.
    QUEUED = "queued"
    #: The number is malformed: the row is marked INVALID and nothing is queued.
    INVALID = "invalid"
    #: Nothing changed: a validation of the same number is already under way.
    IN_PROGRESS = "in_progress"
    #: Nothing changed: too soon to ask again (:func:`retry_allowed_at`): the same number was
    #: requested less than ``CEDULA_REFRESH_COOLDOWN`` ago, or its validation failed a moment ago.
    COOLDOWN = "cooldown"
    #: Nothing changed: the user has no cédula.
    NO_CEDULA = "no_cedula"
    #: The row was created or left AWAITING_CONSENT and nothing is queued: the holder's
    #: authorization is required (``CEDULA_PRIVACY["REQUIRE_CONSENT"]``) and none is in force.
    AWAITING_CONSENT = "awaiting_consent"


class RowState(NamedTuple):
    """The parts of a user's row that decide what a request does (a ``CedulaInfo`` has them too)."""

    cedula: str
    status: str
    requested_at: datetime.datetime | None
    #: The row's last change: for a final failure, when its last attempt ended.
    updated_at: datetime.datetime | None = None


#: Seconds to wait after a final failure when ``CEDULA_RETRY_DELAYS`` is empty (no automatic retry
#: gives a pause to reuse): long enough that a button pressed again and again is not a paid
#: lookup each time.
FAILURE_WAIT_WITHOUT_RETRIES = 60.0


def retry_allowed_at(info: CedulaInfo | RowState) -> datetime.datetime | None:
    """From when :func:`request_validation` (without ``force``) queues a new validation of the
    row's number; ``None`` while one is under way (it may be asked again once it has ended).

    After an answer (found, not found, cancelled, or the row's first request) the wait is
    ``CEDULA_REFRESH_COOLDOWN`` from the request: a census answer does not change from one hour
    to the next, and asking again costs a lookup. After a final failure (``error``, ``timeout``,
    ``blocked``: no answer to keep) it is counted from the end of the last attempt, and is the
    pause the retries themselves take after a failure, the first of ``CEDULA_RETRY_DELAYS``
    (:data:`FAILURE_WAIT_WITHOUT_RETRIES` without retries), never longer than the cooldown. From
    the request it would lock a user out for most of an hour after a failure, however long ago the
    failure was; from the end with the whole cooldown, for an hour after it.
    """
    if info.status in IN_PROGRESS_STATUSES:
        return None
    if info.status == CedulaStatus.AWAITING_CONSENT:
        # Never looked up: nothing was paid for, so there is no wait to respect.
        return datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
    cooldown = app_settings.REFRESH_COOLDOWN
    if info.status in RETRYABLE_STATUSES and info.updated_at is not None:
        delays = app_settings.RETRY_DELAYS
        wait = min(cooldown, float(delays[0]) if delays else FAILURE_WAIT_WITHOUT_RETRIES)
        return info.updated_at + datetime.timedelta(seconds=wait)
    if info.requested_at is None:  # a row never requested (made by hand): no wait
        return datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
    return info.requested_at + datetime.timedelta(seconds=cooldown)


def plan_validation(
    user: Any,
    info: CedulaInfo | RowState | None,
    *,
    force: bool = False,
    now: datetime.datetime | None = None,
    authorized: bool = True,
) -> RequestDecision:
    """What :func:`request_validation` would do for ``user`` whose row is ``info``; no database access.

    ``authorized``: whether the holder's authorization is in force, or not required
    (:func:`authorized_user_ids` tells). Used for dry runs; :func:`request_validation` makes the
    same decision on the row it locks.
    """
    return plan_for_value(user_cedula(user), info, force=force, now=now, authorized=authorized)


def plan_for_value(
    value: object,
    info: CedulaInfo | RowState | None,
    *,
    force: bool = False,
    now: datetime.datetime | None = None,
    authorized: bool = True,
) -> RequestDecision:
    """:func:`plan_validation` from the raw value of the user's cédula field, for callers that
    read users as plain values rather than model instances."""
    if value is None or value == "":
        return RequestDecision.NO_CEDULA
    try:
        cedula = normalize_cedula(value)
    except InvalidCedulaError:
        return RequestDecision.INVALID
    return _decide(info, cedula, force=force, now=now or timezone.now(), authorized=authorized)


def _decide(
    info: CedulaInfo | RowState | None,
    cedula: str,
    *,
    force: bool,
    now: datetime.datetime,
    authorized: bool = True,
) -> RequestDecision:
    decision = _decide_lookup(info, cedula, force=force, now=now)
    # No lookup without the holder's authorization: what would be queued waits for it instead.
    if decision is RequestDecision.QUEUED and not authorized:
        return RequestDecision.AWAITING_CONSENT
    return decision


def _decide_lookup(
    info: CedulaInfo | RowState | None, cedula: str, *, force: bool, now: datetime.datetime
) -> RequestDecision:
    # A new number always restarts: whatever runs or ran was about the old one.
    if info is None or force or info.cedula != cedula:
        return RequestDecision.QUEUED
    allowed_at = retry_allowed_at(info)
    if allowed_at is None:
        return RequestDecision.IN_PROGRESS
    if now < allowed_at:
        return RequestDecision.COOLDOWN
    return RequestDecision.QUEUED


def request_validation(user: Any, *, force: bool = False, using: str | None = None) -> CedulaInfo | None:
    """Ask for ``user``'s cédula to be validated; the first attempt is queued once the transaction commits.

    Creates the user's row, or resets an existing one to PENDING. Without ``force`` it does
    nothing (and returns the row as it is) while a validation is under way, or before
    :func:`retry_allowed_at`: ``CEDULA_REFRESH_COOLDOWN`` seconds after the last request, or,
    after a final failure, the first retry delay after it ended. ``force`` restarts it
    regardless; a lookup still running then has its result discarded. A number different from
    the row's always restarts it.

    Returns ``None`` for a user without a cédula. A malformed number gets an INVALID row and no
    job, so it never reaches the network.

    Under ``CEDULA_PRIVACY["REQUIRE_CONSENT"]``, a holder without an authorization in force
    (:func:`lookup_authorized`) gets no job: a new number's row is written AWAITING_CONSENT (queued
    by :func:`record_consent`), and a row of the same number is left as it is.
    """
    return request_validation_decision(user, force=force, using=using)[0]


def request_validation_decision(
    user: Any, *, force: bool = False, using: str | None = None
) -> tuple[CedulaInfo | None, RequestDecision]:
    """:func:`request_validation`, also saying what it did."""
    value = user_cedula(user)
    if value is None or value == "":
        return None, RequestDecision.NO_CEDULA
    using = using or router.db_for_write(CedulaInfo, instance=user)
    now = timezone.now()
    try:
        cedula = normalize_cedula(value)
    except InvalidCedulaError as exc:
        logger.info("User %s has a malformed cédula; not validated: %s", user.pk, exc)
        marked, _ = CedulaInfo.objects.using(using).update_or_create(
            user_id=user.pk,
            defaults={
                **cleared_fields(now),
                "cedula": "",
                "status": CedulaStatus.INVALID,
                "error_message": str(exc),
            },
        )
        return marked, RequestDecision.INVALID
    with transaction.atomic(using=using):
        info: CedulaInfo | None = (
            CedulaInfo.objects.using(using).select_for_update().filter(user=user).first()
        )
        authorized = lookup_authorized(user.pk, using=using)
        decision = _decide(info, cedula, force=force, now=now, authorized=authorized)
        if decision is RequestDecision.AWAITING_CONSENT and info is not None and info.cedula == cedula:
            # The same number: its row (and any answer it holds) stays as it is; a job queued
            # earlier holds it when it runs (job.py), without a lookup.
            return info, decision
        if decision not in (RequestDecision.QUEUED, RequestDecision.AWAITING_CONSENT):
            return info, decision
        fields = {**cleared_fields(now), "cedula": cedula}
        if decision is RequestDecision.AWAITING_CONSENT:
            fields["status"] = CedulaStatus.AWAITING_CONSENT
        if info is None:
            # By id, not instance: ``user=user`` would cache each on the other (a reference
            # cycle), and a batch of thousands of requests would wait for the cyclic GC to free them.
            info = CedulaInfo.objects.using(using).create(user_id=user.pk, **fields)
        else:
            for name, field_value in fields.items():
                setattr(info, name, field_value)
            info.save(using=using)
        if decision is RequestDecision.QUEUED:
            enqueue_validation_on_commit(user.pk, 1, using=using)
    return info, decision


#: Users decided per transaction by :func:`request_validation_batches` (and so by
#: :func:`request_validations` and the admin's *Validate again*).
BATCH_SIZE = 500


def request_validations(users: Iterable[Any], *, force: bool = False) -> int:
    """:func:`request_validation` for many users; returns how many validations were queued or restarted.

    ``users`` is consumed once, :data:`BATCH_SIZE` at a time, each batch through
    :func:`request_validation_batch`; pass an iterator (or chunks) rather than a whole queryset to
    keep memory flat over many users.
    """
    return request_validation_batches(users, force=force)[RequestDecision.QUEUED]


def request_validation_batches(
    users: Iterable[Any], *, force: bool = False, batch_size: int = BATCH_SIZE, using: str | None = None
) -> collections.Counter[RequestDecision]:
    """:func:`request_validation_batch` over ``users``, ``batch_size`` at a time (one transaction
    each); returns the decisions counted over all of them."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    counts: collections.Counter[RequestDecision] = collections.Counter()
    remaining = iter(users)
    while batch := list(itertools.islice(remaining, batch_size)):
        counts.update(request_validation_batch(batch, force=force, using=using))
    return counts


def request_validation_batch(
    users: Sequence[Any], *, force: bool = False, using: str | None = None
) -> collections.Counter[RequestDecision]:
    """:func:`request_validation` for a batch of users at once, in one transaction; returns the
    decisions counted.

    The same decisions as one request at a time, made for the whole batch from one locking read
    of its rows; the rows to create are inserted together, those to restart with one ``UPDATE``
    (or one per user whose number changed), and the batch's jobs are handed to the queue together
    once the transaction commits. A malformed number takes the one-user path (it is marked INVALID).
    Rows that change while the batch is decided wait on the lock, as with :func:`request_validation`.
    """
    counts: collections.Counter[RequestDecision] = collections.Counter()
    if not users:
        return counts
    using = using or router.db_for_write(CedulaInfo, instance=users[0])
    wanted: dict[Any, str] = {}
    malformed = []
    for user in users:
        value = user_cedula(user)
        if value is None or value == "":
            counts[RequestDecision.NO_CEDULA] += 1
            continue
        try:
            wanted[user.pk] = normalize_cedula(value)
        except InvalidCedulaError:
            malformed.append(user)
    now = timezone.now()
    with transaction.atomic(using=using):
        authorized = authorized_user_ids(list(wanted), using=using)
        rows = {
            user_id: (pk, RowState(cedula, status, requested_at, updated_at))
            for pk, user_id, cedula, status, requested_at, updated_at in CedulaInfo.objects.using(using)
            .select_for_update()
            .filter(user_id__in=list(wanted))
            .values_list("pk", "user_id", "cedula", "status", "requested_at", "updated_at")
        }
        fields = {**cleared_fields(now), "updated_at": now}
        # What a row gets when its holder's authorization is required and not in force: the
        # number waits for it (AWAITING_CONSENT), nothing is queued.
        waiting_fields = {**fields, "status": CedulaStatus.AWAITING_CONSENT}
        new: list[CedulaInfo] = []
        restart_same: list[Any] = []
        restart_changed: list[tuple[Any, str, dict[str, Any]]] = []
        queued: list[Any] = []
        for user_id, cedula in wanted.items():
            pk, state = rows.get(user_id, (None, None))
            allowed = authorized is None or user_id in authorized
            decision = _decide(state, cedula, force=force, now=now, authorized=allowed)
            counts[decision] += 1
            if decision is RequestDecision.QUEUED:
                queued.append(user_id)
                row_fields = fields
            elif decision is RequestDecision.AWAITING_CONSENT:
                row_fields = waiting_fields
            else:
                continue
            if state is None:
                new.append(CedulaInfo(user_id=user_id, cedula=cedula, **row_fields))
            elif state.cedula != cedula:
                restart_changed.append((pk, cedula, row_fields))
            elif decision is RequestDecision.QUEUED:
                restart_same.append(pk)
            # else: the same number waiting for an authorization keeps its row as it is
        table = CedulaInfo.objects.using(using)
        table.bulk_create(new)
        if restart_same:
            table.filter(pk__in=restart_same).update(**fields)
        for pk, cedula, row_fields in restart_changed:
            table.filter(pk=pk).update(cedula=cedula, **row_fields)
        enqueue_validations_on_commit(queued, using=using)
    for user in malformed:
        counts[request_validation_decision(user, force=force, using=using)[1]] += 1
    return counts


def start_validation(user: Any, *, using: str | None = None) -> None:
    """What the receivers do for a user who has no row yet: one INSERT, and the job queued on commit.

    A user created a moment ago cannot have a row, so unlike :func:`request_validation` there is
    nothing to read or lock first: a registration pays for a single statement. (On SQLite this also
    matters for correctness: a read followed by a write in one deferred transaction is refused at
    once, without waiting, while a worker writes.) Should a row exist after all (host code made one
    in the same transaction), the insert is skipped rather than failing the registration; the job
    then validates that row if it is waiting, and leaves it alone otherwise. Malformed numbers take
    the general path, which marks them INVALID.

    When the holder's authorization is required (``CEDULA_PRIVACY["REQUIRE_CONSENT"]``) and none is
    in force, the row is inserted AWAITING_CONSENT and nothing is queued (one more indexed read).
    """
    value = user_cedula(user)
    if value is None or value == "":
        return
    try:
        cedula = normalize_cedula(value)
    except InvalidCedulaError:
        request_validation(user, using=using)
        return
    using = using or router.db_for_write(CedulaInfo, instance=user)
    fields = {**cleared_fields(timezone.now()), "cedula": cedula}
    authorized = lookup_authorized(user.pk, using=using)
    if not authorized:
        # No lookup without the holder's authorization: the row waits for it, and
        # record_consent() queues it.
        fields["status"] = CedulaStatus.AWAITING_CONSENT
    # By id, not instance: see request_validation_decision.
    row = CedulaInfo(user_id=user.pk, **fields)
    CedulaInfo.objects.using(using).bulk_create([row], ignore_conflicts=True)
    if authorized:
        enqueue_validation_on_commit(user.pk, 1, using=using)


# -- the holder's authorization (Ley 1581 de 2012, art. 9; docs/privacy.rst)


def lookup_authorized(user_id: Any, *, using: str | None = None) -> bool:
    """Whether ``user_id``'s cédula may be looked up: the holder's authorization is not required
    (``CEDULA_PRIVACY["REQUIRE_CONSENT"]`` off), or one is in force (:class:`~.models.CedulaConsent`)."""
    if not app_settings.REQUIRE_CONSENT:
        return True
    return CedulaConsent.objects.using(using or router.db_for_write(CedulaConsent)).holds_for(user_id)


def authorized_user_ids(user_ids: Sequence[Any], *, using: str | None = None) -> set[Any] | None:
    """Which of ``user_ids`` may be looked up (one query); ``None`` when every one may (the
    authorization is not required)."""
    if not app_settings.REQUIRE_CONSENT:
        return None
    if not user_ids:
        return set()
    rows = CedulaConsent.objects.using(using or router.db_for_write(CedulaConsent)).in_force()
    return set(rows.filter(user_id__in=list(user_ids)).values_list("user_id", flat=True))


def _consent(
    user: Any,
    *,
    version: str | None,
    text: str,
    method: str,
    recorded_by: Any,
    now: datetime.datetime,
) -> CedulaConsent:
    method = CedulaConsent.Method(method)  # ValueError for a method that is not one
    version = app_settings.PRIVACY["CONSENT_VERSION"] if version is None else version
    return CedulaConsent(
        user_id=user.pk,
        user_ref=str(user.pk),
        version=str(version),
        text=str(text),
        method=method,
        recorded_by_id=getattr(recorded_by, "pk", None),
        granted_at=now,
    )


def record_consent(
    user: Any,
    *,
    version: str | None = None,
    text: str = "",
    method: str = CedulaConsent.Method.API,
    recorded_by: Any = None,
    using: str | None = None,
) -> CedulaConsent:
    """Record ``user``'s authorization to look their cédula up, and queue what waited for it.

    The record is the proof the law asks the site to keep: when (now), which text (``version``,
    ``CEDULA_PRIVACY["CONSENT_VERSION"]`` by default, and ``text``, the words shown), how
    (``method``: ``form``, ``admin``, ``import`` or ``api``) and by whom (``recorded_by``: the staff
    member or operator who recorded it, ``None`` for the holder themself). In the same transaction,
    the user's row waiting as AWAITING_CONSENT is reset to PENDING, from the user's current number,
    and its first attempt is queued when the transaction commits; a user with a cédula and no row
    yet gets one, as a new user would (if ``CEDULA_AUTO_VALIDATE`` is on). A row in any other state
    is left alone (ask for a new validation with :func:`request_validation`).
    """
    using = using or router.db_for_write(CedulaConsent, instance=user)
    with transaction.atomic(using=using):
        consent = _consent(
            user, version=version, text=text, method=method, recorded_by=recorded_by, now=timezone.now()
        )
        consent.save(using=using)
        status = (
            CedulaInfo.objects.using(using).filter(user_id=user.pk).values_list("status", flat=True).first()
        )
        if status == CedulaStatus.AWAITING_CONSENT:
            request_validation(user, force=True, using=using)
        elif status is None and app_settings.AUTO_VALIDATE:
            start_validation(user, using=using)
    logger.info("Authorization recorded for user %s (version %s, %s)", user.pk, consent.version, method)
    return consent


def record_consents(
    users: Iterable[Any],
    *,
    version: str | None = None,
    text: str = "",
    method: str = CedulaConsent.Method.IMPORT,
    recorded_by: Any = None,
    batch_size: int = BATCH_SIZE,
    using: str | None = None,
) -> int:
    """:func:`record_consent` for many users whose authorization the site collected elsewhere (on
    paper, in its terms before this package recorded them): what a site upgrading to
    ``CEDULA_PRIVACY["REQUIRE_CONSENT"]`` runs over the users it holds one for. Returns how many
    were recorded.

    ``batch_size`` users at a time, one transaction each: the authorizations inserted together,
    and the rows of those users waiting as AWAITING_CONSENT reset and queued together when the
    batch commits (:func:`request_validation_batch`). Unlike :func:`record_consent`, users
    without a row get none: an import over an existing user base must not start lookups nobody
    asked for (``cedula_revalidate`` does that, when wanted).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    recorded = 0
    remaining = iter(users)
    while batch := list(itertools.islice(remaining, batch_size)):
        db = using or router.db_for_write(CedulaConsent, instance=batch[0])
        now = timezone.now()
        with transaction.atomic(using=db):
            consents = [
                _consent(user, version=version, text=text, method=method, recorded_by=recorded_by, now=now)
                for user in batch
            ]
            CedulaConsent.objects.using(db).bulk_create(consents)
            waiting = set(
                CedulaInfo.objects.using(db)
                .filter(user_id__in=[user.pk for user in batch], status=CedulaStatus.AWAITING_CONSENT)
                .values_list("user_id", flat=True)
            )
            if waiting:
                request_validation_batch([user for user in batch if user.pk in waiting], force=True, using=db)
        recorded += len(consents)
    logger.info("Authorizations recorded for %s users (%s)", recorded, method)
    return recorded


def withdraw_consent(user: Any, *, using: str | None = None) -> int:
    """The holder withdraws their authorization: every one in force gets ``withdrawn_at`` (the
    rows stay, as proof of what was authorized until when), and the user's row, if it waits for a
    lookup (PENDING or RETRYING), waits as AWAITING_CONSENT instead: no further lookup. A lookup
    already running (PROCESSING) cannot be called back; its answer is stored. Returns how many
    authorizations were withdrawn."""
    using = using or router.db_for_write(CedulaConsent, instance=user)
    with transaction.atomic(using=using):
        withdrawn = (
            CedulaConsent.objects.using(using)
            .in_force()
            .filter(user_id=user.pk)
            .update(withdrawn_at=timezone.now())
        )
        CedulaInfo.objects.using(using).hold_for_consent(user.pk)
    logger.info("Authorization withdrawn for user %s (%s in force)", user.pk, withdrawn)
    return withdrawn


#: The receivers' ``dispatch_uid``s.
DISPATCH_UID = "django_cedula.user_created"
CHANGE_DISPATCH_UID = "django_cedula.user_cedula_changed"


def user_created(
    sender: type[Any], instance: Any, created: bool, raw: bool, using: str, **kwargs: Any
) -> None:
    """Create a PENDING ``CedulaInfo`` for a new user and queue its validation after commit.

    Skips updates, fixture loading (``raw``), users without a cédula and projects that
    turned ``CEDULA_AUTO_VALIDATE`` off.
    """
    if not created or raw or not app_settings.AUTO_VALIDATE:
        return
    start_validation(instance, using=using)


def user_cedula_changed(
    sender: type[Any],
    instance: Any,
    created: bool,
    raw: bool,
    using: str,
    update_fields: frozenset[str] | None = None,
    **kwargs: Any,
) -> None:
    """Validate again (``force``) when a saved user's cédula differs from the one on their row.

    The saved value, normalised, is compared with ``CedulaInfo.cedula``: the row says what was
    actually validated, so the comparison holds however the instance was loaded or how many
    times it was saved, and it works when ``CEDULA_USER_FIELD`` names a property. (Remembering
    the loaded value in ``post_init`` would instead cost work on every user loaded anywhere,
    and go stale after the first save.) The price is one indexed query per user save, skipped
    when ``update_fields`` leaves the field out, as ``update_last_login`` does on every login.

    A change of format only (``1.020.304.050`` for ``1020304050``) is no change. A cleared
    cédula leaves the row as it is. A user without a row who now has a cédula (registered
    without one) is validated as a new user would be, if ``CEDULA_AUTO_VALIDATE`` is on.
    The new job is queued when the user's transaction commits; a lookup of the old number
    still running has its result discarded.
    """
    if created or raw or not app_settings.REVALIDATE_ON_CHANGE:
        return
    field = app_settings.USER_FIELD
    if update_fields is not None and field not in update_fields and _is_concrete_field(sender, field):
        return  # the field was not written (update_last_login, or an instance loaded without it)
    value = user_cedula(instance)
    row = CedulaInfo.objects.using(using).filter(user_id=instance.pk).values_list("cedula", flat=True).first()
    if row is None:
        if value not in (None, "") and app_settings.AUTO_VALIDATE:
            start_validation(instance, using=using)
        return
    if value is None or value == "":
        return
    try:
        cedula = normalize_cedula(value)
    except InvalidCedulaError:
        cedula = ""  # what an INVALID row stores: malformed before, malformed now, nothing to do
    if cedula == row:
        return
    logger.info("User %s changed their cédula; validating it again", instance.pk)
    request_validation(instance, force=True, using=using)


def _is_concrete_field(model: type[Any], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


# -- source health: tell the operators, queue the rows that waited


#: Waiting rows queued per call to the backend when a source comes back.
QUEUE_CHUNK = 500


def queue_waiting_rows(sender: Any = None, source: str = "", **kwargs: Any) -> int:
    """Queue every row that waits for a source out of service (``error_code`` ``out_of_service``),
    oldest request first, now that ``source`` is back: the throttle lines them up at the cluster's
    pace. Each row is due now (``next_attempt_at``), so that a job the broker loses is the sweeper's
    after ``CEDULA_SWEEP["PENDING_AFTER"]``, not after the outage's back-off. Receiver of
    :data:`~django_cedula.signals.source_back_in_service`; returns how many were queued."""
    if source and source not in source_names():
        return 0  # the pre-check's health: no row waits for it
    rows = CedulaInfo.objects.using(router.db_for_write(CedulaInfo)).waiting_for_sources()
    waiting = list(rows.values_list("pk", "user_id", "retry_count"))
    queued = 0
    for start in range(0, len(waiting), QUEUE_CHUNK):
        chunk = waiting[start : start + QUEUE_CHUNK]
        rows.filter(pk__in=[pk for pk, _, _ in chunk]).update(next_attempt_at=timezone.now())
        jobs = [ValidationJob(user_id=user_id, attempt=retries + 1) for _, user_id, retries in chunk]
        try:
            get_backend().enqueue_many(jobs)
        except Exception as exc:
            logger.error(
                "Source %s is back, but %s of its waiting rows could not be queued (%s: %s): the "
                "sweeper queues them",
                source,
                len(waiting) - queued,
                type(exc).__name__,
                exc,
            )
            return queued
        queued += len(jobs)
    if queued:
        logger.warning("Source %s is back in service: %s waiting rows queued", source, queued)
    return queued


def mail_admins_about_source(
    sender: Any = None,
    source: str = "",
    state: Any = None,
    by: str | None = None,
    signal: Any = None,
    **kwargs: Any,
) -> None:
    """Mail ``ADMINS`` that ``source`` went out of service (``by`` is ``None``) or came back
    (``CEDULA_SOURCE_HEALTH["MAIL_ADMINS"]``). Receiver of both health signals; a mail server that
    fails is logged, never raised into the lookup that saw the change."""
    if not app_settings.SOURCE_HEALTH["MAIL_ADMINS"] or state is None:
        return
    waiting = CedulaInfo.objects.using(router.db_for_write(CedulaInfo)).waiting_for_sources().count()
    since = since_text(state.since)
    if signal is source_out_of_service:
        subject = _("Cédula source %(source)s is out of service") % {"source": source}
        body = _(
            "The source %(source)s has been out of service since %(since)s: %(reason)s, %(count)s in a "
            "row across the cluster. The last one: %(detail)s\n\n"
            "No lookup is sent to it and no captcha is solved for it. %(waiting)s rows wait for it; "
            "none of them pays an attempt or ends because of this.\n\n"
            "What to do: the Registraduría has probably changed its pages. See what it answered:\n"
            "    manage.py cedula_sources %(source)s --sample\n"
            "Upgrade django-cedula once a release reads the new pages, then put the source back at once:\n"
            "    manage.py cedula_sources --resume %(source)s\n"
            "Meanwhile its form is probed for free every %(probe)s s, and one paid trial lookup runs after "
            "%(trial)s s (doubling after each trial that fails, up to %(trial_max)s s)."
        ) % {
            "source": source,
            "since": since,
            "reason": state.reason_text,
            "count": app_settings.SOURCE_HEALTH["OUT_AFTER"],
            "detail": state.detail or "-",
            "waiting": waiting,
            "probe": f"{float(app_settings.SOURCE_HEALTH['PROBE_EVERY']):g}",
            "trial": f"{float(app_settings.SOURCE_HEALTH['TRIAL_AFTER']):g}",
            "trial_max": f"{float(app_settings.SOURCE_HEALTH['TRIAL_MAX']):g}",
        }
    else:
        subject = _("Cédula source %(source)s is back in service") % {"source": source}
        body = _(
            "The source %(source)s answers again (%(by)s); it had been out of service since %(since)s "
            "(%(reason)s). The %(waiting)s rows that waited for it are queued now, at the cluster's pace."
        ) % {"source": source, "by": by, "since": since, "reason": state.reason_text, "waiting": waiting}
    try:
        mail_admins(subject, body)
    except Exception as exc:
        logger.error("Could not mail the admins about source %s (%s: %s)", source, type(exc).__name__, exc)


def connect_receivers() -> None:
    """Bind :func:`user_created` and :func:`user_cedula_changed` to ``AUTH_USER_MODEL``'s
    ``post_save``, and the operators' receivers to the source health signals."""
    post_save.connect(user_created, sender=settings.AUTH_USER_MODEL, dispatch_uid=DISPATCH_UID)
    post_save.connect(user_cedula_changed, sender=settings.AUTH_USER_MODEL, dispatch_uid=CHANGE_DISPATCH_UID)
    # The mail goes first, so that it counts the rows still waiting before they are queued.
    source_out_of_service.connect(mail_admins_about_source, dispatch_uid="django_cedula.mail_out")
    source_back_in_service.connect(mail_admins_about_source, dispatch_uid="django_cedula.mail_back")
    source_back_in_service.connect(queue_waiting_rows, dispatch_uid="django_cedula.queue_waiting")
