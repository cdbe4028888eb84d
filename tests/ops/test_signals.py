"""validation_finished and retry_scheduled: when, how often, with what."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import transaction
from django.dispatch import Signal

from django_cedula.backends import ValidationJob
from django_cedula.models import CedulaInfo
from django_cedula.results import ScrapeResult, ScrapeStatus
from django_cedula.signals import retry_scheduled, validation_finished
from django_cedula.testing.backends import RecordingBackend
from django_cedula.testing.scrapers import FakeScraper

from .conftest import CEDULA, set_row

pytestmark = pytest.mark.django_db(transaction=True)
Status = CedulaInfo.Status


class Received(list[tuple[str, dict[str, Any]]]):
    """What the connected receivers got, in order: (signal name, kwargs)."""

    def of(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for signal, kwargs in self if signal == name]


@pytest.fixture
def received() -> Iterator[Received]:
    got = Received()
    receivers: list[tuple[Signal, Callable[..., None]]] = []
    for name, signal in (("finished", validation_finished), ("retry", retry_scheduled)):

        def receiver(sender: Any, name: str = name, **kwargs: Any) -> None:
            kwargs.pop("signal")
            got.append((name, {"sender": sender, **kwargs}))

        signal.connect(receiver, weak=False)
        receivers.append((signal, receiver))
    yield got
    for signal, receiver in receivers:
        signal.disconnect(receiver)


@pytest.fixture
def queued(registered: Callable[..., Any], recording_backend: type[RecordingBackend]) -> Any:
    user = registered()
    recording_backend.jobs.append(ValidationJob(user.pk, 1))
    return user


def test_validation_finished_is_sent_once_with_the_stored_row(
    queued: Any, recording_backend: type[RecordingBackend], received: Received
) -> None:
    assert recording_backend.run_next() == Status.ACTIVE

    (sent,) = received.of("finished")
    assert received.of("retry") == []
    assert sent["sender"] is CedulaInfo
    assert sent["status"] == Status.ACTIVE
    result = sent["result"]
    assert isinstance(result, ScrapeResult)
    assert result.status is ScrapeStatus.FOUND
    info = sent["info"]
    stored = CedulaInfo.objects.get(user=queued)
    assert info.pk == stored.pk
    assert (info.status, info.departamento, info.fetched_at, info.updated_at) == (
        stored.status,
        stored.departamento,
        stored.fetched_at,
        stored.updated_at,
    )


def test_a_retry_sends_retry_scheduled_and_only_the_last_attempt_finishes(
    queued: Any, recording_backend: type[RecordingBackend], received: Received, settings: Any
) -> None:
    settings.CEDULA_RETRY_DELAYS = [30, 120]
    FakeScraper.set_outcome(CEDULA, "timeout", "network_error", "not_found")

    assert recording_backend.run_next() == Status.RETRYING
    assert received.of("finished") == []
    (first,) = received.of("retry")
    assert (first["attempt"], first["delay"], first["error_code"]) == (2, 30, "timeout")
    assert first["sender"] is CedulaInfo
    assert (first["info"].status, first["info"].retry_count) == (Status.RETRYING, 1)

    assert recording_backend.run_next() == Status.RETRYING
    second = received.of("retry")[1]
    assert (second["attempt"], second["delay"], second["error_code"]) == (3, 120, "network_error")

    assert recording_backend.run_next() == Status.NOT_FOUND
    assert [name for name, _ in received] == ["retry", "retry", "finished"]
    assert received.of("finished")[0]["status"] == Status.NOT_FOUND


def test_giving_up_is_a_finish(
    queued: Any, recording_backend: type[RecordingBackend], received: Received, settings: Any
) -> None:
    settings.CEDULA_RETRY_DELAYS = []
    FakeScraper.set_outcome(CEDULA, "blocked")
    assert recording_backend.run_next() == Status.BLOCKED
    (sent,) = received.of("finished")
    assert sent["status"] == Status.BLOCKED
    assert sent["result"].status is ScrapeStatus.BLOCKED
    assert sent["info"].error_code == "blocked"


def test_signals_wait_for_the_commit(
    queued: Any, recording_backend: type[RecordingBackend], received: Received
) -> None:
    with transaction.atomic():
        recording_backend.run_next()
        assert received == []
    assert len(received.of("finished")) == 1


def test_a_malformed_number_found_by_the_job_finishes_without_a_result(
    queued: Any, recording_backend: type[RecordingBackend], received: Received
) -> None:
    set_row(queued, cedula="12AB")
    assert recording_backend.run_next() == Status.INVALID
    (sent,) = received.of("finished")
    assert sent["status"] == Status.INVALID
    assert sent["result"] is None


def test_a_duplicate_delivery_or_a_discarded_result_sends_nothing(
    queued: Any, recording_backend: type[RecordingBackend], received: Received
) -> None:
    recording_backend.jobs.append(ValidationJob(queued.pk, 1))
    recording_backend.run_next()
    assert recording_backend.run_next() is None  # the same attempt again
    assert len(received.of("finished")) == 1


def test_a_failing_receiver_is_logged_and_the_others_still_run(
    queued: Any,
    recording_backend: type[RecordingBackend],
    received: Received,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver bug")

    validation_finished.connect(broken)
    try:
        assert recording_backend.run_next() == Status.ACTIVE
    finally:
        validation_finished.disconnect(broken)
    assert len(received.of("finished")) == 1
    assert CedulaInfo.objects.get(user=queued).status == Status.ACTIVE
    (record,) = [r for r in caplog.records if r.name == "django_cedula.job" and "receiver" in r.getMessage()]
    assert f"user {queued.pk}: RuntimeError: receiver bug" in record.getMessage()
    assert "broken" in record.getMessage()


def test_with_the_inline_backend_the_order_is_kept(
    make_user: Callable[..., Any], received: Received, settings: Any
) -> None:
    """The inline backend runs the retry inside the first attempt's commit callbacks."""
    FakeScraper.set_outcome(CEDULA, "timeout", "found")
    make_user(cedula=CEDULA)
    assert [name for name, _ in received] == ["retry", "finished"]
