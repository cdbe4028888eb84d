"""The validation job: ``django_cedula.tasks.validate_cedula(user_id, attempt=1)``.

Every task backend runs this function by its dotted path. Database work and browser
work never overlap: the row is claimed, the lookup runs with no transaction open and
no ORM call inside the scraper, then the outcome is stored.
"""

from __future__ import annotations

import datetime
import logging
import time
from typing import Any

from django.db import router, transaction
from django.db.models import QuerySet
from django.dispatch import Signal
from django.utils import timezone

from . import throttle
from .backends import get_backend
from .conf import app_settings
from .exceptions import InvalidCedulaError
from .models import CedulaInfo, CedulaStatus
from .numbers import normalize_cedula
from .outcomes import bounded_raw_response, decide
from .queueing import enqueue_validation_on_commit
from .results import ScrapeResult, ScrapeStatus
from .scrapers import get_scraper
from .signals import retry_scheduled, validation_finished

logger = logging.getLogger(__name__)

Status = CedulaStatus

#: States a job may claim a row from: queued for its first attempt, or waiting for a retry.
CLAIMABLE_STATUSES = (Status.PENDING, Status.RETRYING)


def validate_cedula(user_id: int | str, attempt: int = 1) -> str | None:
    """Run attempt ``attempt`` of the validation of ``user_id``'s cédula.

    Returns the row's new status, or ``None`` when there was nothing to do: the user or
    row is gone, or this attempt was already taken (a duplicate delivery). A job that may not
    look up yet (the cluster's rate limit, or the pause after a block) puts its row back, queues
    itself again for later and returns the status it left the row in.
    """
    info = _claim(user_id, attempt)
    if info is None:
        return None
    try:
        cedula = normalize_cedula(info.cedula)
    except InvalidCedulaError as exc:
        # Never reaches the network: mark it and stop.
        fields: dict[str, object] = {"status": Status.INVALID, "error_message": str(exc)}
        _store(info, attempt, fields, retry_delay=None, result=None)
        return Status.INVALID
    deferred_to = _wait_for_turn(info, attempt)
    if deferred_to is not None:
        return deferred_to
    result = _look_up(cedula, user_id)
    if result.status is ScrapeStatus.BLOCKED:
        _report_block(user_id)
    raw = bounded_raw_response(
        result.raw_html,
        store=app_settings.STORE_RAW_RESPONSE,
        max_length=app_settings.RAW_RESPONSE_MAX_LENGTH,
    )
    outcome = decide(
        result, attempt=attempt, retry_delays=app_settings.RETRY_DELAYS, now=timezone.now(), raw_response=raw
    )
    if not _store(info, attempt, outcome.fields, retry_delay=outcome.retry_delay, result=result):
        return None
    if outcome.retry_delay is not None:
        logger.info(
            "Cédula validation for user %s: attempt %s failed (%s); retry in %ss",
            user_id,
            attempt,
            result.status.value,
            outcome.retry_delay,
        )
    else:
        logger.info("Cédula validation for user %s finished as %s", user_id, outcome.status)
    return outcome.status


def _claim(user_id: int | str, attempt: int) -> CedulaInfo | None:
    """Mark the row PROCESSING for ``attempt``, or return ``None`` if another delivery has it.

    One conditional UPDATE does it, so two workers racing for the same attempt cannot
    both win: the database serialises them and the loser's WHERE no longer matches.
    """
    claimed = CedulaInfo.objects.filter(
        user_id=user_id, status__in=CLAIMABLE_STATUSES, retry_count=attempt - 1
    ).update(status=Status.PROCESSING, next_attempt_at=None, updated_at=timezone.now())
    info = CedulaInfo.objects.filter(user_id=user_id).first() if claimed else None
    if info is not None:
        return info
    current = CedulaInfo.objects.filter(user_id=user_id).values_list("status", "retry_count").first()
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


def _wait_for_turn(info: CedulaInfo, attempt: int) -> str | None:
    """Take a lookup slot from the cluster-wide throttle; ``None`` means go ahead.

    A slot a moment away is slept for (up to the backend's ``defer_granularity``: a deferred job
    could not come back sooner). Otherwise the job gives its row back, defers itself instead of
    holding a worker, and returns the status it left the row in.
    """
    backend = get_backend()
    if app_settings.RATE_LIMIT:
        # Launching a browser takes a second or two: do it before taking a slot, not inside one.
        prepare = getattr(get_scraper(), "prepare", None)
        if prepare is not None:
            prepare()
    try:
        permit = throttle.acquire(max_sleep=max(throttle.MAX_SLEEP, backend.defer_granularity))
    except Exception as exc:
        # Without the shared cache the cluster's pace is unknown: wait rather than risk a block.
        logger.error(
            "The throttle's cache (%r) failed: %s: %s", app_settings.CACHE_ALIAS, type(exc).__name__, exc
        )
        permit = throttle.Permit(granted=False, wait=throttle.CACHE_FAILURE_WAIT, reason="cache_error")
    if permit.granted:
        if permit.wait:
            time.sleep(permit.wait)
        return None
    return _defer(info, attempt, permit, queue=backend.supports_defer)


