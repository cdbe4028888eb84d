"""The validation job: claiming, outcome mapping, the retry chain and duplicate deliveries."""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from django_cedula.job import validate_user_cedula
from django_cedula.models import CedulaInfo
from django_cedula.results import ScrapeResult, ScrapeStatus
from django_cedula.testing.backends import RecordingBackend
from django_cedula.testing.scrapers import FakeScraper

pytestmark = pytest.mark.django_db(transaction=True)
Status = CedulaInfo.Status
CEDULA = "1020304050"


@pytest.fixture
def user(recording_backend: type[RecordingBackend], make_user: Callable[..., Any]) -> Any:
    """A registered user whose first job is recorded, not yet run."""
    created = make_user(cedula=CEDULA)
    assert len(recording_backend.jobs) == 1
    return created


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        ({"status": "found", "departamento": "CUNDINAMARCA", "mesa": "3"}, Status.ACTIVE),
        ("not_found", Status.NOT_FOUND),
        (
            {"status": "cancelled", "novedad": "Cancelada por Muerte", "resolucion": "77"},
            Status.CANCELLED_DECEASED,
        ),
        ({"status": "cancelled", "novedad": "Cancelada por Extranjería"}, Status.CANCELLED_OTHER),
    ],
)
def test_final_outcomes_are_stored_and_never_retried(
    user: Any, recording_backend: type[RecordingBackend], outcome: Any, status: str
) -> None:
    FakeScraper.set_outcome(CEDULA, outcome)
    assert recording_backend.run_next() == status
    info = CedulaInfo.objects.get(user=user)
    assert info.status == status
    assert info.fetched_at is not None
    assert info.retry_count == 0
    assert recording_backend.jobs == []
    if isinstance(outcome, dict):
        for name, value in outcome.items():
            if name != "status":
                assert getattr(info, name) == value


def test_the_full_retry_chain_with_the_default_delays(
    user: Any, recording_backend: type[RecordingBackend]
) -> None:
    FakeScraper.set_outcome(CEDULA, "timeout")
    seen_delays = []
    for attempt in (1, 2, 3):
        before = timezone.now()
        assert recording_backend.run_next() == Status.RETRYING
        info = CedulaInfo.objects.get(user=user)
        assert info.retry_count == attempt
        assert info.error_code == "timeout"
        (job,) = recording_backend.jobs
        assert job.attempt == attempt + 1
        seen_delays.append(job.delay)
        assert info.next_attempt_at is not None
        assert info.next_attempt_at >= before + datetime.timedelta(seconds=job.delay)
    assert seen_delays == [60, 300, 900]

    assert recording_backend.run_next() == Status.TIMEOUT
    info = CedulaInfo.objects.get(user=user)
    assert info.retry_count == 3
    assert info.next_attempt_at is None
    assert info.raw_response == "<p>fake timeout</p>"
    assert recording_backend.jobs == []
    assert FakeScraper.calls == [CEDULA] * 4


@pytest.mark.parametrize(
    ("kind", "final"),
    [
        ("blocked", Status.BLOCKED),
        ("captcha_failed", Status.ERROR),
        ("parse_error", Status.ERROR),
        ("network_error", Status.ERROR),
    ],
)
def test_each_error_kind_ends_with_its_own_status(
    user: Any, recording_backend: type[RecordingBackend], settings: Any, kind: str, final: str
) -> None:
    settings.CEDULA_RETRY_DELAYS = [5]
    FakeScraper.set_outcome(CEDULA, kind)
    assert recording_backend.run_next() == Status.RETRYING
    assert recording_backend.run_next() == final
    info = CedulaInfo.objects.get(user=user)
    assert info.error_code == kind
    assert info.error_message.startswith(kind)


def test_a_retry_that_succeeds(user: Any, recording_backend: type[RecordingBackend]) -> None:
    FakeScraper.set_outcome(CEDULA, "network_error", "found")
    recording_backend.run_next()
    assert recording_backend.run_next() == Status.ACTIVE
    info = CedulaInfo.objects.get(user=user)
    assert info.retry_count == 1
    assert info.error_code == ""
    assert info.error_message == ""


def test_a_duplicate_delivery_of_the_same_attempt_does_nothing(
    user: Any, recording_backend: type[RecordingBackend]
) -> None:
    FakeScraper.set_outcome(CEDULA, "timeout")
    (job,) = recording_backend.jobs
    assert recording_backend.run_next() == Status.RETRYING
    assert validate_user_cedula(job.user_id, job.attempt) is None  # the broker delivered it again
    assert FakeScraper.calls == [CEDULA]
    assert len(recording_backend.jobs) == 1  # one retry scheduled, not two
    assert CedulaInfo.objects.get(user=user).retry_count == 1


