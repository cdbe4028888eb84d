"""The store through a database outage: a paid answer is stored once the database is back, by the job
or, when the job's time runs out first, by the sweeper from the outcome the job kept in the cache.

The outage is real, in this process: on PostgreSQL the tests' connection goes through a TCP proxy of
their own, which cuts it and refuses new ones for a while (a restart, a failover); on SQLite the
job's connection is closed and the database file moved away, so that a fresh connection finds an
empty database until it is back. The job runs in-process (``RecordingBackend.run_next``); the real
worker processes are ``tests/reliability/test_db_outage.py``'s.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from django.core.cache import caches
from django.db import DatabaseError, connection

from django_cedula import sweeper
from django_cedula.backends import ValidationJob
from django_cedula.conf import app_settings
from django_cedula.models import CedulaInfo, kept_outcome
from django_cedula.results import ScrapeResult
from django_cedula.signals import validation_finished
from django_cedula.testing.backends import RecordingBackend
from django_cedula.testing.scrapers import FakeScraper
from tests.ops.conftest import ago, set_row
from tests.reliability.tcp_proxy import TcpProxy

pytestmark = pytest.mark.django_db(transaction=True)
Status = CedulaInfo.Status
CEDULA = "1020304050"
ANSWER = {"status": "found", "departamento": "ANTIOQUIA", "municipio": "MEDELLÍN", "mesa": "7"}


class OutageScraper(FakeScraper):
    """Looks the number up as :class:`FakeScraper` does; the database goes away while it does."""

    cut: ClassVar[Callable[[], None] | None] = None

    def scrape_cedula(self, cedula: str) -> ScrapeResult:
        if type(self).cut is not None:
            type(self).cut()
        return super().scrape_cedula(cedula)


class TimeLimitedBackend(RecordingBackend):
    """A queue that stops a job after 8 s (Django-Q2's ``timeout``, Celery's ``time_limit``): the
    store stops retrying 5 s before that, at 3 s into the job, and leaves the row to the sweeper."""

    def job_time_limit(self) -> float | None:
        return 8.0


@pytest.fixture
def outage(transactional_db: None) -> Iterator[Callable[[float], None]]:
    """``outage(seconds)``: the tests' database goes away now, for ``seconds``."""
    if connection.vendor == "postgresql":
        with TcpProxy((str(connection.settings_dict.get("HOST") or "127.0.0.1"), 5432)) as proxy:
            before = {key: connection.settings_dict.get(key) for key in ("HOST", "PORT")}
            connection.close()
            connection.settings_dict.update(HOST="127.0.0.1", PORT=str(proxy.port))
            try:
                yield lambda seconds: None if proxy.drop(seconds) else pytest.fail("no connection to cut")
            finally:
                connection.close()
                connection.settings_dict.update(before)
        return
    path = Path(connection.settings_dict["NAME"])
    away = path.with_name(path.name + ".away")
    timers: list[threading.Timer] = []

    def cut(seconds: float) -> None:
        raw = connection.connection
        if raw is not None:
            raw.close()  # as a restart leaves it: Django's wrapper still holds it
        os.replace(path, away)
        timer = threading.Timer(seconds, os.replace, args=(away, path))
        timers.append(timer)
        timer.start()

    try:
        yield cut
    finally:
        for timer in timers:
            timer.join()
        if away.exists():
            os.replace(away, path)
        connection.close()


@pytest.fixture
def user(recording_backend: type[RecordingBackend], make_user: Callable[..., Any], settings: Any) -> Any:
    settings.CEDULA_SOURCES = [{"BACKEND": f"{__name__}.OutageScraper"}]
    FakeScraper.set_outcome(CEDULA, ANSWER)
    created = make_user(cedula=CEDULA)
    assert recording_backend.jobs == [ValidationJob(created.pk, 1)]
    yield created
    OutageScraper.cut = None


@pytest.fixture
def finished() -> Iterator[list[str]]:
    received: list[str] = []

    def on_finished(**kwargs: Any) -> None:
        received.append(kwargs["status"])

    validation_finished.connect(on_finished)
    yield received
    validation_finished.disconnect(on_finished)


