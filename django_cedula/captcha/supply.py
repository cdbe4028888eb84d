"""One shared, demand-driven supply of solved reCAPTCHA tokens for the whole cluster.

On the real site a solve takes 10–150 s and the page's own work a fifth of a second: a lookup that
waits for its own solve spends nearly all its time, and its worker's, waiting. The supply solves
ahead of demand and off the job's path, so that a lookup finds a token ready when it posts its form.

* **Shared**: tokens live in Django's cache (``CEDULA_CACHE_ALIAS``, the one the throttle uses), so
  every worker of every machine draws on the same stock. Taking a token is one atomic ``add`` of
  a claim key (Redis ``SET NX``, an ``INSERT`` on the database cache): a token goes to one lookup.
* **Fresh**: a token is kept at most ``CEDULA_TOKEN_SUPPLY["MAX_AGE"]`` seconds (100 of Google's 120)
  and a lookup takes the oldest still good (taking the freshest would let the rest expire).
  Older ones are thrown away and counted as expired.
* **Demand-driven**: one worker process at a time (the leader, by a lease in the cache) runs the
  filler, a daemon thread that starts solves for what is due: rows waiting for a first attempt or a
  retry within the next solve's time, plus what recent registrations predict, capped by what the
  politeness limits let run in that window; ``CEDULA_TOKEN_SUPPLY["MIN_TOKENS"]`` keeps a standing
  stock. Nothing due and no arrival for a token's lifetime: no solve starts.
* **No extra process**: the filler starts in whichever worker process runs a validation job
  (Django-Q2, Celery and django.tasks workers alike); if the leader dies, its lease runs out and
  another worker takes over.

Without a shared cache, with the inline backend, or with ``CEDULA_TOKEN_SUPPLY["ENABLED"] = False``, there is
no token supply: each lookup solves for itself (:func:`get_token_supply` returns ``None``). A cache
that fails does the same until it answers again (:class:`TokenSupply`), logged once; what is read
back from it is checked, and garbage ignored and removed (:func:`~django_cedula.throttle.read`).

Here: how many solves to start, and from what (:func:`plan_solves` and its inputs), the filler (the
leader's rounds, :class:`Filler`, and their thread), and what lookups use (:class:`TokenSupply`,
:func:`get_token_supply`) and ``cedula_stats`` reads (:func:`supply_status`). Targets and the
cache-backed store of their tokens are :mod:`.supply_store`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import logging
import math
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.signals import setting_changed
from django.db import close_old_connections, connection
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from .. import health
from ..conf import app_settings, is_shared_cache
from ..exceptions import CaptchaError, CaptchaUnreachable
from ..throttle import CLOCK_SKEW, is_time, log_garbage, read
from . import spend
from .base import CaptchaSolver, SolvedToken, checked_token, get_captcha_solver
from .supply_store import PREFIX, TOKEN_LIFETIME, SuppliedToken, Target, TokenStore, shared_cache

logger = logging.getLogger("django_cedula.captcha.supply")


# -- sizing: how many solves to start, from what is due, what arrivals predict, what politeness lets
# run, and the solve latency measured from the solves themselves

#: Solves the filler keeps in flight at the most (a solve latency of 90 s at 12 lookups a minute
#: needs 18).
MAX_IN_FLIGHT = 32
#: The solve latency assumed before any solve was measured, in seconds.
INITIAL_LATENCY = 30.0
#: Seconds a target (site key and page URL) is kept after its last lookup.
TARGET_IDLE = 3600.0
#: Solve latencies remembered for the estimate.
LATENCY_SAMPLES = 20

TARGETS_KEY = PREFIX + "targets"
LATENCY_KEY = PREFIX + "latency"


def plan_solves(
    *,
    due: int,
    arrivals: int,
    stock: int,
    in_flight: int,
    latency: float,
    interval: float,
    min_tokens: int,
    lifetime: float = TOKEN_LIFETIME,
    lasting: int | None = None,
) -> int:
    """How many solves to start now (a pure function: the filler's whole sizing rule).

    A token started now is ready ``latency`` seconds from now; the window ``lead`` adds a margin
    of two lookup intervals. Within it the politeness limit lets at most ``lead / interval``
    lookups run, so no more tokens than that are worth having ready or in flight (more would
    expire). Of those, the supply wants one for each row ``due`` within the window, plus what the
    recent ``arrivals`` (registrations in the last token lifetime) predict for it.

    ``latency`` is a high percentile of the recent solves, not their mean: solve times have a long
    tail (a p90 twice the median), and a pipeline sized for the mean runs dry whenever a few slow
    solves come together, which leaves a lookup waiting for a solve of its own.

    The standing stock ``min_tokens`` counts only the tokens ``lasting`` (still fresh one solve
    from now; all of ``stock`` when not given): a replacement starts while the old token is still
    good, so the stock is never empty for a solve's time after each expiry.
    """
    lead = latency + max(2 * interval, 5.0)
    capacity = math.ceil(lead / interval) if interval > 0 else MAX_IN_FLIGHT
    arriving = math.ceil(arrivals * lead / lifetime) if arrivals else 0
    for_demand = min(due + arriving, capacity) - stock - in_flight
    for_stock = min_tokens - (stock if lasting is None else lasting) - in_flight
    return max(0, min(max(for_demand, for_stock), MAX_IN_FLIGHT - in_flight))


def _seen_targets(now: float) -> dict[tuple[str, str], float]:
    """The targets lookups asked for, with when: the entries that are a pair of texts and a time
    not in the future (garbage left out; :func:`note_target` writes the cleaned map back)."""
    raw = read(shared_cache(), TARGETS_KEY, lambda value: isinstance(value, dict)) or {}
    seen = {
        pair: float(last)
        for pair, last in raw.items()
        if isinstance(pair, tuple)
        and len(pair) == 2
        and all(isinstance(part, str) for part in pair)
        and is_time(last)
        and last <= now + CLOCK_SKEW
    }
    if len(seen) != len(raw):
        log_garbage(TARGETS_KEY, f"{len(raw) - len(seen)} entries that name no target")
    return seen


def active_targets(now: float | None = None) -> list[Target]:
    """The targets lookups used within the last hour."""
    now = time.time() if now is None else now
    return [Target(*pair) for pair, last in _seen_targets(now).items() if now - last < TARGET_IDLE]


def note_target(target: Target, now: float | None = None) -> None:
    """Remember that lookups want tokens for ``target`` (at most one write a minute per target)."""
    now = time.time() if now is None else now
    cache = shared_cache()
    seen = _seen_targets(now)
    pair = (target.site_key, target.page_url)
    if now - seen.get(pair, 0.0) < 60:
        return
    seen = {key: last for key, last in seen.items() if now - last < TARGET_IDLE}
    seen[pair] = now
    cache.set(TARGETS_KEY, seen, timeout=int(TARGET_IDLE) + 60)


def _latencies() -> list[float]:
    """The recent solves' durations: a list of times within a solve's limit (garbage left out)."""
    raw = read(shared_cache(), LATENCY_KEY, lambda value: isinstance(value, list)) or []
    samples = [float(seconds) for seconds in raw if is_time(seconds) and 0 <= seconds <= 2 * SOLVE_TIMEOUT]
    if len(samples) != len(raw):
        log_garbage(LATENCY_KEY, f"{len(raw) - len(samples)} entries that are no solve's duration")
    return samples


def record_latency(seconds: float) -> None:
    samples = _latencies()[-(LATENCY_SAMPLES - 1) :]
    samples.append(float(seconds))
    shared_cache().set(LATENCY_KEY, samples, timeout=int(TARGET_IDLE))


#: The percentile of recent solve durations the filler plans with (see :func:`plan_solves`).
PLANNING_PERCENTILE = 0.8


def latency_estimate() -> float:
    """The mean of the recent solves' durations (what ``cedula_stats`` shows)."""
    samples = _latencies()
    return sum(samples) / len(samples) if samples else INITIAL_LATENCY


def planning_latency() -> float:
    """The :data:`PLANNING_PERCENTILE` of the recent solves' durations: what a new solve should be
    expected to take, tail included."""
    samples = sorted(_latencies())
    if not samples:
        return INITIAL_LATENCY
    return float(samples[min(int(len(samples) * PLANNING_PERCENTILE), len(samples) - 1)])


def lookup_interval() -> float:
    """Seconds between lookups the cluster's politeness allows (the rate limit, else the pacing)."""
    from .. import throttle

    return throttle.interval() or app_settings.MIN_LOOKUP_INTERVAL


def demand(lead: float) -> tuple[int, int]:
    """``(due, arrivals)``: rows whose attempt falls within ``lead`` seconds, and validations asked
    for within the last token lifetime (``CEDULA_TOKEN_SUPPLY["MAX_AGE"]``: what arrived in the last
    lifetime predicts the next one).

    Rows not touched for ``CEDULA_SWEEP["PENDING_AFTER"]`` are left out: their job may be lost (a broker
    outage) and nothing would take their tokens until the sweeper queues them again.
    """
    from ..models import CedulaInfo, CedulaStatus

    now = timezone.now()
    recent = now - datetime.timedelta(seconds=app_settings.SWEEP_PENDING_AFTER)
    horizon = now + datetime.timedelta(seconds=lead)
    waiting = CedulaInfo.objects.filter(
        status__in=(CedulaStatus.PENDING, CedulaStatus.RETRYING), updated_at__gte=recent
    ).filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=horizon))
    due = waiting.count()
    arrivals = CedulaInfo.objects.filter(
        requested_at__gte=now - datetime.timedelta(seconds=app_settings.TOKEN_MAX_AGE)
    ).count()
    return due, arrivals


