"""How many solves the supply starts: what is due, what arrivals predict, what politeness lets run,
and the solve latency measured from the solves themselves. The rule itself, :func:`plan_solves`,
is a pure function."""

from __future__ import annotations

import datetime
import math
import time

from django.db.models import Q
from django.utils import timezone

from ...conf import app_settings
from .store import PREFIX, TOKEN_LIFETIME, Target, shared_cache

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


def active_targets(now: float | None = None) -> list[Target]:
    """The targets lookups used within the last hour."""
    now = time.time() if now is None else now
    seen = shared_cache().get(TARGETS_KEY) or {}
    return [Target(*pair) for pair, last in seen.items() if now - last < TARGET_IDLE]


def note_target(target: Target, now: float | None = None) -> None:
    """Remember that lookups want tokens for ``target`` (at most one write a minute per target)."""
    now = time.time() if now is None else now
    cache = shared_cache()
    seen = dict(cache.get(TARGETS_KEY) or {})
    pair = (target.site_key, target.page_url)
    if now - seen.get(pair, 0.0) < 60:
        return
    seen = {key: last for key, last in seen.items() if now - last < TARGET_IDLE}
    seen[pair] = now
    cache.set(TARGETS_KEY, seen, timeout=int(TARGET_IDLE) + 60)


def record_latency(seconds: float) -> None:
    samples = list(shared_cache().get(LATENCY_KEY) or [])[-(LATENCY_SAMPLES - 1) :]
    samples.append(float(seconds))
    shared_cache().set(LATENCY_KEY, samples, timeout=int(TARGET_IDLE))


#: The percentile of recent solve durations the filler plans with (see :func:`plan_solves`).
PLANNING_PERCENTILE = 0.8


def latency_estimate() -> float:
    """The mean of the recent solves' durations (what ``cedula_stats`` shows)."""
    samples = shared_cache().get(LATENCY_KEY) or []
    return sum(samples) / len(samples) if samples else INITIAL_LATENCY


def planning_latency() -> float:
    """The :data:`PLANNING_PERCENTILE` of the recent solves' durations: what a new solve should be
    expected to take, tail included."""
    samples = sorted(shared_cache().get(LATENCY_KEY) or [])
    if not samples:
        return INITIAL_LATENCY
    return float(samples[min(int(len(samples) * PLANNING_PERCENTILE), len(samples) - 1)])


def lookup_interval() -> float:
    """Seconds between lookups the cluster's politeness allows (the rate limit, else the pacing)."""
    from ... import throttle

    return throttle.interval() or app_settings.MIN_LOOKUP_INTERVAL


def demand(lead: float) -> tuple[int, int]:
    """``(due, arrivals)``: rows whose attempt falls within ``lead`` seconds, and validations asked
    for within the last token lifetime (``CEDULA_CAPTCHA_TOKEN_MAX_AGE``: what arrived in the last
    lifetime predicts the next one).

    Rows not touched for ``CEDULA_SWEEP_PENDING_AFTER`` are left out: their job may be lost (a broker
    outage) and nothing would take their tokens until the sweeper queues them again.
    """
    from ...models import CedulaInfo, CedulaStatus

    now = timezone.now()
    recent = now - datetime.timedelta(seconds=app_settings.SWEEP_PENDING_AFTER)
    horizon = now + datetime.timedelta(seconds=lead)
    waiting = CedulaInfo.objects.filter(
        status__in=(CedulaStatus.PENDING, CedulaStatus.RETRYING), updated_at__gte=recent
    ).filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=horizon))
    due = waiting.count()
    arrivals = CedulaInfo.objects.filter(
        requested_at__gte=now - datetime.timedelta(seconds=app_settings.CAPTCHA_TOKEN_MAX_AGE)
    ).count()
    return due, arrivals
