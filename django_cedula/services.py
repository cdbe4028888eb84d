"""The package's public operations on users, used by every entry point (receiver, admin, commands)."""

from __future__ import annotations

import collections
import datetime
import enum
import itertools
import logging
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from django.db import router, transaction
from django.utils import timezone

from .conf import app_settings
from .exceptions import InvalidCedulaError
from .models import CedulaInfo, CedulaStatus
from .numbers import normalize_cedula
from .queueing import enqueue_validation_on_commit, enqueue_validations_on_commit

logger = logging.getLogger(__name__)

#: States in which a validation is already under way.
IN_PROGRESS = (CedulaStatus.PENDING, CedulaStatus.PROCESSING, CedulaStatus.RETRYING)

_CLEARED: dict[str, Any] = {
    "departamento": "",
    "municipio": "",
    "puesto": "",
    "direccion": "",
    "mesa": "",
    "novedad": "",
    "resolucion": "",
    "fecha_novedad": "",
    "fetched_at": None,
    "error_code": "",
    "error_message": "",
    "raw_response": "",
    "retry_count": 0,
    "next_attempt_at": None,
}


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
    #: Nothing changed: the same number was requested less than ``CEDULA_REFRESH_COOLDOWN`` ago.
    COOLDOWN = "cooldown"
    #: Nothing changed: the user has no cédula.
    NO_CEDULA = "no_cedula"


class RowState(NamedTuple):
    """The parts of a user's row that decide what a request does (a ``CedulaInfo`` has them too)."""

    cedula: str
    status: str
    requested_at: datetime.datetime | None


def plan_validation(
    user: Any,
    info: CedulaInfo | RowState | None,
    *,
    force: bool = False,
    now: datetime.datetime | None = None,
) -> RequestDecision:
    """What :func:`request_validation` would do for ``user`` whose row is ``info``; no database access.

    Used for dry runs; :func:`request_validation` makes the same decision on the row it locks.
    """
    return plan_for_value(user_cedula(user), info, force=force, now=now)


def plan_for_value(
    value: object,
    info: CedulaInfo | RowState | None,
    *,
    force: bool = False,
    now: datetime.datetime | None = None,
) -> RequestDecision:
    """:func:`plan_validation` from the raw value of the user's cédula field, for callers that
    read users as plain values rather than model instances."""
    if value is None or value == "":
        return RequestDecision.NO_CEDULA
    try:
        cedula = normalize_cedula(value)
    except InvalidCedulaError:
        return RequestDecision.INVALID
    return _decide(info, cedula, force=force, now=now or timezone.now())


def _decide(
    info: CedulaInfo | RowState | None, cedula: str, *, force: bool, now: datetime.datetime
) -> RequestDecision:
    # A new number always restarts: whatever runs or ran was about the old one.
    if info is None or force or info.cedula != cedula:
        return RequestDecision.QUEUED
    if info.status in IN_PROGRESS:
        return RequestDecision.IN_PROGRESS
    cooldown = datetime.timedelta(seconds=app_settings.REFRESH_COOLDOWN)
    if info.requested_at is not None and now - info.requested_at < cooldown:
        return RequestDecision.COOLDOWN
    return RequestDecision.QUEUED


def request_validation(user: Any, *, force: bool = False, using: str | None = None) -> CedulaInfo | None:
    """Ask for ``user``'s cédula to be validated; the first attempt is queued once the transaction commits.

    Creates the user's row, or resets an existing one to PENDING. Without ``force`` it does
    nothing (and returns the row as it is) while a validation is under way, or when the last
    request was less than ``CEDULA_REFRESH_COOLDOWN`` seconds ago. ``force`` restarts it
    regardless; a lookup still running then has its result discarded. A number different from
    the row's always restarts it.

    Returns ``None`` for a user without a cédula. A malformed number gets an INVALID row and no
    job, so it never reaches the network.
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
            defaults={**_CLEARED, "cedula": "", "status": CedulaStatus.INVALID, "error_message": str(exc),
                      "requested_at": now},
        )  # fmt: skip
        return marked, RequestDecision.INVALID
    with transaction.atomic(using=using):
        info: CedulaInfo | None = (
            CedulaInfo.objects.using(using).select_for_update().filter(user=user).first()
        )
        decision = _decide(info, cedula, force=force, now=now)
        if decision is not RequestDecision.QUEUED:
            return info, decision
        fields = {**_CLEARED, "cedula": cedula, "status": CedulaStatus.PENDING, "requested_at": now}
        if info is None:
            # By id, not instance: ``user=user`` would cache each on the other (a reference
            # cycle), and a batch of thousands of requests would wait for the cyclic GC to free them.
            info = CedulaInfo.objects.using(using).create(user_id=user.pk, **fields)
        else:
            for name, field_value in fields.items():
                setattr(info, name, field_value)
            info.save(using=using)
        enqueue_validation_on_commit(user.pk, 1, using=using)
    return info, RequestDecision.QUEUED


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
        rows = {
            user_id: (pk, RowState(cedula, status, requested_at))
            for pk, user_id, cedula, status, requested_at in CedulaInfo.objects.using(using)
            .select_for_update()
            .filter(user_id__in=list(wanted))
            .values_list("pk", "user_id", "cedula", "status", "requested_at")
        }
        fields = {**_CLEARED, "status": CedulaStatus.PENDING, "requested_at": now, "updated_at": now}
        new: list[CedulaInfo] = []
        restart_same: list[Any] = []
        restart_changed: list[tuple[Any, str]] = []
        queued: list[Any] = []
        for user_id, cedula in wanted.items():
            pk, state = rows.get(user_id, (None, None))
            decision = _decide(state, cedula, force=force, now=now)
            counts[decision] += 1
            if decision is not RequestDecision.QUEUED:
                continue
            queued.append(user_id)
            if state is None:
                new.append(CedulaInfo(user_id=user_id, cedula=cedula, **fields))
            elif state.cedula == cedula:
                restart_same.append(pk)
            else:
                restart_changed.append((pk, cedula))
        table = CedulaInfo.objects.using(using)
        table.bulk_create(new)
        if restart_same:
            table.filter(pk__in=restart_same).update(**fields)
        for pk, cedula in restart_changed:
            table.filter(pk=pk).update(cedula=cedula, **fields)
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
    fields = {**_CLEARED, "cedula": cedula, "status": CedulaStatus.PENDING, "requested_at": timezone.now()}
    # By id, not instance: see request_validation_decision.
    row = CedulaInfo(user_id=user.pk, **fields)
    CedulaInfo.objects.using(using).bulk_create([row], ignore_conflicts=True)
    enqueue_validation_on_commit(user.pk, 1, using=using)
