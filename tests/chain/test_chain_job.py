"""The validation job with a chain: the answering source on the row, per-source pauses, deferring
when every source is paused. Run on SQLite and on PostgreSQL (``CEDULA_TEST_DATABASE=postgres``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from django_cedula import throttle
from django_cedula.job import validate_user_cedula
from django_cedula.models import CedulaInfo
from django_cedula.testing.backends import RecordingBackend

from . import scrapers
from .conftest import FIRST, SECOND, sources

pytestmark = pytest.mark.django_db(transaction=True)
Status = CedulaInfo.Status
NUMBER = "1020304050"


@pytest.fixture
def chained(settings: Any, recording_backend: type[RecordingBackend]) -> type[RecordingBackend]:
    settings.CEDULA_SOURCES = sources(FIRST, SECOND)
    settings.CEDULA_BLOCK_COOLDOWN = 900
    settings.CEDULA_RETRY_DELAYS = [60]
    return recording_backend


def test_the_row_says_which_source_answered(
    chained: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    scrapers.plan("first", "blocked")
    user = make_user(cedula=NUMBER)
    assert chained.run_next() == Status.ACTIVE
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.source, info.error_code) == (Status.ACTIVE, "second", "")
    assert info.municipio
    assert scrapers.asked() == ["first", "second"]
    # The block paused "first" only: the next job asks "second" straight away.
    assert throttle.blocked_for() == 0
    assert throttle.blocked_for(source="first") > 800
    other = make_user(cedula="1020304051")
    assert chained.run_next() == Status.ACTIVE
    assert CedulaInfo.objects.get(user=other).source == "second"
    assert scrapers.asked() == ["first", "second", "second"]


def test_a_single_scraper_names_its_source_too(
    recording_backend: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    user = make_user(cedula=NUMBER)
    assert recording_backend.run_next() == Status.ACTIVE
    assert CedulaInfo.objects.get(user=user).source == "fake"  # FakeScraper, the tests' default


def test_a_failure_keeps_the_source_of_the_stored_answer(
    chained: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    user = make_user(cedula=NUMBER)
    assert chained.run_next() == Status.ACTIVE
    CedulaInfo.objects.filter(user=user).update(status=Status.PENDING)  # validated again
    scrapers.plan("first", "captcha_failed")
    assert validate_user_cedula(user.pk) == Status.RETRYING
    info = CedulaInfo.objects.get(user=user)
    assert (info.source, info.error_code) == ("first", "captcha_failed")  # the answer it holds is first's


def test_a_source_name_longer_than_its_column_is_cut(
    settings: Any, recording_backend: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    settings.CEDULA_SOURCES = sources("tests.chain.scrapers.LongNamedScraper")
    user = make_user(cedula=NUMBER)
    assert recording_backend.run_next() == Status.ACTIVE
    source = CedulaInfo.objects.get(user=user).source
    assert len(source) == 40
    assert source.endswith("…")


def test_when_every_source_is_paused_the_job_defers_without_asking(
    chained: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    throttle.report_block(source="first")
    throttle.report_block(source="second", now=throttle.time.time() - 600)
    user = make_user(cedula=NUMBER)
    assert chained.run_next() == Status.PENDING
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count, info.source) == (Status.PENDING, 0, "")
    assert info.next_attempt_at is not None
    (job,) = chained.jobs
    assert job.attempt == 1
    assert 250 < job.delay <= 300, "back when the first pause ends (second's)"
    assert scrapers.asked() == []


def test_one_source_paused_is_no_reason_to_defer(
    chained: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    throttle.report_block(source="first")
    user = make_user(cedula=NUMBER)
    assert chained.run_next() == Status.ACTIVE
    assert CedulaInfo.objects.get(user=user).source == "second"
    assert scrapers.asked() == ["second"]


def test_sources_paused_during_the_turn_defer_the_job(
    chained: type[RecordingBackend], make_user: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both sources went into their pause after this job took its turn (another worker's blocks).
    monkeypatch.setattr(throttle, "acquire", lambda **kwargs: throttle.Permit())
    throttle.report_block(source="first")
    throttle.report_block(source="second")
    user = make_user(cedula=NUMBER)
    assert chained.run_next() == Status.PENDING
    assert CedulaInfo.objects.get(user=user).retry_count == 0
    assert scrapers.asked() == []
    assert 800 < chained.jobs[-1].delay <= 900


def test_every_source_failing_is_one_counted_attempt(
    chained: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    scrapers.plan("first", "network_error")
    scrapers.plan("second", {"status": "network_error", "error": "HTTP 503", "http_status": 503})
    user = make_user(cedula=NUMBER)
    assert chained.run_next() == Status.RETRYING
    info = CedulaInfo.objects.get(user=user)
    assert (info.retry_count, info.error_code) == (1, "network_error")
    assert info.error_message == "network_error: first: network_error; then second: HTTP 503"