# -- the filler: the rounds that start solves and stock their tokens, run by one worker process of the
# cluster at a time (the leader, by a lease in the cache), on a daemon thread of its own

#: Seconds between two rounds of the filler.
TICK = 1.0
#: Seconds a leader's lease lasts without renewal; another worker takes over after that.
LEASE = 15.0
#: A solve of the filler's is abandoned after this long (the slowest first solves reported).
SOLVE_TIMEOUT = 150.0

LEADER_KEY = PREFIX + "leader"
STATUS_KEY = PREFIX + "status"
#: What a filler's identity (the leader's lease) looks like: ``"<pid>:<8 hex digits>"``.
_IDENTITY = re.compile(r"\d+:[0-9a-f]{8}")


def _is_identity(value: Any) -> bool:
    return isinstance(value, str) and _IDENTITY.fullmatch(value) is not None


@dataclasses.dataclass
class _Solve:
    target: Target
    started: float
    ref: str = ""
    future: concurrent.futures.Future[SolvedToken] | None = None
    next_poll: float = 0.0
    #: The latest time the solve was known unfinished (its submit, then each "not ready" answer;
    #: a poll the service did not answer is not one). Its token was solved after that, so an age
    #: counted from here can only make a polled token look older than it is, by about one poll
    #: interval (5 s with 2Captcha); counted from the round that collected it, as before, a token
    #: looked up to a poll interval and a round younger than it was.
    unfinished_at: float = 0.0
    #: When a blocking solve returned. The solver's own polls inside it mean the service may have
    #: had the token up to one of them earlier (5 s with 2Captcha): the supply's max age (100 s of
    #: Google's 120) leaves room for that.
    finished_at: float | None = None

    def solved_at(self) -> float:
        """The time a delivered token's age counts from: when the solve was seen finished, or
        the last time it was seen unfinished, never the later round that collected it."""
        return self.finished_at if self.finished_at is not None else self.unfinished_at


