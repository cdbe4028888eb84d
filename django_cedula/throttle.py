"""Politeness across the whole cluster: a shared rate limit and a pause after a block.

The pause belongs to the source that blocked when ``CEDULA_SOURCES`` is a chain of sources (a key
per ``source_name``); a single source pauses everything, under the key it always used.

Both live in Django's cache (``CEDULA_CACHE_ALIAS``), so every worker of every machine that
shares the cache obeys them. Use a cache that all workers share (Redis, Memcached, the
database cache); the local-memory cache only coordinates the threads of one process.

The rate limit spaces lookups: ``"12/m"`` means consecutive lookups anywhere in the cluster start
at least 5 seconds apart (never a burst of 12 at the top of the minute). The cache holds the time
the next lookup may start; a worker reads and advances it under a short lock taken with the
cache's atomic ``add``.

A job whose free slot is further away than the worker should sleep is deferred instead. Deferred
jobs are lined up: each is told to come back one interval after the previous one, so a backlog of
thousands returns at the pace of the limit rather than all at once.

Every value read back from the cache is checked (:func:`read`): a cache is shared, and whatever
another program, an old version or an operator left under one of these keys must not stop lookups.
A value that is not what the package writes is ignored, logged (once an hour per key at the most),
and deleted where no other worker's valid write can be lost by it.
"""

from __future__ import annotations

import logging
import math
import pickle
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import BaseCache, caches

from .conf import app_settings

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# A unit is its letter or its word ("12/m", "12/min", "12/minute"): a longer word such as "ms" or
# "month" is refused rather than read by its first letter ("1/5ms" is not 5 minutes).
_UNIT = r"s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?"
_RATE = re.compile(rf"\s*(\d+)\s*/\s*(\d*)\s*({_UNIT})\s*")

BLOCK_KEY = "django_cedula:blocked_until"
NEXT_KEY = "django_cedula:next_lookup_at"
LOCK_KEY = "django_cedula:next_lookup_lock"
LINE_KEY = "django_cedula:line_ends_at"
#: Seconds a crashed lock holder can block the others (the lock is held for two cache calls).
LOCK_TIMEOUT = 2
#: Seconds a cache may take off a key's timeout: Memcached and the database cache keep expiry times in
#: whole seconds, so a lock given ``LOCK_TIMEOUT`` may be gone one second sooner.
EXPIRY_ROUNDING = 1.0
#: Seconds kept in hand for the release to reach the cache while the lock is still the holder's.
RELEASE_MARGIN = 0.5
#: How long a worker tries to take the lock before giving up and deferring.
LOCK_PATIENCE = 5.0
#: A turn starting within this many seconds is worth sleeping for; a later one, deferring.
#: Callers may allow more (a backend that cannot bring a job back sooner than its own tick).
MAX_SLEEP = 2.0
#: How long a job waits when the cache itself fails: the cluster's pace is then unknown.
CACHE_FAILURE_WAIT = 60.0
#: Seconds the clocks of two machines sharing the cache may disagree by, for the checks of the
#: times they write: a pause reported by a machine ahead must not read as garbage on another.
CLOCK_SKEW = 300.0
#: The furthest ahead the next lookup's time can legitimately be: a turn is reserved at most a
#: backend's defer granularity ahead (30 s for Django-Q2) plus one interval. Further is garbage.
NEXT_HORIZON = 3600.0


# -- reading the shared cache: what is not the package's own value is garbage, never fatal

#: What :func:`fetch` returns for a value the cache cannot decode.
GARBAGE: Any = object()
#: Seconds between two log lines about garbage under the same key.
GARBAGE_LOG_INTERVAL = 3600.0
#: Key -> ``time.monotonic()`` of its last log line about garbage.
_garbage_logged: dict[str, float] = {}
_garbage_lock = threading.Lock()


