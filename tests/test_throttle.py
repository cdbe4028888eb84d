"""The cluster-wide rate limit and block pause, on Django's cache (local memory here, Redis in the
two-worker test)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches

from django_cedula import throttle


@pytest.fixture(autouse=True)
def _fresh_cache(settings: Any) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"}
    }
    caches["default"].clear()


@pytest.mark.parametrize(
    ("rate", "interval"),
    [
        ("12/m", 5.0),
        ("1/s", 1.0),
        ("100/h", 36.0),
        ("1/5s", 5.0),
        ("2/10 s", 5.0),
        ("12/minute", 5.0),
        ("1/5secs", 5.0),
        ("3/hours", 1200.0),
        ("1/day", 86400.0),
    ],
)
def test_parse_rate(rate: str, interval: float) -> None:
    assert throttle.parse_rate(rate) == interval


@pytest.mark.parametrize(
    "rate",
    [
        "",
        "12",
        "0/m",
        "x/m",
        "12/fortnight",
        # A zero period, and units that are not seconds to days: "ms" is not read as "m".
        "1/0s",
        "1/00m",
        "1/5ms",
        "12/month",
        "1/5mins_",
        # Beyond a float's range.
        "1/" + "9" * 400 + "s",
        "9" * 400 + "/s",
    ],
)
def test_parse_rate_refuses_nonsense(rate: str) -> None:
    with pytest.raises(ValueError, match="not a rate"):
        throttle.parse_rate(rate)


def test_no_limit_grants_everything() -> None:
    assert all(throttle.acquire().granted for _ in range(100))


def test_one_lookup_per_slot_across_callers(settings: Any) -> None:
    settings.CEDULA_RATE_LIMIT = "12/m"  # one per 5 s
    now = 1_000_000.0  # the start of a slot
    first = throttle.acquire(now)
    assert first == throttle.Permit()
    second = throttle.acquire(now + 0.1)  # the next slot starts in 4.9 s: too far to sleep
    assert not second.granted
    assert second.reason == "rate_limit"
    assert second.wait == pytest.approx(4.9)
    third = throttle.acquire(now + 3.5)  # next slot in 1.5 s: reserved, sleep for it
    assert third.granted
    assert third.wait == pytest.approx(1.5)
    assert not throttle.acquire(now + 3.6).granted  # that slot is taken now


def test_a_block_pauses_everyone_for_the_cooldown(settings: Any) -> None:
    settings.CEDULA_BLOCK_COOLDOWN = 600
    throttle.report_block(now=1000.0)
    permit = throttle.acquire(now=1100.0)
    assert permit == throttle.Permit(granted=False, wait=500.0, reason="blocked")
    assert throttle.acquire(now=1601.0).granted


def test_no_cooldown_means_no_pause(settings: Any) -> None:
    settings.CEDULA_BLOCK_COOLDOWN = 0
    throttle.report_block()
    assert throttle.blocked_for() == 0


def test_turns_are_spaced_by_the_interval_not_a_grid(settings: Any) -> None:
    settings.CEDULA_RATE_LIMIT = "1/s"
    assert throttle.acquire(now=100.95) == throttle.Permit()
    # Just past a whole second: a grid of slots would let this one go at once, 50 ms later.
    second = throttle.acquire(now=101.0)
    assert second.granted
    assert second.wait == pytest.approx(0.95)


def test_a_lock_left_by_a_crashed_worker_defers_rather_than_hangs(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CEDULA_RATE_LIMIT = "12/m"
    monkeypatch.setattr(throttle, "LOCK_PATIENCE", 0.05)
    caches["default"].add(throttle.LOCK_KEY, 1, timeout=60)
    permit = throttle.acquire()
    assert not permit.granted
    assert permit.reason == "rate_limit"
    caches["default"].delete(throttle.LOCK_KEY)
    assert throttle.acquire().granted


# --------------------------------------------------------------------------- the cache only where needed

DEAD_REDIS = {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": "redis://127.0.0.1:9",  # nothing listens there: every call fails
}


def test_a_dead_cache_does_not_stop_lookups_when_neither_feature_is_on(settings: Any) -> None:
    settings.CACHES = {**settings.CACHES, "dead": DEAD_REDIS}
    settings.CEDULA_CACHE_ALIAS = "dead"
    settings.CEDULA_RATE_LIMIT = None
    settings.CEDULA_BLOCK_COOLDOWN = 0
    assert throttle.acquire() == throttle.Permit()
    throttle.report_block()  # a block with no cooldown has nothing to record


def test_a_dead_cache_still_fails_loudly_when_the_block_pause_is_on(settings: Any) -> None:
    # The caller (the job) defers on this error: the cluster's state is unknown.
    settings.CACHES = {**settings.CACHES, "dead": DEAD_REDIS}
    settings.CEDULA_CACHE_ALIAS = "dead"
    settings.CEDULA_RATE_LIMIT = None
    settings.CEDULA_BLOCK_COOLDOWN = 600
    with pytest.raises(Exception, match=r"(?i)connect"):
        throttle.acquire()


def test_a_pause_left_from_before_the_cooldown_was_turned_off_is_ignored(settings: Any) -> None:
    settings.CEDULA_BLOCK_COOLDOWN = 600
    throttle.report_block()
    settings.CEDULA_BLOCK_COOLDOWN = 0
    assert throttle.acquire().granted


# --------------------------------------------------------------------------- the lock is its holder's


class StallingCache:
    """A real cache whose first read of the next lookup's time waits until told to go on.

    That read happens while the caller holds the lock: the caller stalls inside it, as a worker
    starved of CPU or slowed by its cache would.
    """

    def __init__(self, cache: Any) -> None:
        self.cache = cache
        self.inside = threading.Event()
        self.go_on = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cache, name)

    def get(self, key: str, *args: Any, **kwargs: Any) -> Any:
        if key == throttle.NEXT_KEY and not self.inside.is_set():
            self.inside.set()
            assert self.go_on.wait(30)
        return self.cache.get(key, *args, **kwargs)


@pytest.fixture(params=["locmem", "redis"])
def lock_cache(request: pytest.FixtureRequest, settings: Any) -> Iterator[Any]:
    """The throttle's cache: local memory, or the real Redis under a key prefix of this test's own."""
    if request.param == "redis":
        config = {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/0",
            "KEY_PREFIX": f"h_secrets_throttle_{uuid.uuid4().hex}",
        }
    else:
        config = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "lock-test"}
    settings.CACHES = {**settings.CACHES, "throttle": config}
    settings.CEDULA_CACHE_ALIAS = "throttle"
    settings.CEDULA_RATE_LIMIT = "1/10s"
    cache = caches["throttle"]
    yield cache
    cache.delete_many([throttle.LOCK_KEY, throttle.NEXT_KEY, throttle.LINE_KEY, throttle.BLOCK_KEY])


def test_a_holder_that_stalled_past_the_lock_s_life_leaves_the_next_holder_s_lock(
    lock_cache: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "LOCK_TIMEOUT", 1)  # whole seconds: Redis expiries are
    stalling = StallingCache(lock_cache)
    monkeypatch.setattr(throttle, "_cache", lambda: stalling)
    results: list[throttle.Permit] = []
    holder = threading.Thread(target=lambda: results.append(throttle.acquire()))
    holder.start()
    assert stalling.inside.wait(10)
    # The stalled holder's lock runs out (polled: Redis expires keys on its own clock)...
    deadline = time.monotonic() + 10
    while lock_cache.get(throttle.LOCK_KEY) is not None:
        assert time.monotonic() < deadline, "the lock never ran out"
        time.sleep(0.05)
    # ... and the next worker takes it.
    assert lock_cache.add(throttle.LOCK_KEY, "next holder", timeout=30)
    stalling.go_on.set()
    holder.join(10)
    assert not holder.is_alive()
    assert lock_cache.get(throttle.LOCK_KEY) == "next holder", (
        "the stalled holder released a lock not its own"
    )
    # Nor did it take the slot the new holder is about to give out.
    (permit,) = results
    assert not permit.granted
    assert lock_cache.get(throttle.NEXT_KEY) is None


def test_the_holder_releases_its_own_lock(lock_cache: Any) -> None:
    assert throttle.acquire().granted
    assert lock_cache.get(throttle.LOCK_KEY) is None
    assert lock_cache.get(throttle.NEXT_KEY) is not None  # the next slot was pushed back
    second = throttle.acquire()
    assert not second.granted
    assert lock_cache.get(throttle.LOCK_KEY) is None  # released on the deferral path as well


def test_a_holder_past_its_release_time_leaves_even_its_own_lock_to_run_out(
    lock_cache: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A margin longer than the lock's life: the holder can no longer be sure the lock is its own.
    monkeypatch.setattr(throttle, "RELEASE_MARGIN", throttle.LOCK_TIMEOUT)
    assert throttle.acquire().granted
    assert lock_cache.get(throttle.LOCK_KEY) is not None, "a lock it could not be sure of was deleted"
    deadline = time.monotonic() + 10
    while lock_cache.get(throttle.LOCK_KEY) is not None:
        assert time.monotonic() < deadline, "the lock never ran out"
        time.sleep(0.05)


def test_the_throttle_uses_the_cache_s_public_methods_only() -> None:
    source = Path(throttle.__file__).read_text()
    assert "._cache" not in source
    assert "get_client" not in source


def test_a_file_based_cache_sets_no_default_rate_limit(settings: Any, tmp_path: Path) -> None:
    # Its add() is not atomic across processes: the lock would not hold for the cluster.
    del settings.CEDULA_RATE_LIMIT  # the tests' settings turn it off; unset, the default applies
    file_cache = "django.core.cache.backends.filebased.FileBasedCache"
    settings.CACHES = {"default": {"BACKEND": file_cache, "LOCATION": str(tmp_path)}}
    assert throttle.interval() == 0.0


# --------------------------------------------------------------------------- garbage in the cache


@pytest.mark.parametrize(
    "garbage", ["garbage", float("nan"), float("inf"), True, [1.0], time.time() + 10 * throttle.NEXT_HORIZON]
)
def test_garbage_for_the_next_turn_is_replaced_not_fatal(
    lock_cache: Any, garbage: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: ``float("garbage")`` raised on every acquire, and every job deferred 60 s, for ever."""
    monkeypatch.setattr(throttle, "_garbage_logged", {})  # what earlier tests logged
    lock_cache.set(throttle.NEXT_KEY, garbage, timeout=None)
    assert throttle.acquire().granted
    assert throttle.is_time(lock_cache.get(throttle.NEXT_KEY))
    assert lock_cache.get(throttle.NEXT_KEY) < time.time() + 60
    assert "The shared cache held garbage under django_cedula:next_lookup_at" in caplog.text


