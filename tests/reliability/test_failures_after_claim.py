"""Failures after a row is claimed, with real processes: each ends as a counted attempt, and no paid
lookup repeats for ever.

* the qcluster's database connection cut mid-lookup by a TCP proxy of the test's own: the answer
  is stored on a fresh connection, one lookup;
* a scraper whose ``prepare()`` raises: counted, retried, final;
* a Django-Q2 job timeout shorter than the lookup, which kills every attempt: the sweeper counts
  each lost attempt and the row ends as ERROR / ``lost``;
* an answer whose fields are longer than their columns (PostgreSQL refused it; the row stayed
  PROCESSING and every sweep repeated the lookup).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection

from django_cedula.models import CedulaInfo
from django_cedula.sweeper import sweep
from django_cedula.testing.replica import Replica
from tests.integration.conftest import Worker, wait_until

from .support import ChromiumWatch, job_failures, job_runs, rows_final, wait_for_cluster
from .tcp_proxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Status = CedulaInfo.Status

# SQLite has no connection to cut. The reliability environment runs on PostgreSQL, so in CI this
# never skips; on SQLite the job's reconnect is covered by tests/job/test_failure_paths.py.
needs_postgres = pytest.mark.skipif(
    django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="a TCP connection to cut: the reliability environment runs on PostgreSQL",
)


def proxied_databases(proxy: TcpProxy) -> dict[str, Any]:
    """Worker settings: the package's queries go through ``proxy``; Django-Q2's broker and result
    store use a direct alias (``direct``), so that only the job's own connection is cut."""
    current = dict(connection.settings_dict)
    base = {key: current[key] for key in ("ENGINE", "NAME", "USER", "HOST", "PORT") if current.get(key)}
    base["PORT"] = str(current.get("PORT") or 5432)
    return {
        "DATABASES": {"default": {**base, "HOST": "127.0.0.1", "PORT": str(proxy.port)}, "direct": base},
    }


@needs_postgres
def test_a_database_connection_cut_mid_lookup_keeps_the_answer(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    configure: Callable[..., dict[str, Any]],
    cedula_replica: Replica,
    chromium: ChromiumWatch,
    settings: Any,
) -> None:
    """The replica holds the answer back; meanwhile the proxy cuts every connection of the worker's
    package alias and refuses new ones for 1.5 s. The job's store meets the dead connection, opens a
    fresh one and keeps the answer: ACTIVE after one lookup (before: the answer was lost and the row
    waited for a sweep and a second paid lookup)."""
    number = "3800000001"
    overrides = configure({"page_timeout": 15}, CEDULA_LOOKUP_TIMEOUT=40)
    # The answer is held 8 s: the test sees the lookup arrive and cuts the connections well inside that
    # on a loaded machine too.
    cedula_replica.slow_seconds = 8
    cedula_replica.set_fault("slow", number, times=1)
    with TcpProxy((str(connection.settings_dict.get("HOST") or "127.0.0.1"), 5432)) as proxy:
        worker_overrides = {
            **overrides,
            **proxied_databases(proxy),
            "Q_CLUSTER": {**overrides["Q_CLUSTER"], "orm": "direct", "workers": 1},
        }
        cluster = start_worker(["qcluster"], worker_overrides)
        wait_for_cluster(cluster)
        user = make_user(cedula=number)
        cedula_replica.wait_for(1, timeout=60, kind="lookup", cedula=number)
        assert CedulaInfo.objects.get(user=user).status == Status.PROCESSING
        assert proxy.drop(outage=1.5) >= 1, "the worker's connection went through the proxy"

        assert wait_until(lambda: rows_final([user.pk]), timeout=60), cluster.log()
        info = CedulaInfo.objects.get(user=user)
        assert (info.status, info.retry_count, info.error_code) == (Status.ACTIVE, 0, ""), info.error_message
        assert info.departamento
        assert len(cedula_replica.lookups(number)) == 1, "no second paid lookup"
        assert "retrying on a fresh connection" in cluster.log()
        cluster.stop()