class Filler:
    """Starts solves for what is due and puts their tokens in the store (runs in the leader)."""

    def __init__(self, solver_getter: Callable[[], CaptchaSolver | None] = get_captcha_solver) -> None:
        self._solver_getter = solver_getter
        self.identity = f"{os.getpid()}:{secrets.token_hex(4)}"
        self.in_flight: list[_Solve] = []
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._last_error_log = 0.0

    # -- leadership
    def lead(self) -> bool:
        """Take or renew the cluster's lease; whether this process leads the filling now."""
        cache = shared_cache()
        if cache.add(LEADER_KEY, self.identity, timeout=LEASE):
            return True
        # A lease no filler wrote (perhaps without an expiry) would keep every filler out for ever:
        # read() deletes it, and the lease is asked for again.
        leader = read(cache, LEADER_KEY, _is_identity)
        if leader is None:
            return bool(cache.add(LEADER_KEY, self.identity, timeout=LEASE))
        if leader == self.identity:
            cache.touch(LEADER_KEY, LEASE)
            return True
        return False

    # -- one round
    def tick(self, now: float | None = None) -> int:
        """One round: collect finished solves, prune, and start what the plan says; return the
        number of solves started."""
        now = time.time() if now is None else now
        solver = self._solver_getter()
        if solver is None:
            return 0
        self._collect(solver, now)
        if not self.lead():
            # Every process runs a filler thread: a follower writes its own counts here too (a
            # lookup's own solve donated after its job ended), within a round rather than at its
            # next job, which an idle worker may never have.
            spend.flush()
            return 0
        started = 0
        max_age = app_settings.TOKEN_MAX_AGE
        for target in active_targets(now):
            store = TokenStore(shared_cache(), target, max_age)
            spend.count("expired", store.prune(now))
            if health.holds_page(target.page_url):
                # The page's source is out of service, or its answers have started to look
                # changed: a token solved now would most likely be wasted.
                continue
            flying = sum(1 for solve in self.in_flight if solve.target == target)
            latency = planning_latency()
            interval = lookup_interval()
            lead = latency + max(2 * interval, 5.0)
            due, arrivals = demand(lead)
            count = plan_solves(
                due=due,
                arrivals=arrivals,
                stock=store.stock(now),
                in_flight=flying,
                latency=latency,
                interval=interval,
                min_tokens=app_settings.TOKEN_MIN_STOCK,
                lifetime=max_age,
                # Tokens still good once a solve started now is back.
                lasting=store.stock(now + latency),
            )
            for _ in range(count):
                # Asked again before each solve: a lookup may have met a sign of change meanwhile.
                if health.holds_page(target.page_url):
                    break
                self._start(solver, target, now)
                started += 1
        shared_cache().set(
            STATUS_KEY, {"leader": self.identity, "in_flight": len(self.in_flight), "at": now}, 60
        )
        spend.flush()
        return started

    def _start(self, solver: CaptchaSolver, target: Target, now: float) -> None:
        spend.count("requested")
        solve = _Solve(target=target, started=now, unfinished_at=now)
        if solver.supports_submit:
            try:
                solve.ref = solver.submit(target.site_key, target.page_url)
            except CaptchaError as exc:
                spend.count("failed")
                self._log_error("A solve could not be submitted: %s", exc)
                return
            solve.next_poll = now + solver.poll_interval
        else:

            def timed() -> SolvedToken:
                token = solver.solve_token(target.site_key, target.page_url, timeout=SOLVE_TIMEOUT)
                # Set before the future is done, so the round that sees it done reads it.
                solve.finished_at = time.time()
                return token

            solve.future = self._solve_executor().submit(timed)
        self.in_flight.append(solve)

    def _collect(self, solver: CaptchaSolver, now: float) -> None:
        still: list[_Solve] = []
        for solve in self.in_flight:
            try:
                token = self._result(solver, solve, now)
            except (CaptchaError, concurrent.futures.CancelledError) as exc:
                spend.count("failed")
                self._log_error("A solve for the supply failed: %s", exc)
                continue
            if token is None:
                if now - solve.started > SOLVE_TIMEOUT:
                    spend.count("failed")  # abandoned: its token would come too late to trust
                    continue
                still.append(solve)
                continue
            spend.count("delivered")
            record_latency(token.seconds or (now - solve.started))
            store = TokenStore(shared_cache(), solve.target, app_settings.TOKEN_MAX_AGE)
            store.put(token, solved_at=solve.solved_at())
        self.in_flight = still

    def _result(self, solver: CaptchaSolver, solve: _Solve, now: float) -> SolvedToken | None:
        if solve.future is not None:
            if not solve.future.done():
                return None
            solved = solve.future.result()
            checked_token(solved.value)  # a solver's garbage is a failed solve, never stocked
            return solved
        if now < solve.next_poll:
            return None
        solve.next_poll = now + solver.poll_interval
        try:
            token = solver.poll(solve.ref)
        except CaptchaUnreachable:
            return None  # no answer is not a "not ready": the token may be ready and ageing
        if token is None:
            solve.unfinished_at = now
            return None
        checked_token(token.value)
        if not token.seconds:
            token = dataclasses.replace(token, seconds=now - solve.started)
        return token

    def _solve_executor(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=MAX_IN_FLIGHT, thread_name_prefix="cedula-supply-solve"
            )
        return self._executor

    def _log_error(self, message: str, exc: BaseException) -> None:
        # One line a minute at the most: a service that is down must not flood the log.
        if time.monotonic() - self._last_error_log > 60:
            self._last_error_log = time.monotonic()
            logger.warning(message, exc)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