def test_a_lock_value_no_holder_writes_is_deleted_even_without_an_expiry(lock_cache: Any) -> None:
    lock_cache.set(throttle.LOCK_KEY, "garbage", timeout=None)
    assert throttle.acquire().granted


def test_a_lock_left_without_an_expiry_gets_one(lock_cache: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A holder's token with no expiry (a cache that lost it): one wait gives up, and gives it one."""
    monkeypatch.setattr(throttle, "LOCK_PATIENCE", 0.05)
    monkeypatch.setattr(throttle, "LOCK_TIMEOUT", 1)
    lock_cache.set(throttle.LOCK_KEY, 12345, timeout=None)
    assert not throttle.acquire().granted
    deadline = time.monotonic() + 10
    while lock_cache.get(throttle.LOCK_KEY) is not None:
        assert time.monotonic() < deadline, "the lock never ran out"
        time.sleep(0.05)
    assert throttle.acquire().granted


@pytest.mark.parametrize("garbage", ["garbage", float("inf"), time.time() + 10**9, {"until": 1}])
def test_a_garbage_pause_is_deleted_not_a_pause_for_ever(
    lock_cache: Any, settings: Any, garbage: Any
) -> None:
    settings.CEDULA_RATE_LIMIT = None
    settings.CEDULA_BLOCK_COOLDOWN = 600
    for key in (throttle.BLOCK_KEY, throttle.block_key("wsp")):
        lock_cache.set(key, garbage, timeout=None)
    assert throttle.acquire(sources=["wsp", "censo"]).granted
    assert throttle.blocked_for() == 0
    assert throttle.pauses(["wsp"])["sources"] == {"wsp": 0.0}
    assert lock_cache.get(throttle.BLOCK_KEY) is None
    assert lock_cache.get(throttle.block_key("wsp")) is None
    throttle.report_block(source="wsp")  # a real pause after it still counts
    assert 500 < throttle.blocked_for(source="wsp") <= 600


def test_a_garbage_end_of_line_is_replaced_by_the_next_deferral(lock_cache: Any) -> None:
    lock_cache.set(throttle.LINE_KEY, "garbage", timeout=None)
    assert throttle.acquire().granted
    deferred = throttle.acquire()  # 1/10s: the next turn is 10 s away
    assert not deferred.granted
    assert 0 < deferred.wait <= 11
    assert throttle.is_time(lock_cache.get(throttle.LINE_KEY))


def test_undecodable_values_and_other_types_on_real_redis_are_garbage(settings: Any) -> None:
    """What only a raw client can write: bytes that are no pickle, a list where a value should be."""
    import redis

    prefix = f"throttle-garbage-{uuid.uuid4().hex}"
    settings.CACHES = {
        **settings.CACHES,
        "shared": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/12",
            "KEY_PREFIX": prefix,
        },
    }
    settings.CEDULA_CACHE_ALIAS = "shared"
    settings.CEDULA_RATE_LIMIT = "1/10s"
    settings.CEDULA_BLOCK_COOLDOWN = 600
    cache = caches["shared"]
    client = redis.Redis(host="127.0.0.1", port=6379, db=12)
    try:
        client.set(cache.make_key(throttle.NEXT_KEY), b"\x80\x05garbage")
        client.rpush(cache.make_key(throttle.BLOCK_KEY), "a list")
        client.set(cache.make_key(throttle.block_key("wsp")), b"not a pickle")
        assert throttle.acquire(sources=["wsp", "censo"]).granted
        assert throttle.is_time(cache.get(throttle.NEXT_KEY))
        assert not client.exists(cache.make_key(throttle.BLOCK_KEY))
        assert not client.exists(cache.make_key(throttle.block_key("wsp")))
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
