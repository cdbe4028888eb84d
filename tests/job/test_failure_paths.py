"""The job's failure paths: whatever fails after the claim ends as a counted attempt, never a row left
PROCESSING for the sweeper to repeat for ever.

These run on SQLite and, in the tox environments ``*-postgres``, on PostgreSQL, where column lengths,
triggers and lost connections behave as in production.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import DatabaseError, connection, connections
from django.test import override_settings

from django_cedula import sweeper
from django_cedula.backends import ValidationJob
from django_cedula.conf import app_settings
from django_cedula.exceptions import EnqueueError
from django_cedula.models import CedulaInfo
from django_cedula.signals import retry_scheduled, validation_finished
from django_cedula.testing.backends import RecordingBackend
from django_cedula.testing.scrapers import FakeScraper
from tests.misbehaving_scrapers import ConnectionDroppingScraper, PrepareExplodesScraper
from tests.ops.conftest import ago, set_row

pytestmark = pytest.mark.django_db(transaction=True)
Status = CedulaInfo.Status
CEDULA = "1020304050"


@pytest.fixture
def user(recording_backend: type[RecordingBackend], make_user: Callable[..., Any]) -> Any:
    """A registered user whose first job is recorded, not yet run."""
    created = make_user(cedula=CEDULA)
    assert recording_backend.jobs == [ValidationJob(created.pk, 1)]
    return created


def column_length(name: str) -> int:
    length = CedulaInfo._meta.get_field(name).max_length
    assert isinstance(length, int)
    return length


# --------------------------------------------------------------------------- values cut to columns


def test_an_over_long_found_answer_is_stored_cut_to_its_columns(
    user: Any, recording_backend: type[RecordingBackend]
) -> None:
    """PostgreSQL refused a mesa of 21 characters with DataError and the row stayed PROCESSING; every
    sweep then repeated a paid lookup. Now each value is cut to its column's max_length."""
    answer = {
        "status": "found",
        "departamento": "D" * 150,
        "municipio": "M" * 101,
        "puesto": "P" * 300,
        "direccion": "C" * 1000,
        "mesa": "MESA " + "9" * 40,
    }
    FakeScraper.set_outcome(CEDULA, answer)
    assert recording_backend.run_next() == Status.ACTIVE
    info = CedulaInfo.objects.get(user=user)
    for name in ("departamento", "municipio", "puesto", "direccion", "mesa"):
        stored = getattr(info, name)
        assert len(stored) == column_length(name), name
        assert stored.endswith("…")
        assert stored[:-1] == answer[name][: column_length(name) - 1]
    assert recording_backend.jobs == []
    assert FakeScraper.calls == [CEDULA]


def test_an_over_long_cancellation_is_stored_cut_to_its_columns(
    user: Any, recording_backend: type[RecordingBackend]
) -> None:
    FakeScraper.set_outcome(
        CEDULA,
        {
            "status": "cancelled",
            "novedad": "Cancelada por Muerte " + "x" * 400,
            "resolucion": "R" * 200,
            "fecha_novedad": "2020-01-01 " + "y" * 80,
        },
    )
    assert recording_backend.run_next() == Status.CANCELLED_DECEASED
    info = CedulaInfo.objects.get(user=user)
    assert len(info.novedad) == column_length("novedad")
    assert info.novedad.startswith("Cancelada por Muerte")
    assert len(info.resolucion) == column_length("resolucion")
    assert len(info.fecha_novedad) == column_length("fecha_novedad")