def test_a_raising_prepare_is_counted_and_ends_the_row(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    configure: Callable[..., dict[str, Any]],
    cedula_replica: Replica,
) -> None:
    """prepare() runs after the claim, before the throttle's turn. Raising there left the row
    PROCESSING, and every sweep queued it again. Now: two counted retries, then ERROR."""
    overrides = configure(
        CEDULA_SOURCES=[{"BACKEND": "tests.misbehaving_scrapers.PrepareExplodesScraper"}],
        CEDULA_RATE_LIMIT="100/s",
        CEDULA_RETRY_DELAYS=[0, 0],
    )
    cluster = start_worker(["qcluster"], overrides)
    wait_for_cluster(cluster)
    user = make_user(cedula="3800000002")

    assert wait_until(lambda: rows_final([user.pk]), timeout=60), cluster.log()
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count, info.error_code) == (Status.ERROR, 2, "internal_error")
    assert "the browser could not start" in info.error_message
    assert [len(job_runs(user.pk, attempt)) for attempt in (1, 2, 3)] == [1, 1, 1]
    assert job_failures() == [], "the job itself ends cleanly"
    assert cedula_replica.lookups() == []
    cluster.stop()


def test_a_job_timeout_shorter_than_the_lookup_ends_as_lost_after_the_attempts(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    configure: Callable[..., dict[str, Any]],
    cedula_replica: Replica,
    chromium: ChromiumWatch,
    settings: Any,
) -> None:
    """Django-Q2 kills a job that outlives its ``timeout``: the row stays PROCESSING with nothing
    stored. Each sweep used to put it back uncounted, and the same kill came back: a paid lookup per
    sweep, for ever. Now each sweep counts the lost attempt; the third loss ends the row."""
    number = "3800000003"
    overrides = configure(
        {"page_timeout": 60},
        CEDULA_LOOKUP_TIMEOUT=90,
        CEDULA_RETRY_DELAYS=[0, 0],
        # Each attempt runs in a fresh worker process (Django-Q2 replaces the one it killed), so it
        # pays a cold start and a cold Chromium before its lookup reaches the replica: 15 s leaves
        # room for that on a loaded machine and still kills every attempt long before its answer.
        Q_CLUSTER={**settings.Q_CLUSTER, "workers": 1, "timeout": 15, "retry": 600},
    )
    cedula_replica.slow_seconds = 60  # every lookup of this number outlives the job timeout
    cedula_replica.set_fault("slow", number)
    settings.CEDULA_SWEEP = {"PROCESSING_AFTER": 1}
    cluster = start_worker(["qcluster"], overrides)
    wait_for_cluster(cluster)
    user = make_user(cedula=number)

    for attempt in (1, 2, 3):
        cedula_replica.wait_for(attempt, timeout=90, kind="lookup", cedula=number)
        # Django-Q2 records the killed run as a failure; only then is the attempt surely lost.
        assert wait_until(lambda n=attempt: len(job_failures()) >= n, timeout=60), cluster.log()
        info = CedulaInfo.objects.get(user=user)
        assert (info.status, info.retry_count) == (Status.PROCESSING, attempt - 1)
        assert wait_until(lambda: (r := sweep()).processing + r.lost == 1, timeout=10)

    assert rows_final([user.pk])
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count, info.error_code) == (Status.ERROR, 2, "lost")
    assert "attempt 3 was lost" in info.error_message
    assert sweep().requeued == 0, "nothing left to queue"
    assert len(cedula_replica.lookups(number)) == 3, "three paid lookups, not one per sweep for ever"
    cedula_replica.clear_faults()
    cluster.stop()
    chromium.assert_none_left()


@pytest.mark.parametrize(
    ("number", "status", "long_fields"),
    [
        ("1000000060", Status.ACTIVE, ("departamento", "mesa")),
        ("1000000061", Status.CANCELLED_OTHER, ("novedad", "fecha_novedad")),
    ],
)
def test_an_answer_with_over_long_fields_is_stored_cut_after_one_lookup(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    configure: Callable[..., dict[str, Any]],
    cedula_replica: Replica,
    chromium: ChromiumWatch,
    number: str,
    status: str,
    long_fields: tuple[str, ...],
) -> None:
    """The replica answers fields longer than their columns (a mesa of 41 characters, a novedad of
    315). On PostgreSQL storing them raised DataError and the row stayed PROCESSING: each sweep
    then repeated the paid lookup. Now the values are cut to the columns: final after one lookup."""
    overrides = configure(CEDULA_RETRY_DELAYS=[0, 0])
    cluster = start_worker(["qcluster"], overrides)
    wait_for_cluster(cluster)
    user = make_user(cedula=number)

    assert wait_until(lambda: rows_final([user.pk]), timeout=60), cluster.log()
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count, info.error_code) == (status, 0, ""), info.error_message
    for name in long_fields:
        value = getattr(info, name)
        assert len(value) == CedulaInfo._meta.get_field(name).max_length, name
        assert value.endswith("…"), name
    assert len(cedula_replica.lookups(number)) == 1
    assert job_failures() == []
    cluster.stop()
