"""Politeness across the whole cluster: a shared rate limit and a pause after a block.

Both live in Django's cache (``CEDULA_CACHE_ALIAS``), so every worker of every machine that
shares the cache obeys them. Use a cache that all workers share (Redis, Memcached, the
database cache); the local-memory cache only coordinates the threads of one process.

The rate limit hands out time slots: ``"12/m"`` means one lookup per 5-second slot across
the cluster. A worker takes a slot with the cache's atomic ``add`` (one winner per slot), so
lookups are spread evenly instead of bursting at the start of each minute.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from django.core.cache import BaseCache, caches

from .conf import app_settings

_PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([smhd])\w*\s*")

BLOCK_KEY = "django_cedula:blocked_until"
SLOT_KEY = "django_cedula:slot:{}"
#: How many slots ahead a worker looks for a free one before deferring.
LOOKAHEAD = 50
#: A free slot starting within this many seconds is worth sleeping for; a later one, deferring.
MAX_SLEEP = 2.0


def parse_rate(rate: str) -> float:
    """Seconds between lookups for a rate such as ``"12/m"``, ``"1/5s"`` or ``"100/h"``."""
    match = _RATE.fullmatch(rate)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"not a rate: {rate!r} (examples: '12/m', '1/5s', '100/h')")
    count, multiple, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
    return multiple * _PERIODS[unit] / count


@dataclass(frozen=True)
class Permit:
    """The answer of :func:`acquire`.

    ``granted`` with ``wait`` 0: look up now. ``granted`` with a short ``wait``: a slot that
    starts ``wait`` seconds from now is reserved for the caller, who sleeps until then. Not
    ``granted``: nothing was reserved; the job should defer itself by ``wait`` seconds
    (``reason`` says why) instead of holding a worker.
    """

    granted: bool = True
    wait: float = 0.0
    reason: str = ""


def _cache() -> BaseCache:
    return caches[app_settings.CACHE_ALIAS]


def blocked_for(now: float | None = None) -> float:
    """Seconds left in the cluster-wide pause after a block (0 when there is none)."""
    until = _cache().get(BLOCK_KEY)
    now = time.time() if now is None else now
    return max(float(until) - now, 0.0) if until is not None else 0.0


def report_block(now: float | None = None) -> None:
    """A lookup was blocked: pause every worker's lookups for ``CEDULA_BLOCK_COOLDOWN`` seconds."""
    cooldown = app_settings.BLOCK_COOLDOWN
    if cooldown <= 0:
        return
    now = time.time() if now is None else now
    _cache().set(BLOCK_KEY, now + cooldown, timeout=math.ceil(cooldown) + 1)


def acquire(now: float | None = None) -> Permit:
    """Take the right to make one lookup now, or learn how long to wait.

    A pause after a block comes first; then the rate limit (``CEDULA_RATE_LIMIT``), when set.
    """
    now = time.time() if now is None else now
    paused = blocked_for(now)
    if paused > 0:
        return Permit(granted=False, wait=paused, reason="blocked")
    rate = app_settings.RATE_LIMIT
    if not rate:
        return Permit()
    interval = parse_rate(rate)
    cache = _cache()
    slot = math.floor(now / interval)
    for ahead in range(LOOKAHEAD):
        candidate = slot + ahead
        starts_in = max(candidate * interval - now, 0.0)
        if starts_in > MAX_SLEEP:
            return Permit(granted=False, wait=starts_in, reason="rate_limit")
        if cache.add(SLOT_KEY.format(candidate), 1, timeout=math.ceil(interval * (ahead + 2)) + 1):
            return Permit(wait=starts_in)
    return Permit(granted=False, wait=LOOKAHEAD * interval, reason="rate_limit")
