"""A database outage while a real worker stores a paid answer: the answer is stored, one lookup only.

A ``manage.py qcluster`` (one worker, Django-Q2's ORM broker on a direct alias) reaches the package's
rows through a TCP proxy of the test's own (``tcp_proxy.py``), which cuts every connection and refuses
new ones for the outage. The source is :class:`GatedScraper`: it answers found once the test lets it,
so the outage starts as the answer arrives. The shared cache is Redis (database 11), where the job
keeps its outcome while it cannot store it, and where the sweeper (this process) finds it.

* 1 s and 32 s outages: the store's retries with backoff outlast them; the row is ACTIVE after one
  lookup (before: the one immediate retry met the outage too, the row stayed PROCESSING until a sweep
  counted the attempt lost and paid for a second lookup).
* An outage past the job's time (Django-Q2's ``timeout``): the job gives up before it is killed, the
  row stays PROCESSING, and the sweep stores the kept answer: still one lookup.

PostgreSQL only (a connection to cut): ``CEDULA_TEST_DATABASE=postgres``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.core.cache import caches
from django.db import connection

from django_cedula.conf import app_settings
from django_cedula.models import KEPT_MARGIN, CedulaInfo
from django_cedula.results import ScrapeResult
from django_cedula.sweeper import sweep
from django_cedula.testing.scrapers import FakeScraper
from tests.integration.conftest import Worker, wait_until

from .support import job_failures, rows_final, wait_for_cluster
from .tcp_proxy import TcpProxy

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="a TCP connection to cut: run with CEDULA_TEST_DATABASE=postgres",
    ),
]
Status = CedulaInfo.Status
DJANGO_Q = "django_cedula.backends.django_q.DjangoQBackend"
#: This suite's own Redis database (other suites use theirs).
REDIS_DB = 11


class GatedScraper(FakeScraper):
    """:class:`FakeScraper` (lookups counted across processes in ``state_dir``) whose answer waits
    for the test: it writes ``<gate_dir>/<number>.asked`` and answers once ``<number>.go`` exists."""

    def __init__(self, *, gate_dir: str, **options: Any) -> None:
        super().__init__(**options)
        self.gate_dir = Path(gate_dir)

    def scrape_cedula(self, cedula: str) -> ScrapeResult:
        (self.gate_dir / f"{cedula}.asked").touch()
        deadline = time.monotonic() + 60
        while not (self.gate_dir / f"{cedula}.go").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return super().scrape_cedula(cedula)


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    with TcpProxy((str(connection.settings_dict.get("HOST") or "127.0.0.1"), 5432)) as running:
        yield running


@pytest.fixture
def cluster(
    start_worker: Callable[..., Worker], proxy: TcpProxy, settings: Any, tmp_path: Path
) -> Callable[..., tuple[Worker, GatedScraper]]:
    """``cluster(timeout)``: a qcluster of one worker whose package queries go through ``proxy``, with
    Django-Q2's job ``timeout``; and a :class:`GatedScraper` reading the same state as the worker's."""

    def start(timeout: int) -> tuple[Worker, GatedScraper]:
        options = {
            "gate_dir": str(tmp_path / "gate"),
            "state_dir": str(tmp_path / "lookups"),
            "outcomes": {},
        }
        (tmp_path / "gate").mkdir()
        shared = {
            "CEDULA_TASKS": {"BACKEND": DJANGO_Q},
            "CEDULA_SOURCES": [{"BACKEND": f"{__name__}.GatedScraper", "OPTIONS": options}],
            "CEDULA_CAPTCHA_SOLVER": None,
            "CEDULA_TOKEN_SUPPLY": {"ENABLED": False},
            "CEDULA_RETRY_DELAYS": [0, 0],
            "CACHES": {
                "default": {
                    "BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": f"redis://127.0.0.1:6379/{REDIS_DB}",
                    "KEY_PREFIX": "db-outage",
                }
            },
        }
        for name, value in shared.items():
            setattr(settings, name, value)
        caches["default"].clear()
        current = dict(connection.settings_dict)
        direct = {key: current[key] for key in ("ENGINE", "NAME", "USER", "HOST", "PORT") if current.get(key)}
        direct["PORT"] = str(current.get("PORT") or 5432)
        worker = start_worker(
            ["qcluster"],
            {
                **shared,
                # The package's alias through the proxy; Django-Q2's broker and results direct, so that
                # only the job's own connection is cut.
                "DATABASES": {
                    "default": {**direct, "HOST": "127.0.0.1", "PORT": str(proxy.port)},
                    "direct": direct,
                },
                "Q_CLUSTER": {
                    **settings.Q_CLUSTER,
                    "orm": "direct",
                    "workers": 1,
                    "timeout": timeout,
                    "retry": timeout + 60,
                },
            },
        )
        wait_for_cluster(worker)
        return worker, GatedScraper(**options)

    return start


def answer_during_an_outage(
    proxy: TcpProxy, gate: GatedScraper, worker: Worker, number: str, outage: float
) -> float:
    """Wait for the worker's lookup of ``number``, start an outage of ``outage`` seconds, then let the
    answer through; return when the outage started (``time.monotonic``)."""
    asked = gate.gate_dir / f"{number}.asked"
    assert wait_until(asked.exists, timeout=60), worker.log()
    assert proxy.drop(outage) >= 1, "the worker's connection went through the proxy"
    started = time.monotonic()
    (gate.gate_dir / f"{number}.go").touch()
    return started


@pytest.mark.parametrize("outage", [1.0, 32.0])
def test_an_outage_as_the_answer_arrives_costs_no_second_lookup(
    cluster: Callable[..., tuple[Worker, GatedScraper]],
    proxy: TcpProxy,
    make_user: Callable[..., Any],
    outage: float,
) -> None:
    worker, gate = cluster(timeout=120)
    number = "3800000101" if outage < 2 else "3800000102"
    user = make_user(cedula=number)

    started = answer_during_an_outage(proxy, gate, worker, number, outage)

    assert wait_until(lambda: rows_final([user.pk]), timeout=outage + 60), worker.log()
    took = time.monotonic() - started
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count, info.error_code) == (Status.ACTIVE, 0, ""), info.error_message
    assert info.departamento
    assert info.municipio
    assert gate.call_count(number) == 1, "one paid lookup"
    assert took >= outage, "stored once the database was back, not before"
    log = worker.log()
    assert "retrying on a fresh connection in" in log
    assert "left to the sweeper" not in log
    assert "ran out" not in log
    assert job_failures() == []
    worker.stop()


def test_an_outage_past_the_jobs_time_is_stored_by_the_sweeper_from_the_kept_answer(
    cluster: Callable[..., tuple[Worker, GatedScraper]],
    proxy: TcpProxy,
    make_user: Callable[..., Any],
    settings: Any,
) -> None:
    """Django-Q2 stops a job at 25 s: the store gives up 5 s before, the row stays PROCESSING with the
    answer kept in Redis, and once the database is back a sweep stores it."""
    worker, gate = cluster(timeout=25)
    number = "3800000103"
    user = make_user(cedula=number)

    answer_during_an_outage(proxy, gate, worker, number, 45.0)

    assert wait_until(lambda: "failed until the job's time ran out" in worker.log(), timeout=40), worker.log()
    assert "which will store the outcome kept in the cache" in worker.log()
    # The queue saw the job fail (its record of it waits for the database, through the proxy too).
    assert wait_until(lambda: "OutcomeNotStored" in worker.log(), timeout=10), worker.log()
    pk = CedulaInfo.objects.get(user=user).pk
    key = caches["default"].make_and_validate_key(f"django_cedula:kept:{pk}:1")
    ttl = redis.Redis(db=REDIS_DB).ttl(key)
    assert ttl > app_settings.SWEEP_PROCESSING_AFTER + KEPT_MARGIN - 120, "kept past the sweeper's wait"
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count) == (Status.PROCESSING, 0)

    settings.CEDULA_SWEEP = {"PROCESSING_AFTER": 1}  # the worker is gone: no need to wait 900 s
    time.sleep(1.5)
    report = sweep()

    assert (report.recovered, report.processing, report.lost) == (1, 0, 0), report
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count, info.error_code) == (Status.ACTIVE, 0, ""), info.error_message
    assert info.departamento
    assert info.municipio
    assert gate.call_count(number) == 1, "one paid lookup"
    assert redis.Redis(db=REDIS_DB).exists(key) == 0, "the kept answer is dropped once stored"
    worker.stop()
