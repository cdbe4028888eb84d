"""A captcha "solver" for the local replica: issues tokens the replica accepts, without any network.

Configure it with::

    CEDULA_CAPTCHA_SOLVER = {
        "BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver",
        "OPTIONS": {},                                        # tokens at once
        # "OPTIONS": {"delay": 4},                            # every solve takes 4 s
        # "OPTIONS": {"latency_median": 30, "latency_p90": 60, "seed": 1},
    }

Its solves cost nothing: ``price_per_1000`` defaults to 0 (the spend's estimates show 0.00).

Each token is new, signed for the page's site key and stamped with its issue time
(:mod:`django_cedula.testing.replica.tokens`): the replica accepts it once, for two minutes, as Google
does. ``token="..."`` sends that fixed string instead (the replica refuses it: a way to test refusals);
``fail=True`` models a service that gives up. ``replica_url`` (``Replica.solver_settings()`` gives it)
gets each token from that replica's solve endpoint when the solve starts, so that the replica counts
every solve, whatever process asked (``Replica.solves()``): what a cluster spent.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, ClassVar

from ..captcha.base import CaptchaSolver, SolvedToken
from ..exceptions import CaptchaError
from .replica.tokens import issue_token

__all__ = ["P90_Z", "ReplicaCaptchaSolver"]

#: The 90th percentile of the standard normal distribution: a log-normal's p90 is median × e^(σ·P90_Z).
P90_Z = 1.2815515655446004


class ReplicaCaptchaSolver(CaptchaSolver):
    """The replica's solving service: a token after a latency, for the site key the page carries.

    Latency: ``delay`` seconds every time, or, with ``latency_median`` and ``latency_p90``, a log-normal
    draw (σ = ln(p90 / median) / 1.2816) from a generator seeded with ``seed``, so that a run can be
    repeated. A blocking :meth:`solve` gives up at its ``timeout`` when the draw is longer (as a real
    service's late answer would be of no use); :meth:`submit` / :meth:`poll` keep any number of solves in
    flight without a thread each.

    What tests can read: :attr:`calls` (``(site_key, page_url)`` of every solve and submit),
    :attr:`reports` (``(ref, accepted)`` of every :meth:`report`) and :attr:`latencies` (every draw).
    :attr:`clock` and :attr:`sleep` are ``time.monotonic`` and ``time.sleep``; tests may replace them.
    """

    supports_reports: ClassVar[bool] = True
    supports_submit: ClassVar[bool] = True

    def __init__(
        self,
        *,
        token: str | None = None,
        delay: float = 0.0,
        latency_median: float | None = None,
        latency_p90: float | None = None,
        seed: int = 0,
        fail: bool = False,
        poll_interval: float = 0.25,
        replica_url: str | None = None,
        **options: Any,
    ) -> None:
        if delay < 0:
            raise ValueError("delay must not be negative")
        if (latency_median is None) != (latency_p90 is None):
            raise ValueError("latency_median and latency_p90 go together")
        if latency_median is not None and latency_p90 is not None:
            if delay:
                raise ValueError("give either delay or latency_median and latency_p90, not both")
            if not 0 < latency_median <= latency_p90:
                raise ValueError("latency_median must be positive and latency_p90 at least latency_median")
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        if replica_url is not None and not str(replica_url).startswith(("http://", "https://")):
            raise ValueError("replica_url must be the replica's http:// URL")
        super().__init__(**options)
        self.keep_options(
            token=token,
            delay=delay,
            latency_median=latency_median,
            latency_p90=latency_p90,
            seed=seed,
            fail=fail,
            poll_interval=poll_interval,
            # Kept only when given: a solver without it has the options it always had.
            **({} if replica_url is None else {"replica_url": replica_url}),
        )
        #: The replica whose solve endpoint issues (and counts) the tokens; ``None``: issued here.
        self.replica_url = replica_url
        #: The fixed string to send instead of a fresh token (``None``: issue tokens).
        self.token = token
        self.delay = float(delay)
        self.latency_median = None if latency_median is None else float(latency_median)
        self.latency_p90 = None if latency_p90 is None else float(latency_p90)
        #: σ of the log-normal (``None`` with a fixed ``delay``).
        self.sigma = (
            None
            if self.latency_median is None or self.latency_p90 is None
            else math.log(self.latency_p90 / self.latency_median) / P90_Z
        )
        self.seed = seed
        self.fail = fail
        # ``poll_interval`` is a class attribute of the interface; this instance's value shadows it.
        vars(self)["poll_interval"] = float(poll_interval)
        self.calls: list[tuple[str, str]] = []
        self.reports: list[tuple[str, bool]] = []
        self.latencies: list[float] = []
        self.clock: Callable[[], float] = time.monotonic
        self.sleep: Callable[[float], None] = time.sleep
        self._random = random.Random(seed)
        self._refs = itertools.count(1)
        # ref -> (ready at on self.clock, site key, latency, token from the replica or None) of the
        # submitted solves not yet delivered.
        self._pending: dict[str, tuple[float, str, float, str | None]] = {}
        self._lock = threading.Lock()

    # -- the latency model ---------------------------------------------------------------------

    def draw_latency(self) -> float:
        """The next solve's latency, in seconds (the fixed ``delay``, or the next log-normal draw)."""
        with self._lock:
            if self.latency_median is None or self.sigma is None:
                latency = self.delay
            else:
                latency = self._random.lognormvariate(math.log(self.latency_median), self.sigma)
            self.latencies.append(latency)
            return latency

    def _start(self, site_key: str, page_url: str) -> tuple[str, float, str | None]:
        with self._lock:
            self.calls.append((site_key, page_url))
            ref = f"replica-{next(self._refs)}"
        if not site_key:
            raise CaptchaError("the page carries no reCAPTCHA site key")
        return ref, self.draw_latency(), self._from_replica(site_key)

    def _from_replica(self, site_key: str) -> str | None:
        """A token from the replica's solve endpoint (which counts it), when ``replica_url`` is set."""
        if self.replica_url is None:
            return None
        query = urllib.parse.urlencode({"k": site_key})
        url = f"{self.replica_url.rstrip('/')}/recaptcha/replica/solve?{query}"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(url, timeout=10) as answer:
                token = json.loads(answer.read().decode("utf-8"))["token"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CaptchaError(f"the replica's solve endpoint failed: {type(exc).__name__}") from None
        return str(token)

    def _deliver(self, site_key: str, issued: str | None = None) -> str:
        if self.fail:
            raise CaptchaError("the replica solver was told to fail")
        if self.token is not None:
            return self.token
        return issued if issued is not None else issue_token(site_key)

    # -- the interface -------------------------------------------------------------------------

    def solve(self, site_key: str, page_url: str, *, timeout: float | None = None) -> str:
        """A token after the drawn latency; no network call."""
        return self.solve_token(site_key, page_url, timeout=timeout).value

    def solve_token(self, site_key: str, page_url: str, *, timeout: float | None = None) -> SolvedToken:
        """:meth:`solve`, with the solve's ``ref`` and its latency as ``seconds``."""
        ref, latency, issued = self._start(site_key, page_url)
        if timeout is not None and latency > timeout:
            # A real service's answer would come after the lookup gave up: of no use to it.
            self.sleep(max(timeout, 0.0))
            raise CaptchaError(f"no token within the {max(timeout, 0.0):.0f} s the lookup had left")
        if latency:
            self.sleep(latency)
        return SolvedToken(value=self._deliver(site_key, issued), ref=ref, seconds=latency)

    def submit(self, site_key: str, page_url: str) -> str:
        """Start a solve and return its ``ref``: its token is ready a drawn latency from now."""
        ref, latency, issued = self._start(site_key, page_url)
        with self._lock:
            self._pending[ref] = (self.clock() + latency, site_key, latency, issued)
        return ref

    def poll(self, ref: str) -> SolvedToken | None:
        """The token of solve ``ref`` once its latency has passed (``None`` before); delivered once."""
        with self._lock:
            pending = self._pending.get(ref)
            if pending is None:
                raise CaptchaError(f"no solve {ref!r} in flight")
            ready_at, site_key, latency, issued = pending
            if self.clock() < ready_at:
                return None
            del self._pending[ref]
        return SolvedToken(value=self._deliver(site_key, issued), ref=ref, seconds=latency)

    @property
    def in_flight(self) -> int:
        """Submitted solves not delivered yet."""
        with self._lock:
            return len(self._pending)

    def report(self, ref: str, *, accepted: bool) -> None:
        """Record that the site did (or did not) accept the token of solve ``ref``."""
        with self._lock:
            self.reports.append((ref, accepted))
