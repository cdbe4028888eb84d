"""The validation job: ``django_cedula.tasks.validate_cedula(user_id, attempt=1)``.

Every task backend runs this function by its dotted path. Database work and browser
work never overlap: the row is claimed, the lookup runs with no transaction open and
no ORM call inside the scraper, then the outcome is stored.
"""

from __future__ import annotations

import datetime
import logging
import time

from django.core.exceptions import ImproperlyConfigured
from django.db import router, transaction
from django.utils import timezone

from . import throttle
from .attempts import CLAIMABLE_STATUSES, STORE_ERROR, claim, describe, still_ours, store_safely
from .backends import get_backend
from .captcha import spend
from .conf import app_settings
from .exceptions import ConfigurationError, InvalidCedulaError
from .models import CedulaInfo, CedulaStatus
from .numbers import normalize_cedula
from .outcomes import bounded_raw_response, decide
from .queueing import enqueue_validation_on_commit
from .results import ScrapeResult, ScrapeStatus
from .scrapers import get_scraper
from .scrapers.base import SourcesPaused, ask, paused_sources

__all__ = ["CLAIMABLE_STATUSES", "CONFIG_ERROR", "STORE_ERROR", "validate_cedula"]

logger = logging.getLogger(__name__)

Status = CedulaStatus

#: ``error_code`` of a row ended by a configuration error (a setting names a class that cannot be
#: built as configured): final at once, since every retry would fail the same way.
CONFIG_ERROR = "config_error"


def validate_cedula(user_id: int | str, attempt: int = 1) -> str | None:
    """Run attempt ``attempt`` of the validation of ``user_id``'s cédula.

    Returns the row's new status, or ``None`` when there was nothing to do: the user or
    row is gone, or this attempt was already taken (a duplicate delivery). A job that may not
    look up yet (the cluster's rate limit, or the pause after a block) puts its row back, queues
    itself again for later and returns the status it left the row in.
    """
    info = claim(user_id, attempt)
    if info is None:
        return None
    try:
        return _run_claimed(info, attempt)
    except (ConfigurationError, ImproperlyConfigured) as exc:
        return _end_with_config_error(info, attempt, exc)
    except Exception as exc:
        # Whatever failed after the claim (a scraper's prepare(), the throttle, a bug) must not
        # leave the row PROCESSING: the sweeper would queue it again without counting, for ever.
        # It is a transient failure like a scraper's: counted, retried, final when none is left.
        logger.error(
            "Cédula validation for user %s, attempt %s, failed after its claim:\n%s",
            user_id,
            attempt,
            describe(exc, with_traceback=True, cedula=info.cedula),
        )
        failure = ScrapeResult(status=ScrapeStatus.INTERNAL_ERROR, error=describe(exc, cedula=info.cedula))
        return _store_result(info, attempt, failure)


def _run_claimed(info: CedulaInfo, attempt: int) -> str | None:
    """Attempt ``attempt`` of a row this job has claimed: check the number, wait for a turn,
    look it up and store what it means."""
    try:
        cedula = normalize_cedula(info.cedula)
    except InvalidCedulaError as exc:
        # Never reaches the network: mark it and stop.
        fields: dict[str, object] = {"status": Status.INVALID, "error_message": str(exc)}
        return store_safely(info, attempt, fields, retry_delay=None, result=None)
    deferred_to = _wait_for_turn(info, attempt)
    if deferred_to is not None:
        return deferred_to
    scraper = get_scraper()
    try:
        result = ask(scraper, cedula)
    except SourcesPaused as paused:
        # Every source of the chain went into its pause since the turn was taken: nothing was asked.
        permit = throttle.Permit(granted=False, wait=paused.wait, reason="blocked")
        return _defer(info, attempt, permit, queue=get_backend().supports_defer)
    finally:
        spend.flush()  # what the lookup's captcha cost, written from this thread (no ORM in the scraper)
    return _store_result(info, attempt, result)


def _store_result(info: CedulaInfo, attempt: int, result: ScrapeResult) -> str | None:
    """Decide what ``result`` means for the row (final, retry, or out of retries) and store it."""
    raw = bounded_raw_response(
        result.raw_html,
        store=app_settings.STORE_RAW_RESPONSE,
        max_length=app_settings.RAW_RESPONSE_MAX_LENGTH,
    )
    outcome = decide(
        result, attempt=attempt, retry_delays=app_settings.RETRY_DELAYS, now=timezone.now(), raw_response=raw
    )
    stored = store_safely(info, attempt, outcome.fields, retry_delay=outcome.retry_delay, result=result)
    if stored != outcome.status:
        return stored  # discarded (None), or only a minimal error could be stored
    if outcome.retry_delay is not None:
        logger.info(
            "Cédula validation for user %s: attempt %s failed (%s); retry in %ss",
            info.user_id,
            attempt,
            result.status.value,
            outcome.retry_delay,
        )
    else:
        logger.info("Cédula validation for user %s finished as %s", info.user_id, outcome.status)
    return outcome.status


def _end_with_config_error(info: CedulaInfo, attempt: int, exc: Exception) -> str | None:
    """End the row as ERROR / ``config_error`` at once: no retry could succeed."""
    hint = getattr(exc, "hint", "") or "Run manage.py check and fix the setting it names."
    logger.error(
        "Cédula validation for user %s stopped: the configuration is wrong: %s (%s). Not retried.",
        info.user_id,
        describe(exc),
        hint,
    )
    fields: dict[str, object] = {
        "status": Status.ERROR,
        "error_code": CONFIG_ERROR,
        "error_message": f"{describe(exc)} ({hint})",
        "next_attempt_at": None,
    }
    return store_safely(info, attempt, fields, retry_delay=None, result=None)


#: Kept for callers of the old private name.
_claim = claim


def _wait_for_turn(info: CedulaInfo, attempt: int) -> str | None:
    """Take a lookup slot from the cluster-wide throttle; ``None`` means go ahead.

    A slot a moment away is slept for (up to the backend's ``defer_granularity``: a deferred job
    could not come back sooner). Otherwise the job gives its row back, defers itself instead of
    holding a worker, and returns the status it left the row in.
    """
    backend = get_backend()
    scraper = get_scraper()
    if app_settings.RATE_LIMIT:
        # Launching a browser takes a second or two: do it before taking a slot, not inside one.
        prepare = getattr(scraper, "prepare", None)
        if prepare is not None:
            prepare()
    # A chain waits only when every one of its sources is paused after a block.
    sources = paused_sources(scraper)
    try:
        max_sleep = max(throttle.MAX_SLEEP, backend.defer_granularity)
        permit = throttle.acquire(max_sleep=max_sleep, sources=sources)
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
        released = still_ours(info, attempt, using).update(
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
