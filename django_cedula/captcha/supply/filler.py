"""The filler: the rounds that start solves and stock their tokens, run by one worker process of the
cluster at a time (the leader, by a lease in the cache), on a daemon thread of its own."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable

from django.db import close_old_connections, connection

from ...conf import app_settings
from ...exceptions import CaptchaError, CaptchaUnreachable
from .. import spend
from ..base import CaptchaSolver, SolvedToken, get_captcha_solver
from .sizing import (
    MAX_IN_FLIGHT,
    active_targets,
    demand,
    lookup_interval,
    plan_solves,
    planning_latency,
    record_latency,
)
from .store import PREFIX, Target, TokenStore, shared_cache

logger = logging.getLogger("django_cedula.captcha.supply")

#: Seconds between two rounds of the filler.
TICK = 1.0
#: Seconds a leader's lease lasts without renewal; another worker takes over after that.
LEASE = 15.0
#: A solve of the filler's is abandoned after this long (the slowest first solves reported).
SOLVE_TIMEOUT = 150.0

LEADER_KEY = PREFIX + "leader"
STATUS_KEY = PREFIX + "status"


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
        if cache.get(LEADER_KEY) == self.identity:
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
        max_age = app_settings.CAPTCHA_TOKEN_MAX_AGE
        for target in active_targets(now):
            store = TokenStore(shared_cache(), target, max_age)
            spend.count("expired", store.prune(now))
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
                min_tokens=app_settings.CAPTCHA_POOL_MIN_TOKENS,
                lifetime=max_age,
                # Tokens still good once a solve started now is back.
                lasting=store.stock(now + latency),
            )
            for _ in range(count):
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

            solve.future = self._pool().submit(timed)
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
            store = TokenStore(shared_cache(), solve.target, app_settings.CAPTCHA_TOKEN_MAX_AGE)
            store.put(token, solved_at=solve.solved_at())
        self.in_flight = still

    def _result(self, solver: CaptchaSolver, solve: _Solve, now: float) -> SolvedToken | None:
        if solve.future is not None:
            if not solve.future.done():
                return None
            return solve.future.result()
        if now < solve.next_poll:
            return None
        solve.next_poll = now + solver.poll_interval
        try:
            token = solver.poll(solve.ref)
        except CaptchaUnreachable:
            return None  # no answer is not a "not ready": the token may be ready and ageing
        if token is None:
            solve.unfinished_at = now
        elif not token.seconds:
            token = dataclasses.replace(token, seconds=now - solve.started)
        return token

    def _pool(self) -> concurrent.futures.ThreadPoolExecutor:
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