def _defer(info: CedulaInfo, attempt: int, permit: throttle.Permit, *, queue: bool) -> str | None:
    """Give the claimed row back, unchanged but for ``next_attempt_at``, and queue this attempt again.

    Not a retry: nothing was looked up, so ``retry_count`` stays and no signal is sent. A backend
    that cannot delay a job (inline) would run it again at once, in the caller's process; there the
    row is left for the sweeper (``cedula_sweep``) to queue once ``next_attempt_at`` has passed.
    """
    status = Status.PENDING if attempt == 1 else Status.RETRYING
    using = router.db_for_write(CedulaInfo, instance=info)
    now = timezone.now()
    with transaction.atomic(using=using):
        released = _still_ours(info, attempt, using).update(
            status=status,
            next_attempt_at=now + datetime.timedelta(seconds=permit.wait),
            updated_at=now,
        )
        if released and queue:
            enqueue_validation_on_commit(info.user_id, attempt, delay=permit.wait, using=using)
    if not released:
        return None
    logger.info(
        "Cédula validation for user %s, attempt %s, deferred %.1fs (%s)%s",
        info.user_id,
        attempt,
        permit.wait,
        permit.reason,
        "" if queue else "; the backend cannot delay jobs, so it waits for cedula_sweep",
    )
    return status


def _report_block(user_id: int | str) -> None:
    try:
        throttle.report_block()
    except Exception as exc:
        logger.error("Could not pause lookups after a block (%s: %s)", type(exc).__name__, exc)
        return
    if app_settings.BLOCK_COOLDOWN > 0:
        logger.warning(
            "The source blocked the lookup for user %s: every worker pauses lookups for %ss",
            user_id,
            app_settings.BLOCK_COOLDOWN,
        )


def _look_up(cedula: str, user_id: int | str) -> ScrapeResult:
    """Ask the configured scraper, turning anything it raises into a transient failure."""
    try:
        answer = get_scraper().scrape_cedula(cedula)
    except Exception as exc:
        logger.exception("The scraper raised for user %s", user_id)
        return ScrapeResult(status=ScrapeStatus.NETWORK_ERROR, error=f"{type(exc).__name__}: {exc}"[:500])
    try:
        return ScrapeResult.coerce(answer)
    except ValueError as exc:
        logger.error("The scraper gave an unusable result for user %s: %s", user_id, exc)
        return ScrapeResult(status=ScrapeStatus.PARSE_ERROR, error=str(exc)[:500])


def _store(
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
        updated = _still_ours(info, attempt, using).update(**fields, updated_at=now)
        if updated:
            # Keep the instance in step with the row, so that receivers see what was stored
            # without another query.
            for name, value in fields.items():
                setattr(info, name, value)
            info.updated_at = now
            # on_commit callbacks run in order: the signal goes out before the retry is handed
            # to the queue, so even with a backend that runs the retry at once (inline) a
            # receiver sees retry_scheduled before that retry's own signals.
            if retry_delay is None:
                _send_on_commit(validation_finished, info, using, status=fields["status"], result=result)
            else:
                _send_on_commit(
                    retry_scheduled,
                    info,
                    using,
                    attempt=attempt + 1,
                    delay=retry_delay,
                    error_code=fields["error_code"],
                )
                enqueue_validation_on_commit(info.user_id, attempt + 1, delay=retry_delay, using=using)
    if not updated:
        logger.info(
            "Cédula validation for user %s: the row changed during the lookup; result discarded", info.user_id
        )
    return bool(updated)


def _still_ours(info: CedulaInfo, attempt: int, using: str) -> QuerySet[CedulaInfo]:
    """The claimed row, if this attempt still holds it: PROCESSING for this attempt, and not
    restarted since the claim (a restart sets a new ``requested_at``; the user may be gone)."""
    return CedulaInfo.objects.using(using).filter(
        pk=info.pk, status=Status.PROCESSING, retry_count=attempt - 1, requested_at=info.requested_at
    )


def _send_on_commit(signal: Signal, info: CedulaInfo, using: str, **kwargs: Any) -> None:
    """Send ``signal`` for ``info`` once the current transaction commits (at once outside one).

    ``send_robust``: the row is already stored, so a failing receiver neither stops the other
    receivers nor fails the job. Django logs its traceback (logger ``django.dispatch``); one
    line here says which user it was about.
    """

    def send() -> None:
        for receiver, response in signal.send_robust(sender=CedulaInfo, info=info, **kwargs):
            if isinstance(response, Exception):
                logger.error(
                    "A receiver of a django_cedula signal (%s) failed for user %s: %s: %s",
                    getattr(receiver, "__qualname__", receiver),
                    info.user_id,
                    type(response).__name__,
                    response,
                )

    transaction.on_commit(send, using=using)