def test_an_absurdly_long_error_is_stored_bounded(
    user: Any, recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_RETRY_DELAYS = []
    FakeScraper.set_outcome(CEDULA, {"status": "parse_error", "error": "e" * 100_000})
    assert recording_backend.run_next() == Status.ERROR
    info = CedulaInfo.objects.get(user=user)
    assert info.error_code == "parse_error"
    assert 0 < len(info.error_message) <= 1000


# --------------------------------------------------------------------------- raised after the claim


def test_a_raising_prepare_is_a_counted_attempt_retried_until_none_is_left(
    user: Any, recording_backend: type[RecordingBackend], settings: Any
) -> None:
    """prepare() (run before the throttle's turn) raised, and the row stayed PROCESSING for ever."""
    settings.CEDULA_SOURCES = [{"BACKEND": "tests.misbehaving_scrapers.PrepareExplodesScraper"}]
    settings.CEDULA_RATE_LIMIT = "100/s"  # prepare() is called when a rate limit is set
    settings.CEDULA_RETRY_DELAYS = [60, 300]
    PrepareExplodesScraper.lookups = 0

    assert recording_backend.run_next() == Status.RETRYING
    info = CedulaInfo.objects.get(user=user)
    assert (info.retry_count, info.error_code) == (1, "internal_error")
    assert "RuntimeError: the browser could not start" in info.error_message
    assert recording_backend.jobs == [ValidationJob(user.pk, 2, delay=60)]

    assert recording_backend.run_next() == Status.RETRYING
    assert recording_backend.run_next() == Status.ERROR
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count, info.error_code) == (Status.ERROR, 2, "internal_error")
    assert info.is_final
    assert recording_backend.jobs == []
    assert PrepareExplodesScraper.lookups == 0


