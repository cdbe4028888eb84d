"""sweeper.sweep: each kind of stuck row, dry runs, back-off, races, the Django-Q2 schedule."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django_q.models import Schedule

from django_cedula import sweeper
from django_cedula.backends import ValidationJob
from django_cedula.models import CedulaInfo, keep_outcome, kept_outcome, outcome_for
from django_cedula.results import ScrapeResult, ScrapeStatus
from django_cedula.sweeper import SweepReport, ensure_schedule, run_scheduled_sweep, sweep
from django_cedula.testing.backends import RecordingBackend
from django_cedula.testing.scrapers import FakeScraper

from .conftest import CEDULA, ago, set_row

pytestmark = pytest.mark.django_db(transaction=True)
Status = CedulaInfo.Status


@pytest.fixture(autouse=True)
def _thresholds(settings: Any) -> None:
    settings.CEDULA_SWEEP = {"PENDING_AFTER": 600, "PROCESSING_AFTER": 900}


def counts(report: SweepReport) -> tuple[int, int, int]:
    return report.pending, report.retrying, report.processing


def test_a_pending_row_the_queue_lost_is_queued_again(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> None:
    user = registered()
    stale = set_row(user, requested_at=ago(seconds=700), updated_at=ago(seconds=700))

    report = sweep()

    assert counts(report) == (1, 0, 0)
    assert recording_backend.jobs == [ValidationJob(user.pk, 1)]
    info = CedulaInfo.objects.get(user=user)
    assert info.status == Status.PENDING
    assert info.updated_at > stale.updated_at  # the back-off starts from now
    assert recording_backend.run_next() == Status.ACTIVE


def test_rows_within_their_time_are_left_alone(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> None:
    set_row(registered(), updated_at=ago(seconds=500))  # pending, not yet stale
    set_row(registered(cedula="79123456"), status=Status.PROCESSING, updated_at=ago(seconds=800))
    set_row(
        registered(cedula="79123457"),
        status=Status.RETRYING,
        retry_count=1,
        next_attempt_at=ago(seconds=300),  # due, but the scheduler may just be slow
        updated_at=ago(seconds=1000),
    )
    set_row(registered(cedula="79123458"), status=Status.ACTIVE, updated_at=ago(days=30))

    report = sweep()

    assert report.requeued == report.deferred == report.changed == 0
    assert recording_backend.jobs == []


def test_a_sweep_setting_without_every_key_takes_the_others_defaults(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_SWEEP = {"PENDING_AFTER": 100}
    pending = registered()
    set_row(pending, requested_at=ago(seconds=150), updated_at=ago(seconds=150))
    processing = registered(cedula="79123456")
    set_row(processing, status=Status.PROCESSING, updated_at=ago(seconds=800))  # within the default 900

    assert counts(sweep()) == (1, 0, 0)
    assert recording_backend.jobs == [ValidationJob(pending.pk, 1)]
    set_row(processing, status=Status.PROCESSING, updated_at=ago(seconds=901))
    assert counts(sweep()) == (0, 0, 1)
    ensure_schedule()
    assert not Schedule.objects.filter(name=sweeper.SCHEDULE_NAME).exists(), "SCHEDULE is off by default"

    del settings.CEDULA_SWEEP  # not set at all: every default
    set_row(pending, updated_at=ago(seconds=599))
    assert counts(sweep()) == (0, 0, 0)
    set_row(pending, updated_at=ago(seconds=601))
    assert counts(sweep()) == (1, 0, 0)


def test_a_retry_the_queue_lost_is_queued_again(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_RETRY_DELAYS = [60, 60, 60]
    user = registered()
    set_row(
        user,
        status=Status.RETRYING,
        retry_count=2,
        next_attempt_at=ago(seconds=700),
        updated_at=ago(seconds=760),
    )

    assert counts(sweep()) == (0, 1, 0)

    assert recording_backend.jobs == [ValidationJob(user.pk, 3)]
    assert recording_backend.run_next() == Status.ACTIVE
    assert CedulaInfo.objects.get(user=user).retry_count == 2


@pytest.mark.parametrize("retry_count", [0, 2])
def test_a_row_whose_worker_died_counts_the_lost_attempt_and_its_next_attempt_then_succeeds(
    registered: Callable[..., Any],
    recording_backend: type[RecordingBackend],
    settings: Any,
    retry_count: int,
) -> None:
    settings.CEDULA_RETRY_DELAYS = [60, 60, 60]
    user = registered()
    set_row(user, status=Status.PROCESSING, retry_count=retry_count, updated_at=ago(seconds=1000))

    assert counts(sweep()) == (0, 0, 1)

    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count, info.error_code) == (Status.RETRYING, retry_count + 1, "lost")
    assert f"attempt {retry_count + 1} was lost" in info.error_message
    assert info.updated_at > ago(seconds=5)
    assert recording_backend.jobs == [ValidationJob(user.pk, retry_count + 2)]
    assert recording_backend.run_next() == Status.ACTIVE  # the next attempt's claim accepts the row
    assert FakeScraper.calls == [CEDULA]
    assert counts(sweep()) == (0, 0, 0)


def test_a_row_whose_jobs_keep_dying_ends_as_lost_when_its_attempts_run_out(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend], settings: Any
) -> None:
    """Every attempt dies (an answer that kills the worker, a job timeout below the lookup): the
    sweeper counts each, and the fourth loss ends the row instead of a fifth paid lookup."""
    settings.CEDULA_RETRY_DELAYS = [60, 300, 900]
    user = registered()
    finished: list[dict[str, Any]] = []
    retried: list[dict[str, Any]] = []

    def on_finished(**kwargs: Any) -> None:
        finished.append(kwargs)

    def on_retry(**kwargs: Any) -> None:
        retried.append(kwargs)

    sweeper.validation_finished.connect(on_finished)
    sweeper.retry_scheduled.connect(on_retry)
    try:
        for attempt in (1, 2, 3, 4):
            # The job for this attempt claims the row, then its worker dies.
            set_row(user, status=Status.PROCESSING, retry_count=attempt - 1, updated_at=ago(seconds=1000))
            recording_backend.jobs.clear()
            report = sweep()
            if attempt < 4:
                assert (report.processing, report.lost) == (1, 0)
                assert recording_backend.jobs == [ValidationJob(user.pk, attempt + 1)]
            else:
                assert (report.processing, report.lost) == (0, 1)
                assert recording_backend.jobs == []
    finally:
        sweeper.validation_finished.disconnect(on_finished)
        sweeper.retry_scheduled.disconnect(on_retry)

    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.error_code, info.next_attempt_at) == (Status.ERROR, "lost", None)
    assert info.is_final
    assert [kwargs["attempt"] for kwargs in retried] == [2, 3, 4]
    assert [kwargs["status"] for kwargs in finished] == [Status.ERROR]
    assert finished[0]["info"].error_code == "lost"
    assert counts(sweep()) == (0, 0, 0)
    assert FakeScraper.calls == []


def test_a_dry_run_counts_a_lost_last_attempt_without_ending_it(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_RETRY_DELAYS = []
    user = registered()
    set_row(user, status=Status.PROCESSING, updated_at=ago(seconds=1000))
    report = sweep(dry_run=True)
    assert (report.processing, report.lost) == (0, 1)
    assert CedulaInfo.objects.get(user=user).status == Status.PROCESSING
    assert recording_backend.jobs == []


def test_the_dead_workers_job_arriving_late_does_nothing(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> None:
    """Without delivery receipts the old job is lost; with them it may come back: one lookup only."""
    user = registered()
    set_row(user, status=Status.PROCESSING, updated_at=ago(seconds=1000))
    sweep()
    recording_backend.jobs.append(ValidationJob(user.pk, 1))  # the redelivery
    assert recording_backend.run_next() == Status.ACTIVE
    assert recording_backend.run_next() is None
    assert FakeScraper.calls == [CEDULA]


def test_a_dry_run_counts_and_changes_nothing(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> None:
    pending = set_row(registered(), updated_at=ago(seconds=700))
    processing = set_row(
        registered(cedula="79123456"), status=Status.PROCESSING, updated_at=ago(seconds=1000)
    )
    retrying = set_row(
        registered(cedula="79123457"),
        status=Status.RETRYING,
        retry_count=1,
        next_attempt_at=ago(seconds=700),
        updated_at=ago(seconds=800),
    )
    before = {row.pk: (row.status, row.updated_at) for row in (pending, processing, retrying)}

    report = sweep(dry_run=True)

    assert report.dry_run
    assert counts(report) == (1, 1, 1)
    assert recording_backend.jobs == []
    assert {row.pk: (row.status, row.updated_at) for row in CedulaInfo.objects.all()} == before


def test_re_queues_back_off(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> None:
    """A row stuck behind a live backlog is queued again after 10 min, 20 min, 40 min..., not every sweep."""
    user = registered()
    start = timezone.now()
    set_row(user, requested_at=start, updated_at=start)

    def sweep_at(minutes: float) -> SweepReport:
        return sweep(now=start + datetime.timedelta(minutes=minutes))

    assert sweep_at(9).requeued == 0
    assert sweep_at(10.5).requeued == 1  # waited 10.5 min: queued again
    assert sweep_at(20).requeued == 0  # 9.5 min since: not stale yet
    assert sweep_at(21.5).requeued == 1  # 11 min since, having waited 10.5 before
    assert sweep_at(35).deferred == 1  # 13.5 min since, having waited 21.5 before
    assert sweep_at(43.5).requeued == 1
    assert len(recording_backend.jobs) == 3


def test_a_row_that_changed_after_being_read_is_left_alone(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend], monkeypatch: Any
) -> None:
    """The job finished (or a restart happened) between the sweep's read and its update."""
    user = registered()
    set_row(user, status=Status.PROCESSING, updated_at=ago(seconds=1000))
    chunks = sweeper._chunks

    def then_the_job_finishes(*args: Any) -> Any:
        for chunk in chunks(*args):
            set_row(user, status=Status.ACTIVE)
            yield chunk

    monkeypatch.setattr(sweeper, "_chunks", then_the_job_finishes)
    report = sweep()
    assert (report.processing, report.changed) == (0, 1)
    assert CedulaInfo.objects.get(user=user).status == Status.ACTIVE
    assert recording_backend.jobs == []