def undecodable(exc: BaseException) -> bool:
    """Whether ``exc``, raised by a cache's ``get``, means the value stored is garbage (it cannot be
    decoded: bytes that are no pickle, a class that no longer exists; on Redis a key holding a list
    or a hash) rather than that the cache is down."""
    if isinstance(
        exc,
        (
            pickle.UnpicklingError,
            EOFError,
            ValueError,
            TypeError,
            AttributeError,
            ImportError,
            IndexError,
            KeyError,
        ),
    ):
        return True
    return type(exc).__name__ == "ResponseError" and str(exc).startswith("WRONGTYPE")


def log_garbage(key: str, what: str) -> None:
    """Say that ``key`` held garbage (what it was, never the value): once an hour per key at the
    most, so that garbage read on every lookup (where it cannot be deleted) is not a line each."""
    now = time.monotonic()
    with _garbage_lock:
        last = _garbage_logged.get(key)
        if last is not None and now - last < GARBAGE_LOG_INTERVAL:
            return
        _garbage_logged[key] = now
    logger.warning("The shared cache held garbage under %s (%s): ignored", key, what)


def fetch(cache: BaseCache, key: str) -> Any:
    """``cache.get(key)``, or :data:`GARBAGE` when the value cannot be decoded. A cache that is down
    raises, as ``get`` does."""
    try:
        return cache.get(key)
    except Exception as exc:
        if not undecodable(exc):
            raise
        return GARBAGE


def describe(value: Any) -> str:
    """What garbage is, for a log line: its type, never the value."""
    return "undecodable" if value is GARBAGE else f"a {type(value).__name__}"


def read(cache: BaseCache, key: str, valid: Callable[[Any], bool], *, delete: bool = True) -> Any:
    """The value under ``key`` if ``valid`` says it is one the package wrote; ``None`` when there is
    none or it is garbage (undecodable, or refused by ``valid``): logged once and, with ``delete``,
    deleted. A cache that is down raises, as ``get`` does."""
    value = fetch(cache, key)
    if value is None or (value is not GARBAGE and valid(value)):
        return value
    log_garbage(key, describe(value))
    if delete:
        cache.delete(key)
    return None


def read_many(
    cache: BaseCache, keys: Iterable[str], valid: Callable[[Any], bool], *, delete: bool = True
) -> dict[str, Any]:
    """:func:`read` for several keys, in one round trip unless one of them cannot be decoded."""
    keys = list(keys)
    try:
        found = cache.get_many(keys)
    except Exception as exc:
        if not undecodable(exc):
            raise
        found = {key: value for key in keys if (value := read(cache, key, valid, delete=delete)) is not None}
    good = {}
    for key, value in found.items():
        if valid(value):
            good[key] = value
            continue
        log_garbage(key, describe(value))
        if delete:
            cache.delete(key)
    return good