def test_an_outage_of_a_second_as_the_answer_arrives_keeps_the_answer(
    user: Any,
    recording_backend: type[RecordingBackend],
    outage: Callable[[float], None],
    caplog: pytest.LogCaptureFixture,
    finished: list[str],
) -> None:
    """Before: the store's one retry came at once, met the outage too, and the row stayed PROCESSING
    until a sweep counted the attempt lost and paid for a second lookup."""
    OutageScraper.cut = lambda: outage(1.0)
    caplog.set_level(logging.WARNING, logger="django_cedula")

    assert recording_backend.run_next() == Status.ACTIVE

    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count, info.error_code) == (Status.ACTIVE, 0, "")
    assert (info.departamento, info.municipio, info.mesa) == ("ANTIOQUIA", "MEDELLÍN", "7")
    assert FakeScraper.calls == [CEDULA], "one paid lookup"
    assert finished == [Status.ACTIVE]
    assert "retrying on a fresh connection in" in caplog.text
    assert kept_outcome(info, 1) is None, "the kept outcome is dropped once stored"


def test_an_outage_past_the_jobs_time_leaves_the_answer_to_the_sweeper(
    user: Any,
    recording_backend: type[RecordingBackend],
    outage: Callable[[float], None],
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    finished: list[str],
) -> None:
    """The database stays away past the job's time: the job ends (its queue records a failure), the
    row stays PROCESSING, and the sweep stores the answer the job kept: no second lookup."""
    settings.CEDULA_TASKS = {"BACKEND": f"{__name__}.TimeLimitedBackend"}
    settings.CEDULA_RETRY_DELAYS = [0, 0]
    OutageScraper.cut = lambda: outage(6.0)
    caplog.set_level(logging.WARNING, logger="django_cedula")

    with pytest.raises(DatabaseError, match="could not be stored"):
        recording_backend.run_next()
    assert "which will store the outcome kept in the cache" in caplog.text

    def rows_back() -> CedulaInfo | None:
        try:
            return CedulaInfo.objects.get(user=user)
        except DatabaseError:
            connection.close()
            return None

    assert wait_for(rows_back, timeout=15), "the database came back"
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count) == (Status.PROCESSING, 0)
    assert finished == []

    set_row(user, updated_at=ago(seconds=app_settings.SWEEP_PROCESSING_AFTER + 60))
    report = sweeper.sweep()

    assert (report.recovered, report.processing, report.lost) == (1, 0, 0)
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count, info.error_code) == (Status.ACTIVE, 0, "")
    assert (info.departamento, info.municipio, info.mesa) == ("ANTIOQUIA", "MEDELLÍN", "7")
    assert info.fetched_at is not None
    assert FakeScraper.calls == [CEDULA], "one paid lookup"
    assert recording_backend.jobs == []
    assert finished == [Status.ACTIVE]
    assert kept_outcome(info, 1) is None
    assert sweeper.sweep().recovered == 0


def test_with_the_cache_down_too_the_attempt_counts_as_lost_as_before(
    user: Any,
    recording_backend: type[RecordingBackend],
    outage: Callable[[float], None],
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nowhere to keep the answer: the sweep counts the attempt lost and the next one pays again,
    and the log says why."""
    settings.CACHES = {
        **settings.CACHES,
        "down": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there: refused at once
        },
    }
    settings.CEDULA_CACHE_ALIAS = "down"
    settings.CEDULA_TASKS = {"BACKEND": f"{__name__}.TimeLimitedBackend"}
    settings.CEDULA_RETRY_DELAYS = [0, 0]
    OutageScraper.cut = lambda: outage(4.0)
    caplog.set_level(logging.WARNING, logger="django_cedula")

    with pytest.raises(DatabaseError):
        recording_backend.run_next()
    assert "could not be kept in the cache 'down' either" in caplog.text
    assert "will count the attempt as lost: the cache could not keep the outcome" in caplog.text

    OutageScraper.cut = None
    assert wait_for(lambda: _readable(user), timeout=15)
    set_row(user, updated_at=ago(seconds=app_settings.SWEEP_PROCESSING_AFTER + 60))
    report = sweeper.sweep()
    assert (report.recovered, report.processing) == (0, 1)
    assert "Kept outcomes could not be read from the cache 'down'" in caplog.text
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count, info.error_code) == (Status.RETRYING, 1, "lost")
    assert recording_backend.run_next() == Status.ACTIVE
    assert FakeScraper.calls == [CEDULA, CEDULA], "the lookup was paid for again"
    caches["down"].close()


def _readable(user: Any) -> bool:
    try:
        CedulaInfo.objects.get(user=user)
    except DatabaseError:
        connection.close()
        return False
    return True


def wait_for(condition: Callable[[], Any], *, timeout: float, interval: float = 0.2) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