class _FillerThread(threading.Thread):
    """The daemon thread that runs :class:`Filler` rounds in this process (one per process)."""

    _current: _FillerThread | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        super().__init__(name="cedula-token-supply", daemon=True)
        self.pid = os.getpid()
        self.filler = Filler()
        self.stopping = threading.Event()

    @classmethod
    def ensure(cls) -> None:
        with cls._lock:
            current = cls._current
            # A forked worker inherits the object but not the thread: start its own.
            if current is not None and current.pid == os.getpid() and current.is_alive():
                return
            cls._current = cls()
            cls._current.start()

    @classmethod
    def stop_current(cls) -> None:
        with cls._lock:
            current, cls._current = cls._current, None
        if current is not None:
            current.stopping.set()
            current.join(timeout=5)
            current.filler.close()

    def run(self) -> None:
        try:
            while not self.stopping.wait(TICK):
                try:
                    close_old_connections()
                    self.filler.tick()
                except Exception as exc:
                    self.filler._log_error("The token supply's round failed: %s", exc)
        finally:
            connection.close()


# -- what lookups use


#: Seconds lookups leave the supply alone after its cache failed (each solving for itself) before
#: one of them asks it again.
OUTAGE_RETRY = 30.0

_T = TypeVar("_T")


class TokenSupply:
    """What lookups use: take a token, give one back, and keep the filler running in this process.

    Never raises for its cache: a cache that is down (or answers what cannot be used) makes
    :meth:`take` find nothing and :meth:`available` nothing ready, so each lookup solves its own
    captcha, as without a supply. The failure is logged once, not per lookup; for
    :data:`OUTAGE_RETRY` seconds after it the cache is not asked at all (a dead cache costs a
    lookup no time), then asked again, and its coming back is logged too.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: ``time.monotonic()`` before which the cache is not asked; 0 while it works.
        self._resting_until = 0.0
        self._failing = False

    def take(self, site_key: str, page_url: str) -> SuppliedToken | None:
        token = self._guarded(self._take, None, site_key, page_url)
        if token is not None:
            spend.count("used")
        return token

    def _take(self, site_key: str, page_url: str) -> SuppliedToken | None:
        target = Target(site_key, page_url)
        note_target(target)
        self.ensure_filler()
        return TokenStore(shared_cache(), target, app_settings.TOKEN_MAX_AGE).take()

    def available(self, site_key: str, page_url: str) -> int:
        """Tokens ready for ``site_key`` on ``page_url`` now (and the filler told they are wanted)."""
        return self._guarded(self._available, 0, site_key, page_url)

    def _available(self, site_key: str, page_url: str) -> int:
        target = Target(site_key, page_url)
        note_target(target)
        self.ensure_filler()
        return TokenStore(shared_cache(), target, app_settings.TOKEN_MAX_AGE).stock()

    def donate(self, site_key: str, page_url: str, token: SolvedToken) -> None:
        """Keep a token a lookup solved but did not need (it took one from the supply meanwhile)."""

        def put(site_key: str, page_url: str) -> None:
            TokenStore(shared_cache(), Target(site_key, page_url), app_settings.TOKEN_MAX_AGE).put(token)

        self._guarded(put, None, site_key, page_url)

    def reset(self) -> None:
        """Forget a failure: the next lookup asks the cache (its settings changed; tests)."""
        with self._lock:
            self._resting_until, self._failing = 0.0, False

    @property
    def failing(self) -> bool:
        """Whether the supply's cache failed and has not answered since."""
        return self._failing

    def _guarded(self, call: Callable[[str, str], _T], instead: _T, site_key: str, page_url: str) -> _T:
        """``call(site_key, page_url)``, or ``instead`` while the cache rests after a failure or
        when it fails now."""
        if time.monotonic() < self._resting_until:
            return instead
        try:
            result = call(site_key, page_url)
        except Exception as exc:
            self._failed(exc)
            return instead
        if self._failing:
            with self._lock:
                back, self._failing = self._failing, False
            if back:
                logger.warning("The token supply's cache answers again: lookups take tokens from it")
        return result

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            first, self._failing = not self._failing, True
            self._resting_until = time.monotonic() + OUTAGE_RETRY
        if first:
            logger.warning(
                "The token supply's cache (%r) failed (%s: %s): each lookup solves its own captcha "
                "until it answers again (asked every %g s)",
                app_settings.CACHE_ALIAS,
                type(exc).__name__,
                exc,
                OUTAGE_RETRY,
            )

    def ensure_filler(self) -> None:
        _FillerThread.ensure()


