"""One job delivered twice, and two workers racing for one row: one lookup, one retry, consistent counts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection, transaction
from django_q.tasks import async_task

from django_cedula.backends.base import TASK_PATH, ValidationJob
from django_cedula.models import CedulaInfo
from django_cedula.testing.replica import Replica
from tests.browser.helpers import assert_no_tagged_processes
from tests.integration.conftest import Worker, wait_until

from .support import (
    SCHEDULER_TICK,
    ChromiumWatch,
    job_failures,
    job_runs,
    package_schedules,
    retry_schedule_name,
    status_counts,
    user_lines,
    wait_for_cluster,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Status = CedulaInfo.Status

RACED = "3200000001"  # found at once
FLAKY = "3200000002"  # one "Curl error: Operation timed out..." (a timeout), then found

WAITING_FOR_THE_ROW = """
    SELECT count(*) FROM pg_stat_activity
    WHERE datname = current_database() AND wait_event_type = 'Lock'
      AND query LIKE 'UPDATE "django_cedula_cedulainfo"%%'
"""


def deliver(user_id: int, attempt: int) -> None:
    """Queue ``validate_user_cedula(user_id, attempt)`` through Django-Q2 as the backend does: a second
    delivery of a job already queued (a broker redelivering, a sweep racing a late job)."""
    job = ValidationJob(user_id=user_id, attempt=attempt)
    q_options = {"ack_failure": True, "group": "django_cedula", "task_name": job.name}
    async_task(TASK_PATH, job.user_id, job.attempt, q_options=q_options)


def workers_waiting_for_the_row() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # the view is a snapshot per transaction
        cursor.execute(WAITING_FOR_THE_ROW)
        (count,) = cursor.fetchone()
    return int(count)


@contextmanager
def row_held(user_id: int) -> Iterator[bool]:
    """On PostgreSQL, hold a lock on the user's row, so that both workers' claims queue up behind it and
    race the moment it is released; yields whether it could. SQLite has no row locks (a write lock
    would stop Django-Q2's ORM broker too): there the duplicates race as the cluster hands them out."""
    if connection.vendor != "postgresql":
        yield False
        return
    with transaction.atomic():
        CedulaInfo.objects.select_for_update().get(user_id=user_id)
        yield True


def results(user_id: int, attempt: int) -> list[str | None]:
    """What each run of the job returned: the status it stored, or None when it did nothing."""
    runs = job_runs(user_id, attempt)
    assert all(run.success for run in runs), [run.result for run in runs]
    return sorted((run.result for run in runs), key=lambda result: (result is None, str(result)))


def test_a_job_delivered_twice_looks_up_once_and_schedules_one_retry(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    configure: Callable[..., dict[str, Any]],
    cedula_replica: Replica,
    chromium: ChromiumWatch,
) -> None:
    """Two users register while no cluster runs; each one's first attempt is queued a second time
    through Django-Q2, right behind the first. Then a qcluster with two workers starts.

    ``raced``: both workers take its two deliveries at once. On PostgreSQL the test holds the row
    locked until both workers' claiming UPDATEs wait on it, so that they really race. One claim wins;
    one lookup, ACTIVE, retry_count 0; the other run returns None and logs the attempt as taken.

    ``flaky`` (a "Curl error" once at the replica): its two deliveries make one lookup, which fails,
    and exactly one retry schedule, ``django_cedula:<id>:2``. That retry is then delivered twice too:
    once by hand at once, once by the schedule on Django-Q2's next scheduler tick. Final: ACTIVE,
    retry_count 1, two lookups, no schedule left, every run of the job a success."""
    overrides = configure(CEDULA_RETRY_DELAYS=[1])
    cedula_replica.set_fault("curl_error", FLAKY, times=1)
    raced = make_user(cedula=RACED)
    deliver(raced.pk, 1)
    flaky = make_user(cedula=FLAKY)
    deliver(flaky.pk, 1)
    assert status_counts([raced.pk, flaky.pk]) == {Status.PENDING: 2}

    with row_held(raced.pk) as held:
        cluster = start_worker(["qcluster"], overrides)
        wait_for_cluster(cluster)
        if held:
            assert wait_until(lambda: workers_waiting_for_the_row() == 2, timeout=30), cluster.log()
            assert CedulaInfo.objects.get(user=raced).status == Status.PENDING

    def first_attempts_done() -> bool:
        return len(job_runs(raced.pk, 1)) == 2 and len(job_runs(flaky.pk, 1)) == 2

    assert wait_until(first_attempts_done, timeout=60), cluster.log()

    info = CedulaInfo.objects.get(user=raced)
    assert (info.status, info.retry_count) == (Status.ACTIVE, 0)
    assert len(cedula_replica.lookups(RACED)) == 1
    assert results(raced.pk, 1) == [Status.ACTIVE.value, None]
    assert any("skipped: already taken" in line for line in user_lines(cluster.log(), raced.pk)), (
        cluster.log()
    )

    info = CedulaInfo.objects.get(user=flaky)
    assert (info.status, info.retry_count, info.error_code) == (Status.RETRYING, 1, "timeout")
    assert len(cedula_replica.lookups(FLAKY)) == 1
    assert results(flaky.pk, 1) == [Status.RETRYING.value, None]
    assert package_schedules() == [retry_schedule_name(flaky.pk, 2)], "one retry schedule, not two"

    # The retry, delivered ahead of its schedule (a redelivery); the schedule then brings it again.
    deliver(flaky.pk, 2)

    def retry_delivered_twice() -> bool:
        return len(job_runs(flaky.pk, 2)) == 2 and not package_schedules()

    assert wait_until(retry_delivered_twice, timeout=SCHEDULER_TICK + 30), cluster.log()
    info = CedulaInfo.objects.get(user=flaky)
    assert (info.status, info.retry_count, info.error_code) == (Status.ACTIVE, 1, "")
    assert len(cedula_replica.lookups(FLAKY)) == 2
    assert results(flaky.pk, 2) == [Status.ACTIVE.value, None]
    assert not package_schedules()
    assert job_failures() == []
    assert "Traceback" not in cluster.log()

    cluster.stop()
    assert_no_tagged_processes(chromium.tag, timeout=15)
    chromium.assert_none_left()