def is_time(value: Any) -> bool:
    """Whether ``value`` is a time as the package stores one: a finite number of seconds."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_rate(rate: str) -> float:
    """Seconds between lookups for a rate such as ``"12/m"``, ``"1/5s"`` or ``"100/h"``.

    The count and the period must be more than 0, and the unit ``s``, ``m``, ``h`` or ``d`` (or its
    word: ``sec``, ``min``, ``hour``, ``day``, with or without a plural ``s``); anything else raises
    ``ValueError``.
    """
    refused = ValueError(f"not a rate: {rate!r} (examples: '12/m', '1/5s', '100/h')")
    match = _RATE.fullmatch(rate)
    if not match:
        raise refused
    count, multiple, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
    if count <= 0 or multiple <= 0:
        raise refused
    try:
        interval = multiple * _PERIODS[unit[0]] / count
    except OverflowError:  # digits beyond a float's range
        raise refused from None
    if not 0 < interval < math.inf:
        raise refused
    return interval


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


def block_key(source: str | None = None) -> str:
    """The cache key of the pause of ``source`` (a scraper's ``source_name``); ``None``: the pause of
    every source, the one key a single source has always used (:data:`BLOCK_KEY`)."""
    return f"{BLOCK_KEY}:{source}" if source else BLOCK_KEY


def blocked_for(now: float | None = None, *, source: str | None = None) -> float:
    """Seconds left in the cluster-wide pause after a block (0 when there is none).

    With ``source``: the pause of that source (an entry of a ``CEDULA_SOURCES`` chain), or the pause
    of every source if that one ends later.
    """
    keys = [BLOCK_KEY] if not source else [BLOCK_KEY, block_key(source)]
    now = time.time() if now is None else now
    found = _read_pauses(keys, now)
    until = max((float(value) for value in found.values()), default=None)
    return max(until - now, 0.0) if until is not None else 0.0


def _read_pauses(keys: Sequence[str], now: float) -> dict[str, Any]:
    """The pauses under ``keys`` that are times; garbage is deleted (a pause reported in the same
    instant could be lost with it: the next blocked lookup reports it again). A pause that ends
    further away than a whole cooldown (and the clocks' skew) from now was not written with this
    cooldown: garbage too, or an eternal pause could be written by hand."""
    cooldown = app_settings.BLOCK_COOLDOWN
    # With the pause turned off no lookup reads one: a pause left from before is no garbage.
    latest = now + cooldown + CLOCK_SKEW if cooldown > 0 else math.inf
    cache = _cache()
    if len(keys) == 1:
        value = read(cache, keys[0], lambda until: is_time(until) and until <= latest)
        return {} if value is None else {keys[0]: value}
    return read_many(cache, keys, lambda until: is_time(until) and until <= latest)


def pauses(sources: Sequence[str] = (), now: float | None = None) -> dict[str, Any]:
    """Seconds left of each pause after a block, 0 where there is none: ``every_source`` (a single
    scraper's, or one that stops a whole chain) and ``sources``, one for each name given. One
    cache round trip; a cache error is raised."""
    now = time.time() if now is None else now
    found = _read_pauses([BLOCK_KEY, *(block_key(source) for source in sources)], now)

    def left(key: str) -> float:
        until = found.get(key)
        return max(float(until) - now, 0.0) if until is not None else 0.0

    return {
        "every_source": left(BLOCK_KEY),
        "sources": {source: left(block_key(source)) for source in sources},
    }


def paused_for(sources: Sequence[str] | None, now: float | None = None) -> float:
    """Seconds until one of ``sources`` may be asked again (0: one may be asked now); ``None``:
    the single scraper's pause, :func:`blocked_for` without a source."""
    if not sources:
        return blocked_for(now)
    now = time.time() if now is None else now
    found = _read_pauses([BLOCK_KEY, *(block_key(source) for source in sources)], now)
    every = found.get(BLOCK_KEY)
    untils = [
        max(float(every) if every is not None else 0.0, float(found.get(block_key(source)) or 0.0))
        for source in sources
    ]
    return max(min(untils) - now, 0.0)


def report_block(now: float | None = None, *, source: str | None = None) -> None:
    """A lookup was blocked: pause lookups for ``CEDULA_BLOCK_COOLDOWN`` seconds on every worker.

    Without ``source``, every lookup pauses (a single entry in ``CEDULA_SOURCES``); with it, only the lookups
    of that source: a chain of scrapers asks its other sources meanwhile.
    """
    cooldown = app_settings.BLOCK_COOLDOWN
    if cooldown <= 0:
        return
    now = time.time() if now is None else now
    _cache().set(block_key(source), now + cooldown, timeout=math.ceil(cooldown) + 1)


def interval() -> float:
    """Seconds between lookups under ``CEDULA_RATE_LIMIT`` (0 when there is no limit)."""
    rate = app_settings.RATE_LIMIT
    return parse_rate(rate) if rate else 0.0


def acquire(
    now: float | None = None, *, max_sleep: float = MAX_SLEEP, sources: Sequence[str] | None = None
) -> Permit:
    """Take the right to make one lookup now, or learn how long to wait.

    A pause after a block comes first (with ``sources``, the names of a chain's entries: only when
    every one of them is paused); then the rate limit (``CEDULA_RATE_LIMIT``), when set. A
    turn starting within ``max_sleep`` seconds is reserved for the caller (``granted`` with a
    ``wait`` to sleep first); otherwise the caller is given a place in the line of deferred jobs.
    The rate limit is one for the cluster, whatever the sources: one turn covers a chain's lookup,
    which asks each source at most once.
    """
    fixed = now
    clock: Callable[[], float] = time.time if fixed is None else lambda: fixed
    spacing = interval()
    if not spacing and app_settings.BLOCK_COOLDOWN <= 0:
        # Neither feature is on: the cache is not needed, so a cache that is down must not stop
        # lookups (the caller defers on any error raised here).
        return Permit()
    started = clock()
    paused = paused_for(sources, started) if app_settings.BLOCK_COOLDOWN > 0 else 0.0
    if paused > 0:
        return Permit(
            granted=False, wait=_place_in_line(started, started + paused, spacing), reason="blocked"
        )
    if not spacing:
        return Permit()
    cache = _cache()
    held = _lock(cache)
    if held is None:
        return Permit(
            granted=False, wait=_place_in_line(started, started + spacing, spacing), reason="rate_limit"
        )
    try:
        current = clock()  # the lock may have taken a moment
        # Read under the lock: deleting garbage here cannot lose another worker's write.
        next_at = read(cache, NEXT_KEY, lambda at: is_time(at) and at <= current + NEXT_HORIZON + spacing)
        starts_at = max(current, float(next_at)) if next_at is not None else current
        wait = starts_at - current
        if wait <= max_sleep:
            # A holder that stalled past LOCK_TIMEOUT may have lost the lock to another worker,
            # which read the same next time: writing now would hand both the same slot. Not a
            # guarantee (the lock can still run out between this read and the write), but it
            # shrinks the window from the whole stall to one cache call.
            if cache.get(LOCK_KEY) == held.token:
                cache.set(NEXT_KEY, starts_at + spacing, timeout=math.ceil(wait + spacing) + 1)
                return Permit(wait=wait)
            starts_at = max(starts_at, current + spacing)  # the slot went to the new holder
    finally:
        _unlock(cache, held)
    return Permit(granted=False, wait=_place_in_line(current, starts_at, spacing), reason="rate_limit")


@dataclass(frozen=True)
class _Held:
    """The throttle's lock, as its holder took it."""

    #: The value stored under :data:`LOCK_KEY`: the holder's alone.
    token: int
    #: ``time.monotonic()`` before which the lock is still the holder's, however the cache rounds its
    #: expiry, with :data:`RELEASE_MARGIN` left for a release to arrive.
    release_by: float


def _lock(cache: BaseCache, key: str = LOCK_KEY, patience: float = LOCK_PATIENCE) -> _Held | None:
    """Take the short lock (``key``) around reading and advancing the next lookup's time.

    ``None`` if the lock could not be had within ``patience``. Only the holder may release it
    (:func:`_unlock`).
    """
    token = secrets.randbits(62) + 1
    deadline = time.monotonic() + patience
    looked = False
    while True:
        # Read before asking: the lock's life starts in the cache, after this.
        asked_at = time.monotonic()
        if cache.add(key, token, timeout=LOCK_TIMEOUT):
            return _Held(token, asked_at + LOCK_TIMEOUT - EXPIRY_ROUNDING - RELEASE_MARGIN)
        if not looked:
            # Once per wait: a value no holder writes (garbage, and perhaps without an expiry) would
            # keep the lock taken for ever; it is deleted, and the lock asked for again at once.
            looked = True
            if read(cache, key, _is_lock_token) is None:
                continue
        if time.monotonic() > deadline:
            # A holder's lock always has an expiry. One left without (written by hand, or kept by a
            # cache that lost its expiry) gets one now, so that the next wait can end. A live lock
            # is only kept LOCK_TIMEOUT longer: waits (LOCK_PATIENCE) outlast it, so waiters that
            # give up one after another cannot keep it alive between them.
            cache.touch(key, LOCK_TIMEOUT)
            return None
        time.sleep(0.01)


def _is_lock_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 2**62


def _unlock(cache: BaseCache, held: _Held, key: str = LOCK_KEY) -> None:
    """Release the lock while it is certainly still the holder's; after that, leave it to run out.

    Django's cache API has no compare-and-delete, and the throttle uses its public methods only. The
    holder knows when it asked for the lock, so it knows how long no other worker can have it: until
    :attr:`_Held.release_by`, a plain delete removes only its own lock. A holder that stalled past
    that does nothing: the lock runs out within ``LOCK_TIMEOUT`` (the others wait for it or defer),
    and another worker that holds it by then keeps it.
    """
    if time.monotonic() < held.release_by:
        cache.delete(key)


# -- a part's own pace and pause (the pre-check's): a line of turns and a pause under keys of its own


def take_turn(key: str, spacing: float, *, max_wait: float) -> float | None:
    """Reserve the next turn of the line under ``key``, whose turns start ``spacing`` seconds apart
    anywhere in the cluster: the seconds to sleep before it, or ``None`` when it is further than
    ``max_wait`` (lock included; nothing is reserved then). Raises what the cache raises."""
    started = time.monotonic()
    cache = _cache()
    held = _lock(cache, f"{key}:lock", patience=max_wait)
    if held is None:
        return None
    try:
        current = time.time()
        next_at = read(cache, key, lambda at: is_time(at) and at <= current + NEXT_HORIZON + spacing)
        starts_at = max(current, float(next_at)) if next_at is not None else current
        wait = starts_at - current
        if wait + time.monotonic() - started > max_wait or cache.get(f"{key}:lock") != held.token:
            return None
        cache.set(key, starts_at + spacing, timeout=math.ceil(wait + spacing) + 1)
        return wait
    finally:
        _unlock(cache, held, f"{key}:lock")


def count(cache: BaseCache, key: str, timeout: int | None) -> int:
    """``key``'s count plus one, created at 1 (``add``, then ``incr``: atomic on Redis and Memcached).
    The timeout is set again after ``incr``: Django's generic ``incr`` (the database and file caches)
    writes the value back with the cache's default timeout."""
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        value = int(cache.incr(key))
    except ValueError:  # expired between the two calls
        cache.add(key, 1, timeout=timeout)
        return 1
    cache.touch(key, timeout)
    return value


def pause(key: str, seconds: float) -> None:
    """Pause what is paced under ``key`` for ``seconds`` on every worker (0: no pause)."""
    if seconds > 0:
        _cache().set(key, time.time() + seconds, timeout=math.ceil(seconds) + 1)


def paused(key: str, longest: float) -> float:
    """Seconds left of the pause under ``key`` (0: none); one ending further than ``longest`` seconds
    (and the clocks' skew) away is garbage, deleted. Raises what the cache raises."""
    now = time.time()
    until = read(_cache(), key, lambda at: is_time(at) and at <= now + longest + CLOCK_SKEW)
    return max(float(until) - now, 0.0) if until is not None else 0.0


def _place_in_line(now: float, earliest: float, spacing: float) -> float:
    """Seconds until a deferred job should come back: one ``spacing`` after the line's last job.

    The read and the write are not atomic: two workers deferring at the same instant may get the
    same time. That costs one of them another deferral when it comes back, never a faster pace;
    the lock around the next lookup's time decides who looks up.
    """
    cache = _cache()
    # Garbage is not deleted: it is overwritten just below.
    ends_at = read(cache, LINE_KEY, is_time, delete=False)
    due = max(earliest, float(ends_at) + spacing if ends_at is not None else earliest)
    cache.set(LINE_KEY, due, timeout=math.ceil(due - now + spacing) + 1)
    return due - now