_supply = TokenSupply()


def stop_filler() -> None:
    """Stop this process's filler thread, if it runs, and forget a failure of the supply's cache
    (tests; a process about to exit)."""
    _FillerThread.stop_current()
    _supply.reset()


@receiver(setting_changed)
def _cache_settings_changed(setting: str, **kwargs: Any) -> None:
    # Another cache, or the same one configured anew: a failure of the old one says nothing of it.
    if setting in ("CACHES", "CEDULA_CACHE_ALIAS", "CEDULA_TOKEN_SUPPLY"):
        _supply.reset()


def get_token_supply() -> TokenSupply | None:
    """The cluster's token supply, or ``None`` when lookups solve for themselves: the token supply is off
    (``CEDULA_TOKEN_SUPPLY["ENABLED"]``), the cache is not shared between processes, or the backend runs jobs
    in the caller's process (inline)."""
    if not app_settings.TOKEN_SUPPLY_ENABLED or app_settings.CAPTCHA_SOLVER is None:
        return None
    if not is_shared_cache(app_settings.CACHE_ALIAS):
        return None
    from ..backends import get_backend

    if get_backend().runs_jobs_inline:
        return None
    return _supply


def _is_status(value: Any) -> bool:
    """Whether ``value`` is the filler's status as :meth:`Filler.tick` writes it."""
    if not isinstance(value, dict):
        return False
    in_flight, at = value.get("in_flight"), value.get("at")
    return isinstance(in_flight, int) and not isinstance(in_flight, bool) and in_flight >= 0 and is_time(at)


def supply_status() -> dict[str, Any]:
    """What the supply holds now, for ``cedula_stats`` and monitoring."""
    now = time.time()
    max_age = app_settings.TOKEN_MAX_AGE
    targets = active_targets(now)
    status = read(shared_cache(), STATUS_KEY, _is_status) or {"in_flight": 0, "at": 0.0}
    return {
        "enabled": get_token_supply() is not None,
        "stock": sum(TokenStore(shared_cache(), target, max_age).stock(now) for target in targets),
        "in_flight": status["in_flight"] if now - status["at"] < 60 else 0,
        "latency_estimate": round(latency_estimate(), 1),
        "targets": len(targets),
    }
