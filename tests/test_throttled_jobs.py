"""The job under the cluster-wide throttle: deferring without losing the row, and the block pause.

One process and the local-memory cache here; the same paths with two real workers sharing Redis
are in tests/integration/test_politeness.py.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.utils import timezone

from django_cedula import sweeper, throttle
from django_cedula.models import CedulaInfo
from django_cedula.testing.backends import RecordingBackend
from django_cedula.testing.scrapers import FakeScraper

pytestmark = pytest.mark.django_db(transaction=True)
Status = CedulaInfo.Status


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def users(recording_backend: type[RecordingBackend], make_user: Callable[..., Any]) -> list[Any]:
    made = [make_user(cedula=f"10203040{n:02d}") for n in range(3)]
    assert [job.attempt for job in recording_backend.jobs] == [1, 1, 1]
    return made


def test_a_job_without_a_slot_gives_its_row_back_and_defers_itself(
    settings: Any, users: list[Any], recording_backend: type[RecordingBackend]
) -> None:
    settings.CEDULA_RATE_LIMIT = "1/h"  # the next slot is far away: no sleeping for it
    assert recording_backend.run_next() == Status.ACTIVE  # the first takes the current slot
    before = timezone.now()
    assert recording_backend.run_next() == Status.PENDING
    assert len(FakeScraper.calls) == 1  # the deferred job never reached the scraper

    second = CedulaInfo.objects.get(user=users[1])
    assert second.status == Status.PENDING
    assert second.retry_count == 0  # not a retry: nothing was looked up
    deferred = recording_backend.jobs[-1]
    assert (deferred.user_id, deferred.attempt) == (users[1].pk, 1)
    assert 0 < deferred.delay <= 3600
    assert second.next_attempt_at is not None
    assert second.next_attempt_at >= before + datetime.timedelta(seconds=deferred.delay - 1)


def test_deferred_jobs_are_lined_up_one_interval_apart(
    settings: Any, users: list[Any], recording_backend: type[RecordingBackend]
) -> None:
    settings.CEDULA_RATE_LIMIT = "1/h"
    recording_backend.run_next()
    recording_backend.run_next()
    recording_backend.run_next()
    first, second = (job.delay for job in recording_backend.jobs)
    assert second - first == pytest.approx(3600, abs=2)


def test_a_deferred_retry_keeps_its_attempt_and_retry_count(
    settings: Any, users: list[Any], recording_backend: type[RecordingBackend]
) -> None:
    FakeScraper.set_outcome(users[0].cedula, "timeout", "found")
    recording_backend.jobs[:] = recording_backend.jobs[:1]
    assert recording_backend.run_next() == Status.RETRYING
    settings.CEDULA_BLOCK_COOLDOWN = 600
    throttle.report_block()
    assert recording_backend.run_next() == Status.RETRYING  # attempt 2, paused
    info = CedulaInfo.objects.get(user=users[0])
    assert (info.status, info.retry_count) == (Status.RETRYING, 1)
    (job,) = recording_backend.jobs
    assert job.attempt == 2
    assert job.delay == pytest.approx(600, abs=2)

    caches["default"].delete(throttle.BLOCK_KEY)  # the pause is over
    assert recording_backend.run_next() == Status.ACTIVE
    assert CedulaInfo.objects.get(user=users[0]).retry_count == 1


def test_a_blocked_lookup_pauses_every_later_lookup(
    settings: Any, users: list[Any], recording_backend: type[RecordingBackend], caplog: Any
) -> None:
    settings.CEDULA_BLOCK_COOLDOWN = 900
    FakeScraper.set_outcome(users[0].cedula, "blocked")
    with caplog.at_level(logging.WARNING, logger="django_cedula"):
        assert recording_backend.run_next() == Status.RETRYING
    assert 800 < throttle.blocked_for() <= 900
    assert "pauses lookups for 900" in caplog.text

    assert recording_backend.run_next() == Status.PENDING
    assert recording_backend.run_next() == Status.PENDING
    assert FakeScraper.calls == [users[0].cedula]
    waiting = CedulaInfo.objects.filter(user__in=users[1:])
    assert {info.status for info in waiting} == {Status.PENDING}
    # Rescheduled, not dropped: the retry and both first attempts are queued again.
    assert sorted((job.user_id, job.attempt) for job in recording_backend.jobs) == sorted(
        [(users[0].pk, 2), (users[1].pk, 1), (users[2].pk, 1)]
    )
    waiting_jobs = [job for job in recording_backend.jobs if job.attempt == 1]
    assert all(job.delay >= 800 for job in waiting_jobs)


def test_no_cooldown_means_a_block_is_only_a_retry(
    settings: Any, users: list[Any], recording_backend: type[RecordingBackend]
) -> None:
    settings.CEDULA_BLOCK_COOLDOWN = 0
    FakeScraper.set_outcome(users[0].cedula, "blocked")
    recording_backend.run_next()
    assert recording_backend.run_next() == Status.ACTIVE


def test_a_backend_that_cannot_defer_leaves_the_row_for_the_sweeper(
    settings: Any, make_user: Callable[..., Any]
) -> None:
    settings.CEDULA_TASKS = {"BACKEND": "django_cedula.backends.inline.InlineBackend"}
    settings.CEDULA_RATE_LIMIT = "1/h"
    settings.CEDULA_SWEEP = {"PENDING_AFTER": 60}
    make_user(cedula="1020304050")
    second = make_user(cedula="1020304051")  # the inline job runs here; it must not sleep an hour
    info = CedulaInfo.objects.get(user=second)
    assert info.status == Status.PENDING
    assert info.next_attempt_at is not None
    assert FakeScraper.calls == ["1020304050"]

    due = info.next_attempt_at + datetime.timedelta(minutes=2)
    assert second.pk in {row.user_id for row in sweeper.candidates(now=due)["pending"]}


def test_a_failing_cache_defers_rather_than_looking_up(
    settings: Any, users: list[Any], recording_backend: type[RecordingBackend], caplog: Any
) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "broken": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9",
        },
    }
    settings.CEDULA_CACHE_ALIAS = "broken"
    settings.CEDULA_BLOCK_COOLDOWN = 600  # the pause after a block needs the cache
    with caplog.at_level(logging.ERROR, logger="django_cedula"):
        assert recording_backend.run_next() == Status.PENDING
    assert FakeScraper.calls == []
    assert recording_backend.jobs[-1].delay == throttle.CACHE_FAILURE_WAIT
    assert "The throttle's cache ('broken') failed" in caplog.text


def test_the_sweeper_leaves_a_deferred_row_alone_until_it_is_due(
    settings: Any, users: list[Any], recording_backend: type[RecordingBackend]
) -> None:
    settings.CEDULA_SWEEP = {"PENDING_AFTER": 60}
    later = timezone.now() + datetime.timedelta(hours=2)
    CedulaInfo.objects.filter(user=users[0]).update(
        updated_at=timezone.now() - datetime.timedelta(hours=1), next_attempt_at=later
    )
    found = sweeper.candidates()["pending"]
    assert users[0].pk not in {info.user_id for info in found}
    found = sweeper.candidates(now=later + datetime.timedelta(minutes=2))["pending"]
    assert users[0].pk in {info.user_id for info in found}


def test_a_dead_cache_does_not_stop_lookups_when_neither_limit_needs_it(
    settings: Any, users: list[Any], recording_backend: type[RecordingBackend]
) -> None:
    """No rate limit and no block pause: nothing needs the cache, so a dead one must not defer every
    job for ever (it did: each deferred 60 s, again and again)."""
    settings.CACHES = {
        **settings.CACHES,
        "broken": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9",
        },
    }
    settings.CEDULA_CACHE_ALIAS = "broken"
    settings.CEDULA_RATE_LIMIT = None
    settings.CEDULA_BLOCK_COOLDOWN = 0
    settings.CEDULA_TOKEN_SUPPLY = {"ENABLED": False}
    assert recording_backend.run_next() == Status.ACTIVE
    assert len(FakeScraper.calls) == 1