def test_a_broker_still_down_is_counted_and_the_next_sweep_tries_again(
    registered: Callable[..., Any], settings: Any
) -> None:
    user = registered()
    set_row(user, updated_at=ago(seconds=700))
    settings.CEDULA_TASKS = {"BACKEND": "tests.ops.conftest.BrokenBackend"}

    before = CedulaInfo.objects.get(user=user).updated_at
    report = sweep()
    assert (report.pending, report.enqueue_failures) == (1, 1)
    info = CedulaInfo.objects.get(user=user)
    assert info.status == Status.PENDING
    # Nothing was queued, so no back-off: the row keeps its time and the very next sweep tries again.
    assert info.updated_at == before
    report = sweep()
    assert (report.pending, report.deferred, report.enqueue_failures) == (1, 0, 1)
    assert sweep(now=timezone.now() + datetime.timedelta(seconds=601)).pending == 1


def test_rows_are_read_in_chunks(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend], django_assert_num_queries: Any
) -> None:
    users = [registered(cedula=f"7912345{index}") for index in range(5)]
    for user in users:
        set_row(user, updated_at=ago(seconds=700))
    # processing: 1 empty chunk; pending: 3 chunks of 2, 2, 1 and an empty one, 5 updates; retrying: 1;
    # the retention purge: raw answers, one range (its end, its UPDATE); places kept for ever, none.
    with django_assert_num_queries(1 + 4 + 5 + 1 + 2):
        report = sweep(chunk_size=2)
    assert report.pending == 5
    assert sorted(job.user_id for job in recording_backend.jobs) == sorted(user.pk for user in users)


