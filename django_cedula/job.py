"""The validation job: ``django_cedula.job.validate_user_cedula(user_id, attempt=1)``.

Every task backend runs this function by its dotted path. Database work and browser work never
overlap: the row is claimed, the lookup runs with no transaction open and no ORM call inside the
scraper, then the outcome is stored. Whatever the lookup met, a claimed attempt ends counted:
values made storable and cut to their columns, a store retried through a database outage (the
outcome kept in the shared cache for the sweeper meanwhile), a minimal error when the database
refuses the outcome or cannot encode it. The row's transitions themselves are
:class:`~.models.CedulaInfoQuerySet`'s.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, InterfaceError, OperationalError, connections, router, transaction
from django.utils import timezone

from . import health, throttle
from .backends import enqueue_validation, enqueue_validation_on_commit, get_backend
from .backends.base import STORE_PATIENCE
from .captcha import spend
from .conf import app_settings
from .exceptions import ConfigurationError, InvalidCedulaError
from .models import (
    CONFIG_ERROR,
    ERROR_MESSAGE_MAX_LENGTH,
    SOURCE_OUT_OF_SERVICE,
    STORE_ERROR,
    CedulaConsent,
    CedulaInfo,
    CedulaStatus,
    bounded_raw_response,
    fit_to_columns,
    forget_outcome,
    keep_outcome,
    outcome_for,
    storable,
)
from .numbers import normalize_cedula
from .privacy import redact
from .results import DATA_FIELDS, ScrapeResult, ScrapeStatus, Vigencia
from .scrapers import get_scraper
from .scrapers.base import SourcesPaused, ask, paused_sources
from .scrapers.chain import source_names
from .scrapers.vigencia import precheck
from .signals import retry_scheduled, send_now, send_on_commit, validation_finished

__all__ = ["OutcomeNotStored", "validate_user_cedula"]

logger = logging.getLogger(__name__)

#: Pauses between attempts at storing an outcome while the database is unreachable; the last one
#: repeats until :data:`~.backends.base.STORE_PATIENCE` (or what is left of the job's time) is spent.
STORE_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
#: Seconds before the queue's job time limit at which the store stops trying: the job ends by itself,
#: its outcome kept for the sweeper, rather than being killed mid-write.
STORE_MARGIN = 5.0


class OutcomeNotStored(DatabaseError):
    """An attempt's outcome could not be stored, not even as a minimal error: the row stays
    PROCESSING, for the sweeper (which stores the outcome if it was kept, or counts the attempt).

    The queue records the job as failed; a queue that runs it again finds the attempt taken.
    Never stored as a failure of the lookup, which would queue another, paid, for an outcome the
    job already has.
    """


def validate_user_cedula(user_id: int | str, attempt: int = 1) -> str | None:
    """Run attempt ``attempt`` of the validation of ``user_id``'s cédula.

    Returns the row's new status, or ``None`` when there was nothing to do: the user or
    row is gone, or this attempt was already taken (a duplicate delivery). A job that may not
    look up yet (the cluster's rate limit, or the pause after a block) puts its row back, queues
    itself again for later and returns the status it left the row in. Raises
    :class:`OutcomeNotStored` when the outcome could not be stored (the database stayed away past
    the job's time): the row is left PROCESSING for the sweeper.
    """
    started = time.monotonic()
    if app_settings.REQUIRE_CONSENT and not _authorized(user_id):
        return _hold_for_consent(user_id, attempt)
    info = _claim(user_id, attempt)
    if info is None:
        return None
    try:
        return _run_claimed(info, attempt, started)
    except OutcomeNotStored:
        raise  # logged where it happened; the row is the sweeper's now
    except (ConfigurationError, ImproperlyConfigured) as exc:
        return _end_with_config_error(info, attempt, exc, started)
    except Exception as exc:
        # Whatever failed after the claim (a scraper's prepare(), the throttle, a bug) must not
        # leave the row PROCESSING: the sweeper would queue it again without counting, for ever.
        # It is a transient failure like a scraper's: counted, retried, final when none is left.
        logger.error(
            "Cédula validation for user %s, attempt %s, failed after its claim:\n%s",
            user_id,
            attempt,
            error_text(exc, with_traceback=True, cedula=info.cedula),
        )
        failure = ScrapeResult(status=ScrapeStatus.INTERNAL_ERROR, error=error_text(exc, cedula=info.cedula))
        return _store_result(info, attempt, failure, started)


def _run_claimed(info: CedulaInfo, attempt: int, started: float) -> str | None:
    """Attempt ``attempt`` of a row this job has claimed: check the number, wait for a turn,
    look it up and store what it means."""
    try:
        cedula = normalize_cedula(info.cedula)
    except InvalidCedulaError as exc:
        # Never reaches the network: mark it and stop.
        fields: dict[str, object] = {"status": CedulaStatus.INVALID, "error_message": str(exc)}
        return store_safely(info, attempt, fields, retry_delay=None, result=None, started=started)
    answered = _precheck(info, attempt, cedula, started)
    if answered is not None:
        return answered
    deferred_to = _wait_for_turn(info, attempt)
    if deferred_to is not None:
        return deferred_to
    scraper = get_scraper()
    try:
        result = ask(scraper, cedula)
    except SourcesPaused as paused:
        # Every source went into its pause, or out of service, since the turn was taken: nothing was
        # asked, or what was asked only showed that the source changed. Not the row's attempt.
        permit = throttle.Permit(granted=False, wait=paused.wait, reason=paused.reason)
        return _defer(info, attempt, permit, queue=get_backend().supports_defer, sources=paused.sources)
    finally:
        spend.flush()  # what the lookup's captcha cost, written from this thread (no ORM in the scraper)
    return _store_result(info, attempt, result, started)


def _authorized(user_id: int | str) -> bool:
    """Whether the holder's authorization is in force (``CEDULA_PRIVACY["REQUIRE_CONSENT"]``)."""
    rows = CedulaConsent.objects.using(router.db_for_write(CedulaConsent))
    return rows.holds_for(user_id)


def _hold_for_consent(user_id: int | str, attempt: int) -> str | None:
    """No lookup without the holder's authorization: the row waits as AWAITING_CONSENT (no attempt
    counted) and is queued again when one is recorded (:func:`~.services.record_consent`)."""
    held = CedulaInfo.objects.using(router.db_for_write(CedulaInfo)).hold_for_consent(user_id)
    logger.info(
        "Cédula validation for user %s, attempt %s, not run: no authorization in force%s",
        user_id,
        attempt,
        "; the row waits for one" if held else "",
    )
    return held


def _precheck(info: CedulaInfo, attempt: int, cedula: str, started: float) -> str | None:
    """Ask the free pre-check (``CEDULA_PRECHECK``) once per validation; store its answer and return
    the row's status when that answer is final (the number does not exist, or its holder died),
    ``None`` to go on to the census lookup."""
    if info.vigencia or app_settings.PRECHECK is None:
        return None
    answer = precheck(cedula)
    if answer is None or answer.vigencia is None:
        return None
    rows = CedulaInfo.objects.using(router.db_for_write(CedulaInfo, instance=info))
    if not rows.note_vigencia(info, answer.vigencia.value):
        return None  # restarted meanwhile: the census lookup's store will say so
    if answer.vigencia is Vigencia.NONEXISTENT:
        result = ScrapeResult(status=ScrapeStatus.NONEXISTENT, raw_html=answer.raw, source=answer.source)
    elif answer.vigencia is Vigencia.DECEASED:
        result = ScrapeResult(
            status=ScrapeStatus.CANCELLED,
            novedad="Cancelada por Muerte",
            fecha_novedad=answer.fecha,
            raw_html=answer.raw,
            source=answer.source,
        )
    else:
        return None
    logger.info(
        "Cédula validation for user %s: the pre-check's answer is final, no census lookup", info.user_id
    )
    return _store_result(info, attempt, result, started)


def _store_result(info: CedulaInfo, attempt: int, result: ScrapeResult, started: float) -> str | None:
    """Decide what ``result`` means for the row (final, retry, or out of retries) and store it.

    A sign that the source changed on the row's last attempt, while the source's run of such signs
    is still undecided (:func:`~.health.run_undecided`), does not end the row: its attempt waits,
    uncounted, for the run to take the source out of service (then for the source to come back) or
    to end with an answer. A row never ends because a source changed its pages."""
    raw = bounded_raw_response(result.raw_html)
    outcome = outcome_for(result, attempt=attempt, now=timezone.now(), raw_response=raw)
    if (
        outcome.retry_delay is None
        and result.source
        and health.sign_of(result)
        and health.run_undecided(result.source)
    ):
        permit = throttle.Permit(granted=False, wait=health.RUN_WAIT, reason="out_of_service")
        return _defer(info, attempt, permit, queue=get_backend().supports_defer, sources=[result.source])
    stored = store_safely(
        info, attempt, outcome.fields, retry_delay=outcome.retry_delay, result=result, started=started
    )
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


def _end_with_config_error(info: CedulaInfo, attempt: int, exc: Exception, started: float) -> str | None:
    """End the row as ERROR / ``config_error`` at once: no retry could succeed."""
    hint = getattr(exc, "hint", "") or "Run manage.py check and fix the setting it names."
    logger.error(
        "Cédula validation for user %s stopped: the configuration is wrong: %s (%s). Not retried.",
        info.user_id,
        error_text(exc),
        hint,
    )
    fields: dict[str, object] = {
        "status": CedulaStatus.ERROR,
        "error_code": CONFIG_ERROR,
        "error_message": f"{error_text(exc)} ({hint})",
        "next_attempt_at": None,
    }
    return store_safely(info, attempt, fields, retry_delay=None, result=None, started=started)


def _wait_for_turn(info: CedulaInfo, attempt: int) -> str | None:
    """Take a lookup slot from the cluster-wide throttle; ``None`` means go ahead.

    A slot a moment away is slept for (up to the backend's ``defer_granularity``: a deferred job
    could not come back sooner). Otherwise the job gives its row back, defers itself instead of
    holding a worker, and returns the status it left the row in.
    """
    backend = get_backend()
    # A source out of service costs nothing: with none left, defer without taking a slot (and
    # without starting a browser).
    names = source_names()
    out = health.out_of_service(names)
    if out and len(out) == len(names) and all(health.must_wait(state) for state in out):
        wait = min(max(health.next_look(state) - time.time(), health.MIN_OUT_WAIT) for state in out)
        permit = throttle.Permit(granted=False, wait=wait, reason="out_of_service")
        return _defer(info, attempt, permit, queue=backend.supports_defer, sources=[s.source for s in out])
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


def _defer(
    info: CedulaInfo, attempt: int, permit: throttle.Permit, *, queue: bool, sources: Sequence[str] = ()
) -> str | None:
    """Give the claimed row back, unchanged but for ``next_attempt_at``, and queue this attempt again.

    Not a retry: nothing was looked up, so ``retry_count`` stays and no signal is sent. A row that
    waits for sources out of service says so (``error_code`` ``out_of_service``) and is
    queued again the moment one is back. A backend that cannot delay a job (inline) would run it
    again at once, in the caller's process; there the row is left for the sweeper
    (``cedula_sweep``) to queue once ``next_attempt_at`` has passed.
    """
    using = router.db_for_write(CedulaInfo, instance=info)
    why: dict[str, str] = {}
    if permit.reason == "out_of_service":
        why = {
            "error_code": SOURCE_OUT_OF_SERVICE,
            "error_message": (
                f"waiting: {', '.join(sources) or 'the source'} out of service (no attempt counted)"
            ),
        }
    with transaction.atomic(using=using):
        status = CedulaInfo.objects.using(using).release(info, attempt, wait=permit.wait, **why)
        if status is not None and queue:
            enqueue_validation_on_commit(info.user_id, attempt, delay=permit.wait, using=using)
    if status is None:
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


def _claim(user_id: int | str, attempt: int) -> CedulaInfo | None:
    """Claim the row for ``attempt`` (:meth:`~.models.CedulaInfoQuerySet.claim`), saying why not."""
    # Every query goes to the database the claim wrote to: a router that sends reads to a replica
    # would otherwise not see the row just claimed (or a just-registered one at all).
    rows = CedulaInfo.objects.using(router.db_for_write(CedulaInfo))
    info = rows.claim(user_id, attempt)
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


def error_text(exc: BaseException, *, with_traceback: bool = False, cedula: str | None = None) -> str:
    """``exc`` as text fit to log or store: cédulas masked (``cedula`` too, whatever its length:
    the generic masking only knows numbers of six digits or more), URL secrets (user-info, query
    strings) removed, cut to the stored error's length."""
    if with_traceback:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return storable(redact(text, cedula))  # a log file's handler refuses a lone surrogate too
    return storable(redact(f"{type(exc).__name__}: {exc}", cedula))[:ERROR_MESSAGE_MAX_LENGTH]


def store_safely(
    info: CedulaInfo,
    attempt: int,
    fields: dict[str, object],
    *,
    retry_delay: float | None,
    result: ScrapeResult | None,
    started: float | None = None,
) -> str | None:
    """:func:`_store`, robust to the database failing at that moment.

    Returns the status stored, or ``None`` when the row changed under us and nothing was stored.

    A lookup costs a request to the source and a paid captcha: the database failing as its
    answer arrives must not throw the answer away.

    * Unreachable (``OperationalError``, ``InterfaceError``: a restart, a failover, a network
      cut): the outcome is kept in the shared cache (:func:`~.models.keep_outcome`) and the store
      retried on a fresh connection after growing pauses (:data:`STORE_RETRY_DELAYS`) for
      :data:`~.backends.base.STORE_PATIENCE` seconds, or what is left of the job's time when more
      (``started``, from :func:`time.monotonic`), never past the queue's job time limit. Then
      :class:`OutcomeNotStored` is raised and the row stays PROCESSING: the sweeper stores the
      kept outcome, or counts the attempt lost when the cache could not keep it either.
    * Refusing it (another ``DatabaseError``: a constraint, a trigger, a full disk): retried once
      on a fresh connection, then a minimal ERROR / ``store_error`` outcome is written instead.
    * Unable to take it at all (any other exception: a value the driver cannot encode, of a type
      it cannot adapt): the minimal ERROR / ``store_error`` outcome at once, final, the answer
      quoted in its message and the log. Never read as a failure of the source, which a retry
      would pay for again.
    """
    using = router.db_for_write(CedulaInfo, instance=info)
    deadline: float | None = None
    pauses = _store_pauses()
    refused_once = False
    minimal = False
    kept_tried: Mapping[str, object] | None = None  # the fields last offered to the cache
    kept = False  # whether the cache holds an outcome of this attempt
    current = fit_to_columns(fields)
    while True:
        try:
            stored = _store(info, attempt, current, retry_delay=retry_delay, result=result)
        except (OperationalError, InterfaceError) as exc:
            if connections[using].in_atomic_block:
                # The caller's transaction is lost with the connection: no later try can succeed.
                raise OutcomeNotStored(f"the outcome could not be stored: {error_text(exc)}") from exc
            if kept_tried is not current:
                kept_tried = current
                kept = keep_outcome(info, attempt, current, retry_delay=retry_delay) or kept
            if deadline is None:
                deadline = _store_deadline(started)
            left = deadline - time.monotonic()
            if left <= 0:
                _give_up(info, attempt, exc, kept)
                raise OutcomeNotStored(f"the outcome could not be stored: {error_text(exc)}") from exc
            pause = min(next(pauses), left)
            logger.warning(
                "Storing the outcome for user %s failed (%s); retrying on a fresh connection in %.1fs",
                info.user_id,
                error_text(exc),
                pause,
            )
            _reconnect(using)
            time.sleep(pause)
            continue
        except Exception as exc:
            refused = isinstance(exc, DatabaseError)
            if refused and not refused_once:
                # A connection an earlier failure left broken refuses every query: once more on a
                # fresh one before calling the outcome refused.
                refused_once = True
                logger.warning(
                    "Storing the outcome for user %s failed (%s); retrying on a fresh connection",
                    info.user_id,
                    error_text(exc),
                )
                _reconnect(using)
                continue
            if minimal:
                logger.error(
                    "Storing even a minimal error for user %s failed (%s); the row is left to the sweeper",
                    info.user_id,
                    error_text(exc),
                )
                raise OutcomeNotStored(f"the outcome could not be stored: {error_text(exc)}") from exc
            # Not the database being away but this outcome: another try, now or after a new paid
            # lookup, would fail the same way. A minimal final error is stored instead.
            logger.error(
                "The outcome for user %s, attempt %s, could not be stored (%s)%s; storing a minimal "
                "error instead (store_error, final). The answer: %s",
                info.user_id,
                attempt,
                error_text(exc),
                "" if refused else ": the database cannot take it",
                _answer_text(current, info) or "none",
            )
            current, minimal = _minimal_outcome(current, exc, info), True
            retry_delay = result = None
            continue
        if kept:
            forget_outcome(info, attempt)
        return str(current["status"]) if stored else None


def _store_pauses() -> Iterator[float]:
    yield from STORE_RETRY_DELAYS
    while True:
        yield STORE_RETRY_DELAYS[-1]


def _store_deadline(started: float | None) -> float:
    """When the store stops retrying through an outage (a :func:`time.monotonic` time).

    :data:`~.backends.base.STORE_PATIENCE` from now, or the end of the job's whole budget (the sum
    ``manage.py check`` compares with the queue's limits) when that is later; never later than
    :data:`STORE_MARGIN` before the queue's job time limit, where the queue would kill the job.
    """
    now = time.monotonic()
    deadline = now + STORE_PATIENCE
    if started is None:
        return deadline
    try:
        backend = get_backend()
        budget = backend.longest_job_run()
        limit = backend.job_time_limit()
    except Exception:  # the job got this far with the backend built; its settings cannot fail now
        return deadline
    if budget is not None:
        deadline = max(deadline, started + budget)
    if limit is not None:
        deadline = min(deadline, started + limit - STORE_MARGIN)
    return deadline


def _reconnect(using: str) -> None:
    """Drop the connection so that the next query opens a fresh one (not inside a transaction,
    which would lose the caller's work)."""
    connection = connections[using]
    if not connection.in_atomic_block:
        connection.close()


def _give_up(info: CedulaInfo, attempt: int, exc: BaseException, kept: bool) -> None:
    logger.error(
        "Storing the outcome for user %s, attempt %s, failed until the job's time ran out (%s); "
        "the row stays processing for the sweeper, %s",
        info.user_id,
        attempt,
        error_text(exc),
        "which will store the outcome kept in the cache"
        if kept
        else "which will count the attempt as lost: the cache could not keep the outcome",
    )


def _minimal_outcome(fields: Mapping[str, object], exc: BaseException, info: CedulaInfo) -> dict[str, object]:
    """The final ERROR / ``store_error`` outcome written when ``fields`` cannot be: the reason,
    and the answer as far as the message holds it."""
    message = f"the outcome could not be stored: {error_text(exc, cedula=info.cedula)}"
    answer = _answer_text(fields, info)
    if answer:
        message = f"{message}; the answer: {answer}"
    return fit_to_columns(
        {
            "status": CedulaStatus.ERROR,
            "error_code": STORE_ERROR,
            "error_message": message[:ERROR_MESSAGE_MAX_LENGTH],
            "raw_response": "",
            "next_attempt_at": None,
        }
    )


def _answer_text(fields: Mapping[str, object], info: CedulaInfo) -> str:
    """The source's answer among ``fields`` (its status and data), as ASCII JSON: whatever the
    text holds (a lone surrogate, a NUL), this can be logged and stored. Numbers masked."""
    answer = {
        name: str(value)
        for name, value in fields.items()
        if (name == "status" or name in DATA_FIELDS) and value not in ("", None)
    }
    if set(answer) <= {"status"}:
        return ""
    return redact(json.dumps(answer, ensure_ascii=True), info.cedula)


def _store(
    info: CedulaInfo,
    attempt: int,
    fields: dict[str, object],
    *,
    retry_delay: float | None,
    result: ScrapeResult | None,
) -> bool:
    """Write the outcome if the row is still as claimed; once that commits, send the package's
    signal and queue the retry.

    Returns ``False`` when the row changed under us (the user was deleted or the validation
    restarted while the lookup ran); the result is then discarded and no signal sent.
    """
    using = router.db_for_write(CedulaInfo, instance=info)
    # record() keeps ``info`` in step with the row; if the transaction then fails (a commit that
    # does not go through), ``info`` must describe the row as it still is, or the next try's
    # "as seen" rule would refuse to store the answer.
    seen = {name: getattr(info, name) for name in (*fields, "updated_at")}
    try:
        with transaction.atomic(using=using):
            stored = CedulaInfo.objects.using(using).record(info, fields)
            # A final outcome's signal goes out once this commits; a retry is handed to the queue
            # then, and its signal sent once the queue took it (see _queue_retry_on_commit).
            if stored and retry_delay is None:
                send_on_commit(validation_finished, info, using=using, status=fields["status"], result=result)
            elif stored and retry_delay is not None:
                _queue_retry_on_commit(
                    info, attempt + 1, delay=retry_delay, error_code=str(fields["error_code"]), using=using
                )
    except BaseException:
        for name, value in seen.items():
            setattr(info, name, value)
        raise
    if not stored:
        logger.info(
            "Cédula validation for user %s: the row changed during the lookup; result discarded", info.user_id
        )
    return stored


def _queue_retry_on_commit(
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