def test_a_host_scrapers_exception_is_stored_and_logged_with_the_number_masked(
    user: Any, recording_backend: type[RecordingBackend], settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CEDULA_SOURCES = [{"BACKEND": "tests.misbehaving_scrapers.QuotingScraper"}]
    caplog.set_level(logging.DEBUG)
    assert recording_backend.run_next() == Status.RETRYING
    info = CedulaInfo.objects.get(user=user)
    assert info.error_code == "network_error"
    assert "******4050" in info.error_message
    texts = [info.error_message, caplog.text]
    for text in texts:
        assert CEDULA not in text
        assert "hunter2" not in text
        assert "s3cret" not in text
    assert "Traceback" in caplog.text, "the log keeps the traceback, masked"


def test_a_short_cedula_quoted_by_a_host_scraper_is_masked_too(
    make_user: Any, recording_backend: type[RecordingBackend], settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Numbers under six digits escape the generic masking: the job masks the row's own number."""
    settings.CEDULA_SOURCES = [{"BACKEND": "tests.misbehaving_scrapers.QuotingScraper"}]
    short = make_user(cedula="4821")
    caplog.set_level(logging.DEBUG)
    assert recording_backend.run_next() == Status.RETRYING
    info = CedulaInfo.objects.get(user=short)
    assert info.error_code == "network_error"
    for text in (info.error_message, caplog.text):
        assert "4821" not in text
        assert "hunter2" not in text


# --------------------------------------------------------------------------- the database while storing


def test_a_connection_lost_during_the_lookup_keeps_the_answer(
    user: Any, recording_backend: type[RecordingBackend], settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A 1.5 s connection loss mid-lookup used to lose the answer and cost a second lookup; now the
    store is retried once on a fresh connection."""
    settings.CEDULA_SOURCES = [{"BACKEND": "tests.misbehaving_scrapers.ConnectionDroppingScraper"}]
    ConnectionDroppingScraper.drops = 0
    caplog.set_level(logging.WARNING, logger="django_cedula.job")

    assert recording_backend.run_next() == Status.ACTIVE

    assert ConnectionDroppingScraper.drops == 1
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.municipio, info.retry_count) == (Status.ACTIVE, "MEDELLÍN", 0)
    assert "retrying on a fresh connection" in caplog.text


@pytest.fixture
def refuse_updates() -> Iterator[Callable[[str], None]]:
    """``refuse(condition)``: a real trigger makes the database refuse updates of the package's rows
    whose new values match ``condition`` (SQL over ``NEW``), as a constraint or a full disk would."""
    table = CedulaInfo._meta.db_table
    created: list[str] = []

    def refuse(condition: str) -> None:
        name = f"refuse_{len(created)}"
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN "
                    f"IF {condition} THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; "
                    "END $$ LANGUAGE plpgsql"
                )
                cursor.execute(
                    f"CREATE TRIGGER {name} BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"
                )
            else:
                cursor.execute(
                    f"CREATE TRIGGER {name} BEFORE UPDATE ON {table} FOR EACH ROW WHEN {condition} "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
        created.append(name)

    yield refuse
    with connection.cursor() as cursor:
        for name in created:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
                cursor.execute(f"DROP FUNCTION IF EXISTS {name}()")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def test_an_answer_the_database_refuses_twice_ends_as_a_minimal_error(
    user: Any,
    recording_backend: type[RecordingBackend],
    refuse_updates: Callable[[str], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    refuse_updates("NEW.mesa = 'REFUSED'")
    FakeScraper.set_outcome(CEDULA, {"status": "found", "departamento": "VALLE", "mesa": "REFUSED"})
    caplog.set_level(logging.WARNING, logger="django_cedula.job")

    assert recording_backend.run_next() == Status.ERROR

    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.error_code, info.mesa) == (Status.ERROR, "store_error", "")
    assert "could not be stored" in info.error_message
    assert info.is_final
    assert recording_backend.jobs == []
    assert FakeScraper.calls == [CEDULA], "one lookup: the minimal error is not a retry"
    assert "storing a minimal error instead" in caplog.text


def test_a_transaction_that_fails_after_the_row_was_written_keeps_the_answer(
    user: Any, recording_backend: type[RecordingBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's transaction can fail after its UPDATE matched (here: at the moment its signal is
    set up; in production, a commit that does not go through). The row is rolled back, and the job's
    copy of it must be too: otherwise the retry's "as seen" rule compared the database with values
    that were never committed, found the row "changed" and threw the paid answer away."""
    from django_cedula import job

    failures: list[str] = []
    send_on_commit = job.send_on_commit

    def fails_once(*args: Any, **kwargs: Any) -> None:
        if not failures:
            failures.append("failed")
            raise DatabaseError("the transaction could not be committed")
        send_on_commit(*args, **kwargs)

    monkeypatch.setattr(job, "send_on_commit", fails_once)
    FakeScraper.set_outcome(CEDULA, {"status": "found", "departamento": "VALLE", "mesa": "7"})

    assert recording_backend.run_next() == Status.ACTIVE

    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.departamento, info.mesa) == (Status.ACTIVE, "VALLE", "7")
    assert failures == ["failed"]
    assert FakeScraper.calls == [CEDULA], "one paid lookup, stored on the second try"


def test_when_nothing_can_be_stored_the_sweeper_counts_the_attempt(
    user: Any,
    recording_backend: type[RecordingBackend],
    refuse_updates: Callable[[str], None],
    settings: Any,
) -> None:
    """The database refuses every write after the claim: the job raises (its queue records a failure)
    and the row stays PROCESSING; the sweep then counts that attempt as spent."""
    settings.CEDULA_RETRY_DELAYS = [60]
    refuse_updates("OLD.status = 'processing'")
    with pytest.raises(DatabaseError):
        recording_backend.run_next()
    assert CedulaInfo.objects.get(user=user).status == Status.PROCESSING

    with connection.cursor() as cursor:  # the database recovers
        cursor.execute(
            f"DROP TRIGGER refuse_0 ON {CedulaInfo._meta.db_table}"
            if connection.vendor == "postgresql"
            else "DROP TRIGGER refuse_0"
        )
    set_row(user, updated_at=ago(seconds=app_settings.SWEEP_PROCESSING_AFTER + 60))
    report = sweeper.sweep()
    assert (report.processing, report.lost) == (1, 0)
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count, info.error_code) == (Status.RETRYING, 1, "lost")
    assert recording_backend.jobs == [ValidationJob(user.pk, 2)]
    assert recording_backend.run_next() == Status.ACTIVE
    assert FakeScraper.calls == [CEDULA, CEDULA]


# --------------------------------------------------------------------------- configuration errors


def test_a_configuration_error_ends_the_row_at_once_and_is_logged_once_with_its_hint(
    user: Any, recording_backend: type[RecordingBackend], settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A TypeError building the scraper used to be stored as network_error and retried three times."""
    settings.CEDULA_SOURCES = [
        {"BACKEND": "django_cedula.testing.scrapers.FakeScraper", "OPTIONS": {"bogus": 1}}
    ]
    settings.CEDULA_RETRY_DELAYS = [60, 300, 900]
    caplog.set_level(logging.INFO, logger="django_cedula.job")

    assert recording_backend.run_next() == Status.ERROR

    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.error_code, info.retry_count) == (Status.ERROR, "config_error", 0)
    assert "bogus" in info.error_message
    assert "CEDULA_SOURCES[0]" in info.error_message
    assert recording_backend.jobs == [], "not retried"
    assert FakeScraper.calls == []
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "django_cedula.job"]
    assert len(errors) == 1
    assert "Not retried" in errors[0].getMessage()


def test_a_solver_missing_its_api_key_ends_as_a_configuration_error_without_a_browser(
    user: Any, recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_SOURCES = [{"BACKEND": "django_cedula.scrapers.wsp.WspScraper"}]
    settings.CEDULA_CAPTCHA_SOLVER = {"BACKEND": "django_cedula.captcha.twocaptcha.TwoCaptchaSolver"}
    assert recording_backend.run_next() == Status.ERROR
    info = CedulaInfo.objects.get(user=user)
    assert info.error_code == "config_error"
    assert "api_key" in info.error_message
    assert recording_backend.jobs == []


# --------------------------------------------------------------------------- routers and signals


class ReadsFromReplicaRouter:
    """A primary/replica router: reads of the package's rows go to ``replica``, writes to ``default``."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return "replica" if model is CedulaInfo else None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return "default"

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return True


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_the_job_reads_the_row_it_claimed_from_the_write_database(
    user: Any, recording_backend: type[RecordingBackend]
) -> None:
    """With reads routed to a replica (here: one that has not caught up), the job skipped the row it had
    just claimed, which stayed PROCESSING until a sweep."""
    assert not CedulaInfo.objects.using("replica").exists()
    with override_settings(DATABASE_ROUTERS=[f"{__name__}.ReadsFromReplicaRouter"]):
        assert recording_backend.run_next() == Status.ACTIVE
    assert CedulaInfo.objects.using("default").get(user=user).status == Status.ACTIVE
    assert FakeScraper.calls == [CEDULA]
    connections["replica"].close()


class RefusingRetriesBackend(RecordingBackend):
    """Takes first attempts and refuses every retry, as a broker going down between them would."""

    def enqueue(self, job: ValidationJob) -> None:
        if job.attempt > 1:
            raise EnqueueError("the broker is down")
        super().enqueue(job)


@pytest.fixture
def signals_received() -> Iterator[list[str]]:
    received: list[str] = []

    def on_retry(**kwargs: Any) -> None:
        received.append(f"retry {kwargs['attempt']}")

    def on_finished(**kwargs: Any) -> None:
        received.append(f"finished {kwargs['status']}")

    retry_scheduled.connect(on_retry)
    validation_finished.connect(on_finished)
    yield received
    retry_scheduled.disconnect(on_retry)
    validation_finished.disconnect(on_finished)


def test_retry_scheduled_is_sent_only_once_the_queue_took_the_retry(
    user: Any, recording_backend: type[RecordingBackend], settings: Any, signals_received: list[str]
) -> None:
    FakeScraper.set_outcome(CEDULA, "timeout", "timeout", "found")
    assert recording_backend.run_next() == Status.RETRYING
    assert signals_received == ["retry 2"]

    settings.CEDULA_TASKS = {"BACKEND": f"{__name__}.RefusingRetriesBackend"}
    assert recording_backend.run_next() == Status.RETRYING
    assert signals_received == ["retry 2"], "the broker refused attempt 3: no signal"
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count) == (Status.RETRYING, 2), "left for the sweeper"
    assert recording_backend.jobs == []