def test_progress_is_reported_per_chunk(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> None:
    for index in range(3):
        set_row(registered(cedula=f"7912345{index}"), updated_at=ago(seconds=700))
    seen: list[int] = []
    sweep(chunk_size=2, progress=seen.append)
    assert seen == [2, 1]


def test_the_log_names_users_never_numbers(
    registered: Callable[..., Any],
    recording_backend: type[RecordingBackend],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG", logger="django_cedula")
    user = registered()
    set_row(user, status=Status.PROCESSING, updated_at=ago(seconds=1000))
    sweep()
    assert f"user {user.pk} was processing" in caplog.text
    assert CEDULA not in caplog.text


def test_the_scheduled_function_sweeps(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> None:
    set_row(registered(), updated_at=ago(seconds=700))
    result = run_scheduled_sweep()
    assert result["pending"] == result["requeued"] == 1


def test_the_schedule_follows_the_setting(settings: Any) -> None:
    settings.CEDULA_SWEEP = {**settings.CEDULA_SWEEP, "SCHEDULE": True}
    ensure_schedule()
    ensure_schedule()
    (schedule,) = Schedule.objects.filter(name=sweeper.SCHEDULE_NAME)
    assert schedule.func == "django_cedula.sweeper.run_scheduled_sweep"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 10, -1)
    assert schedule.next_run is not None

    Schedule.objects.filter(pk=schedule.pk).update(minutes=60, func="somewhere.else")
    Schedule.objects.create(
        name=sweeper.SCHEDULE_NAME, func="copy", schedule_type=Schedule.MINUTES, minutes=1
    )
    ensure_schedule()
    (repaired,) = Schedule.objects.filter(name=sweeper.SCHEDULE_NAME)
    assert (repaired.pk, repaired.func, repaired.minutes) == (schedule.pk, schedule.func, 10)
    assert repaired.next_run == schedule.next_run  # an update does not move the next run

    settings.CEDULA_SWEEP = {**settings.CEDULA_SWEEP, "SCHEDULE": False}
    ensure_schedule()
    assert not Schedule.objects.filter(name=sweeper.SCHEDULE_NAME).exists()


def test_the_schedule_with_the_historical_models_migrate_passes(settings: Any) -> None:
    settings.CEDULA_SWEEP = {**settings.CEDULA_SWEEP, "SCHEDULE": True}
    historical = MigrationLoader(connection).project_state().apps
    ensure_schedule(apps=historical)
    (schedule,) = Schedule.objects.filter(name=sweeper.SCHEDULE_NAME)
    assert (schedule.func, schedule.minutes) == (sweeper.SCHEDULE_FUNC, 10)


def test_migrate_installs_and_removes_the_schedule(settings: Any) -> None:
    settings.CEDULA_SWEEP = {**settings.CEDULA_SWEEP, "SCHEDULE": True}
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert Schedule.objects.filter(name=sweeper.SCHEDULE_NAME).count() == 1
    settings.CEDULA_SWEEP = {**settings.CEDULA_SWEEP, "SCHEDULE": False}
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert not Schedule.objects.filter(name=sweeper.SCHEDULE_NAME).exists()


# --------------------------------------------------------------------------- outcomes a job kept


def kept_found_outcome(user: Any, *, retry_count: int = 0) -> CedulaInfo:
    """The user's row PROCESSING past its time, as a job left it whose store outlasted a database
    outage, and the found answer that job kept in the cache."""
    info = set_row(user, status=Status.PROCESSING, retry_count=retry_count, updated_at=ago(seconds=1000))
    result = ScrapeResult(status=ScrapeStatus.FOUND, departamento="VALLE", municipio="CALI", mesa="3")
    outcome = outcome_for(result, attempt=retry_count + 1, now=ago(seconds=1001), raw_response="<p>raw</p>")
    assert keep_outcome(info, retry_count + 1, outcome.fields, retry_delay=outcome.retry_delay)
    return info


@pytest.fixture
def signals_received() -> Iterator[list[str]]:
    received: list[str] = []

    def on_retry(**kwargs: Any) -> None:
        received.append(f"retry {kwargs['attempt']} {kwargs['error_code']}")

    def on_finished(**kwargs: Any) -> None:
        received.append(f"finished {kwargs['status']}")

    sweeper.retry_scheduled.connect(on_retry)
    sweeper.validation_finished.connect(on_finished)
    yield received
    sweeper.retry_scheduled.disconnect(on_retry)
    sweeper.validation_finished.disconnect(on_finished)


@pytest.mark.parametrize("retry_count", [0, 2])
def test_a_processing_row_with_a_kept_answer_gets_the_answer_not_another_lookup(
    registered: Callable[..., Any],
    recording_backend: type[RecordingBackend],
    settings: Any,
    signals_received: list[str],
    retry_count: int,
) -> None:
    settings.CEDULA_RETRY_DELAYS = [60, 60, 60]
    user = registered()
    info = kept_found_outcome(user, retry_count=retry_count)

    report = sweep()

    assert (report.recovered, report.processing, report.lost, report.requeued) == (1, 0, 0, 0)
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.error_code, info.retry_count) == (Status.ACTIVE, "", retry_count)
    assert (info.departamento, info.municipio, info.mesa) == ("VALLE", "CALI", "3")
    assert info.fetched_at is not None
    assert info.fetched_at < ago(seconds=1000)
    assert info.raw_response == "", "the raw answer is not kept in the cache"
    assert recording_backend.jobs == []
    assert FakeScraper.calls == []
    assert signals_received == ["finished active"]
    assert kept_outcome(info, retry_count + 1) is None, "dropped once stored"
    assert sweep().recovered == 0


def test_a_kept_failure_is_stored_and_its_retry_queued(
    registered: Callable[..., Any],
    recording_backend: type[RecordingBackend],
    settings: Any,
    signals_received: list[str],
) -> None:
    settings.CEDULA_RETRY_DELAYS = [60, 60]
    user = registered()
    info = set_row(user, status=Status.PROCESSING, updated_at=ago(seconds=1000))
    failure = ScrapeResult(status=ScrapeStatus.TIMEOUT, error="slow")
    outcome = outcome_for(failure, attempt=1, now=ago(seconds=1001))
    keep_outcome(info, 1, outcome.fields, retry_delay=outcome.retry_delay)

    report = sweep()

    assert (report.recovered, report.processing) == (1, 0)
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count, info.error_code) == (Status.RETRYING, 1, "timeout")
    assert recording_backend.jobs == [ValidationJob(user.pk, 2)], "its retry, due long ago: now"
    assert signals_received == ["retry 2 timeout"]
    assert recording_backend.run_next() == Status.ACTIVE
    assert FakeScraper.calls == [CEDULA]