def test_racing_deliveries_make_one_lookup(
    user: Any, recording_backend: type[RecordingBackend], settings: Any
) -> None:
    """Two workers get the same attempt at the same moment; the database lets one through."""
    FakeScraper.set_outcome(CEDULA, "timeout")
    barrier = threading.Barrier(4)
    results: list[str | None] = []

    def deliver() -> None:
        try:
            barrier.wait()
            results.append(validate_user_cedula(user.pk, 1))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [None, None, None, Status.RETRYING]
    assert FakeScraper.calls == [CEDULA]
    assert len(recording_backend.jobs) == 2  # the first job (still recorded) and one retry
    assert CedulaInfo.objects.get(user=user).retry_count == 1


def test_user_deleted_before_the_job_runs(
    user: Any, recording_backend: type[RecordingBackend], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="django_cedula")
    user_id = user.pk
    user.delete()
    assert recording_backend.run_next() is None
    assert FakeScraper.calls == []
    assert recording_backend.jobs == []
    assert [r.getMessage() for r in caplog.records if r.name == "django_cedula.job"] == [
        f"Cédula validation for user {user_id} skipped: the user or the row is gone"
    ]


def test_user_deleted_during_the_lookup_schedules_nothing(
    user: Any, recording_backend: type[RecordingBackend], settings: Any
) -> None:
    def delete_then_fail(cedula: str) -> dict[str, str]:
        type(user).objects.filter(pk=user.pk).delete()
        return {"status": "timeout"}

    FakeScraper.set_outcome(CEDULA, "timeout")
    original = FakeScraper.scrape_cedula
    FakeScraper.scrape_cedula = lambda self, cedula: delete_then_fail(cedula)  # type: ignore[method-assign,assignment,misc]
    try:
        assert recording_backend.run_next() is None
    finally:
        FakeScraper.scrape_cedula = original  # type: ignore[method-assign]
    assert recording_backend.jobs == []
    assert CedulaInfo.objects.count() == 0


def test_a_scraper_that_raises_counts_as_a_network_error(
    user: Any, recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_SOURCES = [{"BACKEND": "tests.misbehaving_scrapers.ExplodingScraper"}]
    assert recording_backend.run_next() == Status.RETRYING
    info = CedulaInfo.objects.get(user=user)
    assert info.error_code == "network_error"
    assert "RuntimeError: browser crashed" in info.error_message


def test_a_scraper_returning_garbage_counts_as_a_parse_error(
    user: Any, recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_SOURCES = [{"BACKEND": "tests.misbehaving_scrapers.GarbageScraper"}]
    assert recording_backend.run_next() == Status.RETRYING
    assert CedulaInfo.objects.get(user=user).error_code == "parse_error"


def test_raw_responses_can_be_turned_off(
    user: Any, recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_STORE_RAW_RESPONSE = False
    recording_backend.run_next()
    assert CedulaInfo.objects.get(user=user).raw_response == ""


def test_raw_responses_are_bounded(
    user: Any, recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_RAW_RESPONSE_MAX_LENGTH = 10
    FakeScraper.set_outcome(CEDULA, ScrapeResult(status=ScrapeStatus.NOT_FOUND, raw_html="x" * 50))
    recording_backend.run_next()
    assert CedulaInfo.objects.get(user=user).raw_response == "x" * 10


def test_a_row_holding_a_malformed_number_ends_invalid_without_a_lookup(
    user: Any, recording_backend: type[RecordingBackend]
) -> None:
    CedulaInfo.objects.filter(user=user).update(cedula="01")
    assert recording_backend.run_next() == Status.INVALID
    assert FakeScraper.calls == []


def test_the_lookup_runs_with_no_transaction_open(
    user: Any, recording_backend: type[RecordingBackend], settings: Any
) -> None:
    """A lookup takes seconds; holding a transaction (and its row locks) through it would block others."""
    settings.CEDULA_SOURCES = [{"BACKEND": "tests.misbehaving_scrapers.TransactionSpyScraper"}]
    from tests.misbehaving_scrapers import TransactionSpyScraper

    recording_backend.run_next()
    assert TransactionSpyScraper.in_transaction is False


def test_the_retry_is_queued_only_after_its_row_is_committed(
    user: Any, recording_backend: type[RecordingBackend], settings: Any
) -> None:
    FakeScraper.set_outcome(CEDULA, "timeout")
    seen: list[str] = []
    original = RecordingBackend.enqueue

    def enqueue(self: RecordingBackend, job: Any) -> None:
        # Another connection must already see the retrying row when the job is queued.
        def look() -> None:
            seen.append(CedulaInfo.objects.get(user_id=job.user_id).status)
            connection.close()

        thread = threading.Thread(target=look)
        thread.start()
        thread.join()
        original(self, job)

    RecordingBackend.enqueue = enqueue  # type: ignore[method-assign]
    try:
        recording_backend.run_next()
    finally:
        RecordingBackend.enqueue = original  # type: ignore[method-assign]
    assert seen == [Status.RETRYING]
