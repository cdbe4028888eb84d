"""A claimed attempt's row: claiming it, checking it is still ours, and storing its outcome safely.

The job (:mod:`django_cedula.tasks`) decides what to do; this module does the database side of it,
so that whatever the lookup met, a claimed attempt ends counted: values cut to their columns, a
store retried on a fresh connection, a minimal error when nothing else can be stored.
"""

from __future__ import annotations

import logging
import traceback

from django.db import DatabaseError, connections, router, transaction
from django.db.models import QuerySet
from django.utils import timezone

from .backends import get_backend
from .models import CedulaInfo, CedulaStatus
from .outcomes import ERROR_MESSAGE_MAX_LENGTH, fit_to_columns, storable
from .privacy import redact
from .queueing import enqueue_validation
from .results import ScrapeResult
from .signals import retry_scheduled, send_now, send_on_commit, validation_finished

# The job's logger: these lines are the job's, and operators filter on it.
logger = logging.getLogger("django_cedula.tasks")

Status = CedulaStatus

#: States a job may claim a row from: queued for its first attempt, or waiting for a retry.
CLAIMABLE_STATUSES = (Status.PENDING, Status.RETRYING)
#: ``error_code`` of a row whose outcome could not be stored, even on a fresh connection.
STORE_ERROR = "store_error"


def describe(exc: BaseException, *, with_traceback: bool = False, cedula: str | None = None) -> str:
    """``exc`` as text fit to log or store: cédulas masked (``cedula`` too, whatever its length:
    the generic masking only knows numbers of six digits or more), URL secrets (user-info, query
    strings) removed, cut to the stored error's length."""
    if with_traceback:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return redact(text, cedula)
    return storable(redact(f"{type(exc).__name__}: {exc}", cedula))[:ERROR_MESSAGE_MAX_LENGTH]


def claim(user_id: int | str, attempt: int) -> CedulaInfo | None:
    """Mark the row PROCESSING for ``attempt``, or return ``None`` if another delivery has it.

    One conditional UPDATE does it, so two workers racing for the same attempt cannot
    both win: the database serialises them and the loser's WHERE no longer matches.
    """
    # Every query here goes to the database the claim wrote to: a router that sends reads to a
    # replica would otherwise not see the row just claimed (or a just-registered one at all).
    rows = CedulaInfo.objects.using(router.db_for_write(CedulaInfo))
    claimed = rows.filter(user_id=user_id, status__in=CLAIMABLE_STATUSES, retry_count=attempt - 1).update(
        status=Status.PROCESSING, next_attempt_at=None, updated_at=timezone.now()
    )
    info = rows.filter(user_id=user_id).first() if claimed else None
    if info is not None:
        return info
    current = rows.filter(user_id=user_id).values_list("status", "retry_count").first()
    if current is None:
        logger.info("Cédula validation for user %s skipped: the user or the row is gone", user_id)
    else:
        logger.info(
            "Cédula validation for user %s, attempt %s, skipped: already taken (status %s, %s retries)",
            user_id,
            attempt,
            current[0],
            current[1],
        )
    return None


def store_safely(
    info: CedulaInfo,
    attempt: int,
    fields: dict[str, object],
    *,
    retry_delay: float | None,
    result: ScrapeResult | None,
) -> str | None:
    """:func:`_store`, cut to the columns, and robust to the database failing at that moment.

    Returns the status stored, or ``None`` when the row changed under us and nothing was stored.

    A lookup costs a request to the source and a paid captcha: a connection lost while it ran
    must not throw its answer away. A ``DatabaseError`` is retried once on a fresh connection;
    if that fails too (the answer itself cannot be stored), a minimal ERROR outcome is written
    instead. If even that fails, the error propagates and the row stays PROCESSING, which the
    sweeper recovers as a spent attempt.
    """
    fields = fit_to_columns(fields)
    using = router.db_for_write(CedulaInfo, instance=info)
    error = ""
    # The full outcome twice (the second time on a fresh connection), then the minimal one.
    for level, then in (
        (logging.WARNING, "retrying on a fresh connection"),
        (logging.ERROR, "storing a minimal error instead"),
    ):
        try:
            return stored_status(store(info, attempt, fields, retry_delay=retry_delay, result=result), fields)
        except DatabaseError as exc:
            error = describe(exc)
            logger.log(
                level,
                "Storing the outcome for user %s failed (%s); %s",
                info.user_id,
                error,
                then,
            )
        reconnect(using)
    minimal: dict[str, object] = {
        "status": Status.ERROR,
        "error_code": STORE_ERROR,
        "error_message": f"the outcome could not be stored: {error}",
        "raw_response": "",
        "next_attempt_at": None,
    }
    return stored_status(
        store(info, attempt, fit_to_columns(minimal), retry_delay=None, result=None), minimal
    )


