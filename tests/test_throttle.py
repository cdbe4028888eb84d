"""The cluster-wide rate limit and block pause, on Django's cache (local memory here, Redis in the
two-worker test)."""

from __future__ import annotations

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
    ("rate", "interval"), [("12/m", 5.0), ("1/s", 1.0), ("100/h", 36.0), ("1/5s", 5.0), ("2/10 s", 5.0)]
)
def test_parse_rate(rate: str, interval: float) -> None:
    assert throttle.parse_rate(rate) == interval


@pytest.mark.parametrize("rate", ["", "12", "0/m", "x/m", "12/fortnight"])
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
