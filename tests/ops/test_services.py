"""services.request_validation and request_validations: cooldown, force, restarts, batches."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_cedula.backends import ValidationJob
from django_cedula.models import CedulaInfo
from django_cedula.services import (
    FAILURE_WAIT_WITHOUT_RETRIES,
    RequestDecision,
    plan_validation,
    request_validation,
    request_validation_batches,
    request_validation_decision,
    request_validations,
    retry_allowed_at,
)
from django_cedula.testing.backends import RecordingBackend
from django_cedula.testing.scrapers import FakeScraper

from .conftest import CEDULA, ago, set_row

pytestmark = pytest.mark.django_db(transaction=True)
Status = CedulaInfo.Status


def finished(user: Any, recording_backend: type[RecordingBackend]) -> CedulaInfo:
    """Run the user's queued job to its end (found) and return the row."""
    assert recording_backend.run_next() == Status.ACTIVE
    return CedulaInfo.objects.get(user=user)


def test_within_the_cooldown_nothing_happens(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_REFRESH_COOLDOWN = 3600
    user = registered()
    recording_backend.jobs.append(ValidationJob(user.pk, 1))
    before = finished(user, recording_backend)

    info = request_validation(user)

    assert info is not None
    assert info.status == Status.ACTIVE
    assert info.requested_at == before.requested_at
    assert recording_backend.jobs == []
    assert request_validation_decision(user)[1] is RequestDecision.COOLDOWN


def test_after_the_cooldown_it_restarts(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_REFRESH_COOLDOWN = 3600
    user = registered()
    set_row(user, status=Status.ACTIVE, requested_at=ago(seconds=3601), departamento="VALLE")

    info = request_validation(user)

    assert info is not None
    assert info.status == Status.PENDING
    assert info.departamento == ""
    assert info.requested_at is not None
    assert info.requested_at > ago(seconds=5)
    assert recording_backend.jobs == [ValidationJob(user.pk, 1)]


def test_force_skips_the_cooldown(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> None:
    user = registered()
    set_row(user, status=Status.ACTIVE, requested_at=ago(seconds=1))

    info, decision = request_validation_decision(user, force=True)

    assert decision is RequestDecision.QUEUED
    assert info is not None
    assert info.status == Status.PENDING
    assert recording_backend.jobs == [ValidationJob(user.pk, 1)]


@pytest.mark.parametrize("status", [Status.PENDING, Status.PROCESSING, Status.RETRYING])
def test_a_validation_under_way_is_left_alone(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend], settings: Any, status: str
) -> None:
    settings.CEDULA_REFRESH_COOLDOWN = 0
    user = registered()
    before = set_row(user, status=status, retry_count=1, requested_at=ago(days=3))

    info, decision = request_validation_decision(user)

    assert decision is RequestDecision.IN_PROGRESS
    assert info is not None
    assert (info.status, info.retry_count, info.requested_at) == (status, 1, before.requested_at)
    assert recording_backend.jobs == []


def test_a_reset_clears_every_field_of_the_last_answer(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> None:
    user = registered()
    set_row(
        user,
        status=Status.TIMEOUT,
        departamento="VALLE",
        municipio="CALI",
        puesto="P",
        direccion="D",
        mesa="3",
        novedad="N",
        resolucion="R",
        fecha_novedad="F",
        fetched_at=ago(days=1),
        error_code="timeout",
        error_message="timeout: slow",
        raw_response="<p>x</p>",
        retry_count=3,
        next_attempt_at=ago(hours=1),
        requested_at=ago(days=2),
    )

    request_validation(user, force=True)

    info = CedulaInfo.objects.get(user=user)
    assert info.status == Status.PENDING
    assert info.cedula == CEDULA
    for name in ("departamento", "municipio", "puesto", "direccion", "mesa", "novedad", "resolucion"):
        assert getattr(info, name) == "", name
    assert info.fecha_novedad == info.error_code == info.error_message == info.raw_response == ""
    assert info.fetched_at is None
    assert info.next_attempt_at is None
    assert info.retry_count == 0


def test_an_invalid_number_is_marked_and_never_queued(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> None:
    user = registered()
    type(user).objects.filter(pk=user.pk).update(cedula="12-AB")  # no signal: the receiver stays out
    user.refresh_from_db()

    info, decision = request_validation_decision(user)

    assert decision is RequestDecision.INVALID
    assert info is not None
    assert info.status == Status.INVALID
    assert info.cedula == ""
    assert "digits" in info.error_message
    assert recording_backend.jobs == []


def test_a_user_without_a_cedula_gets_nothing(
    make_user: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> None:
    user = make_user(cedula="")
    assert request_validation_decision(user) == (None, RequestDecision.NO_CEDULA)
    assert not CedulaInfo.objects.exists()


def test_a_forced_restart_while_processing_discards_the_running_result(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend], monkeypatch: Any
) -> None:
    """The user asks again while a worker is looking the number up; its answer must not land."""
    user = registered()
    recording_backend.jobs.append(ValidationJob(user.pk, 1))
    original = FakeScraper.scrape_cedula

    def restarted_meanwhile(self: FakeScraper, cedula: str) -> Any:
        assert CedulaInfo.objects.get(user=user).status == Status.PROCESSING
        request_validation(user, force=True)
        return original(self, cedula)

    monkeypatch.setattr(FakeScraper, "scrape_cedula", restarted_meanwhile)
    assert recording_backend.run_next() is None  # looked up, then discarded

    info = CedulaInfo.objects.get(user=user)
    assert info.status == Status.PENDING
    assert info.fetched_at is None
    assert info.departamento == ""
    assert recording_backend.jobs == [ValidationJob(user.pk, 1)]  # the restart's own job

    monkeypatch.setattr(FakeScraper, "scrape_cedula", original)
    assert recording_backend.run_next() == Status.ACTIVE


def test_a_restart_whose_job_claims_before_the_old_lookup_ends_still_discards_the_old_answer(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend], monkeypatch: Any
) -> None:
    user = registered()
    recording_backend.jobs.append(ValidationJob(user.pk, 1))
    FakeScraper.set_outcome(CEDULA, "not_found")
    original = FakeScraper.scrape_cedula

    def new_number_meanwhile(self: FakeScraper, cedula: str) -> Any:
        type(user).objects.filter(pk=user.pk).update(cedula="79123456")
        user.refresh_from_db()
        request_validation(user, force=True)
        assert CedulaInfo.objects.claim(user.pk, 1) is not None  # the new job starts on another worker
        return original(self, cedula)

    monkeypatch.setattr(FakeScraper, "scrape_cedula", new_number_meanwhile)
    recording_backend.run_next()

    info = CedulaInfo.objects.get(user=user)
    assert info.cedula == "79123456"
    assert info.status != Status.NOT_FOUND  # the old number's answer must not be stored on the new one


def test_request_validations_counts_what_it_started(
    make_user: Callable[..., Any], recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_AUTO_VALIDATE = False
    never = make_user(cedula="79123456")  # no row yet
    stale = make_user(cedula="1000000002")
    fresh = make_user(cedula="1000000003")
    busy = make_user(cedula="1000000004")
    blank = make_user(cedula="")
    malformed = make_user(cedula="0123")
    for user in (stale, fresh, busy):
        CedulaInfo.objects.create(
            user=user, cedula=user.cedula, status=Status.ACTIVE, requested_at=ago(days=2)
        )
    set_row(fresh, requested_at=ago(seconds=10))
    set_row(busy, status=Status.PROCESSING)

    users = [never, stale, fresh, busy, blank, malformed]
    planned = [plan_validation(user, CedulaInfo.objects.filter(user=user).first()) for user in users]
    assert request_validations(iter(users)) == 2

    assert planned == [
        RequestDecision.QUEUED,
        RequestDecision.QUEUED,
        RequestDecision.COOLDOWN,
        RequestDecision.IN_PROGRESS,
        RequestDecision.NO_CEDULA,
        RequestDecision.INVALID,
    ]
    assert sorted(job.user_id for job in recording_backend.jobs) == sorted([never.pk, stale.pk])
    assert CedulaInfo.objects.get(user=malformed).status == Status.INVALID
    assert request_validations([fresh, busy], force=True) == 2


def test_request_validation_batches_decide_a_batch_per_transaction(
    make_user: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> None:
    users = [make_user(cedula=str(1_000_000_010 + index)) for index in range(5)]
    blank = make_user(cedula="")
    for user in users:
        set_row(user, status=Status.ACTIVE, requested_at=ago(days=2))
    recording_backend.reset()

    with CaptureQueriesContext(connection) as queries:
        counts = request_validation_batches(iter([*users, blank]), batch_size=2)

    assert counts == {RequestDecision.QUEUED: 5, RequestDecision.NO_CEDULA: 1}
    restarts = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "django_cedula_cedulainfo"')]
    assert len(restarts) == 3  # users 1-2, 3-4, 5 (and the blank one): one UPDATE per batch
    assert sorted(job.user_id for job in recording_backend.jobs) == sorted(user.pk for user in users)
    assert set(CedulaInfo.objects.filter(user__in=users).values_list("status", flat=True)) == {Status.PENDING}
    with pytest.raises(ValueError, match="at least 1"):
        request_validation_batches(users, batch_size=0)


# The cooldown after a final failure: from the end of the last attempt, the first retry delay long.


@pytest.mark.parametrize("status", [Status.TIMEOUT, Status.ERROR, Status.BLOCKED])
def test_a_failure_that_ended_a_while_ago_can_be_tried_again_within_the_hour(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend], settings: Any, status: str
) -> None:
    # Registered 25 minutes ago; the retries (60 + 300 + 900 s) ended 2 minutes ago as a failure.
    settings.CEDULA_REFRESH_COOLDOWN = 3600
    settings.CEDULA_RETRY_DELAYS = [60, 300, 900]
    user = registered()
    set_row(user, status=status, requested_at=ago(minutes=25), updated_at=ago(minutes=2))

    info, decision = request_validation_decision(user)

    assert decision is RequestDecision.QUEUED
    assert info is not None
    assert info.status == Status.PENDING
    assert recording_backend.jobs == [ValidationJob(user.pk, 1)]


def test_a_failure_waits_the_first_retry_delay_from_its_end(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_REFRESH_COOLDOWN = 3600
    settings.CEDULA_RETRY_DELAYS = [60, 300, 900]
    user = registered()
    row = set_row(user, status=Status.TIMEOUT, requested_at=ago(minutes=25), updated_at=ago(seconds=10))

    assert request_validation_decision(user)[1] is RequestDecision.COOLDOWN
    assert recording_backend.jobs == []
    assert retry_allowed_at(row) == row.updated_at + datetime.timedelta(seconds=60)
    assert plan_validation(user, row) is RequestDecision.COOLDOWN
    assert (
        plan_validation(user, row, now=row.updated_at + datetime.timedelta(seconds=61))
        is RequestDecision.QUEUED
    )


def test_a_failure_waits_no_longer_than_the_refresh_cooldown(
    registered: Callable[..., Any], settings: Any
) -> None:
    settings.CEDULA_REFRESH_COOLDOWN = 20
    settings.CEDULA_RETRY_DELAYS = [60]
    user = registered()
    row = set_row(user, status=Status.ERROR, requested_at=ago(minutes=5), updated_at=ago(seconds=5))
    assert retry_allowed_at(row) == row.updated_at + datetime.timedelta(seconds=20)
    settings.CEDULA_REFRESH_COOLDOWN = 0
    assert retry_allowed_at(row) == row.updated_at
    assert request_validation_decision(user)[1] is RequestDecision.QUEUED


def test_without_retries_a_failure_waits_a_minute(registered: Callable[..., Any], settings: Any) -> None:
    settings.CEDULA_REFRESH_COOLDOWN = 3600
    settings.CEDULA_RETRY_DELAYS = []
    user = registered()
    row = set_row(user, status=Status.TIMEOUT, requested_at=ago(seconds=30), updated_at=ago(seconds=20))
    assert retry_allowed_at(row) == row.updated_at + datetime.timedelta(seconds=FAILURE_WAIT_WITHOUT_RETRIES)
    assert request_validation_decision(user)[1] is RequestDecision.COOLDOWN


def test_an_answer_keeps_the_cooldown_from_its_request(registered: Callable[..., Any], settings: Any) -> None:
    settings.CEDULA_REFRESH_COOLDOWN = 3600
    user = registered()
    row = set_row(user, status=Status.ACTIVE, requested_at=ago(minutes=25), updated_at=ago(minutes=24))
    assert retry_allowed_at(row) == row.requested_at + datetime.timedelta(seconds=3600)
    assert request_validation_decision(user)[1] is RequestDecision.COOLDOWN


@pytest.mark.parametrize("status", [Status.PENDING, Status.PROCESSING, Status.RETRYING])
def test_no_time_is_given_while_a_validation_is_under_way(
    registered: Callable[..., Any], status: str
) -> None:
    user = registered()
    row = set_row(user, status=status, requested_at=ago(hours=3))
    assert retry_allowed_at(row) is None
    assert request_validation_decision(user)[1] is RequestDecision.IN_PROGRESS


def test_the_batch_and_the_dry_run_apply_the_failure_cooldown_too(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_REFRESH_COOLDOWN = 3600
    settings.CEDULA_RETRY_DELAYS = [60]
    ended_long_ago = registered(cedula="1000000001")
    ended_just_now = registered(cedula="1000000002")
    set_row(ended_long_ago, status=Status.TIMEOUT, requested_at=ago(minutes=10), updated_at=ago(minutes=5))
    set_row(ended_just_now, status=Status.TIMEOUT, requested_at=ago(minutes=10), updated_at=ago(seconds=5))

    counts = request_validation_batches([ended_long_ago, ended_just_now])

    assert counts == {RequestDecision.QUEUED: 1, RequestDecision.COOLDOWN: 1}
    assert recording_backend.jobs == [ValidationJob(ended_long_ago.pk, 1)]