def stored_status(stored: bool, fields: dict[str, object]) -> str | None:
    return str(fields["status"]) if stored else None


def reconnect(using: str) -> None:
    """Drop the connection so that the next query opens a fresh one (not inside a transaction,
    which would lose the caller's work)."""
    connection = connections[using]
    if not connection.in_atomic_block:
        connection.close()


def store(
    info: CedulaInfo,
    attempt: int,
    fields: dict[str, object],
    *,
    retry_delay: float | None,
    result: ScrapeResult | None,
) -> bool:
    """Write the outcome if the row is still ours; once that commits, send the package's signal
    and queue the retry.

    Returns ``False`` when the row changed under us (the user was deleted or the
    validation restarted while the lookup ran); the result is then discarded and no signal sent.
    """
    using = router.db_for_write(CedulaInfo, instance=info)
    now = timezone.now()
    with transaction.atomic(using=using):
        updated = still_ours(info, attempt, using).update(**fields, updated_at=now)
        if updated:
            # Keep the instance in step with the row, so that receivers see what was stored
            # without another query.
            for name, value in fields.items():
                setattr(info, name, value)
            info.updated_at = now
            # A final outcome's signal goes out once this commits; a retry is handed to the queue
            # then, and its signal sent once the queue took it (see queue_retry_on_commit).
            if retry_delay is None:
                send_on_commit(validation_finished, info, using=using, status=fields["status"], result=result)
            else:
                queue_retry_on_commit(
                    info, attempt + 1, delay=retry_delay, error_code=str(fields["error_code"]), using=using
                )
    if not updated:
        logger.info(
            "Cédula validation for user %s: the row changed during the lookup; result discarded", info.user_id
        )
    return bool(updated)


def still_ours(info: CedulaInfo, attempt: int, using: str) -> QuerySet[CedulaInfo]:
    """The claimed row, if this attempt still holds it: PROCESSING for this attempt, and not
    restarted since the claim (a restart sets a new ``requested_at``; the user may be gone)."""
    return CedulaInfo.objects.using(using).filter(
        pk=info.pk, status=Status.PROCESSING, retry_count=attempt - 1, requested_at=info.requested_at
    )


def queue_retry_on_commit(
    info: CedulaInfo, attempt: int, *, delay: float, error_code: str, using: str
) -> None:
    """Once the transaction commits, hand attempt ``attempt`` to the queue and, if the queue took
    it, send ``retry_scheduled``.

    A broker that refuses the job leaves the row RETRYING for the sweeper and sends no signal.
    The inline backend runs the retry inside ``enqueue``: there the signal goes first, so that a
    receiver sees ``retry_scheduled`` before that retry's own signals (it never refuses a job).
    """

    def send() -> None:
        send_now(retry_scheduled, info, attempt=attempt, delay=delay, error_code=error_code)

    def queue() -> None:
        if get_backend().runs_jobs_inline:
            send()
            enqueue_validation(info.user_id, attempt, delay=delay)
        elif enqueue_validation(info.user_id, attempt, delay=delay):
            send()

    transaction.on_commit(queue, using=using)