def test_a_dry_run_counts_a_kept_answer_without_storing_it(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> None:
    user = registered()
    info = kept_found_outcome(user)
    report = sweep(dry_run=True)
    assert (report.recovered, report.processing) == (1, 0)
    assert CedulaInfo.objects.get(user=user).status == Status.PROCESSING
    assert kept_outcome(info, 1) is not None


def test_an_answer_kept_for_an_earlier_validation_is_not_stored(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend], settings: Any
) -> None:
    """The row was restarted since (a new number, say): its new first attempt is not the old one."""
    settings.CEDULA_RETRY_DELAYS = [60]
    user = registered()
    kept_found_outcome(user)
    set_row(user, requested_at=timezone.now())

    report = sweep()

    assert (report.recovered, report.processing) == (0, 1)
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.error_code, info.departamento) == (Status.RETRYING, "lost", "")
    assert kept_outcome(info, 1) is None


def test_an_answer_kept_for_another_attempt_is_not_stored(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_RETRY_DELAYS = [60, 60]
    user = registered()
    kept_found_outcome(user)
    set_row(user, retry_count=1)  # attempt 2 is the one PROCESSING
    report = sweep()
    assert (report.recovered, report.processing) == (0, 1)
    assert CedulaInfo.objects.get(user=user).error_code == "lost"


@pytest.mark.parametrize(
    "garbage",
    [
        "garbage",
        {"fields": "garbage"},
        {"fields": {"status": "processing"}},
        {"fields": {"status": "active", "user_id": 7}},
        {"fields": {"status": "active", "municipio": 7}},
        {"fields": {"status": "active", "fetched_at": "yesterday"}},
        {"fields": {"status": "active", "retry_count": True}},
        {"fields": {"status": "retrying"}, "retry_delay": None},
        {"fields": {"status": "retrying"}, "retry_delay": float("inf")},
        {"fields": {"status": "active"}, "retry_delay": 5},
    ],
)
def test_garbage_where_a_kept_answer_would_be_is_discarded(
    registered: Callable[..., Any],
    recording_backend: type[RecordingBackend],
    settings: Any,
    garbage: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.CEDULA_RETRY_DELAYS = [60]
    user = registered()
    info = set_row(user, status=Status.PROCESSING, updated_at=ago(seconds=1000))
    if isinstance(garbage, dict):
        garbage = {"requested_at": info.requested_at.isoformat(), **garbage}
    key = f"django_cedula:kept:{info.pk}:1"
    caches["default"].set(key, garbage)

    report = sweep()

    assert (report.recovered, report.processing) == (0, 1)
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.error_code) == (Status.RETRYING, "lost")
    assert caches["default"].get(key) is None, "discarded"
    assert "Discarded a kept outcome" in caplog.text


def test_the_command_says_how_many_kept_answers_it_stored(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> None:
    from io import StringIO

    from django.core.management import call_command

    kept_found_outcome(registered())
    out = StringIO()

    call_command("cedula_sweep", stdout=out)

    assert "1 processing row's answer, kept through a database outage, was stored (no new lookup)" in (
        out.getvalue()
    )
    assert FakeScraper.calls == []
