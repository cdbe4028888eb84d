"""A user deleted while their job waits in the queue, or while its lookup runs: the job ends quietly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django_q.models import OrmQ

from django_cedula.models import CedulaInfo
from django_cedula.testing.replica import Replica
from tests.browser.helpers import assert_no_tagged_processes
from tests.integration.conftest import Worker, wait_until

from .support import (
    ChromiumWatch,
    job_failures,
    job_runs,
    package_schedules,
    rows_final,
    user_lines,
    wait_for_cluster,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Status = CedulaInfo.Status

GONE = "3300000001"  # deleted before its job runs
CONTROL = "3300000002"  # registered after the deletion: proves the cluster works through the queue
MID_LOOKUP = "3300000003"  # deleted while the replica holds its answer back
SLOW_SECONDS = 6
PAGE_TIMEOUT = 4


def test_a_job_whose_user_was_deleted_exits_cleanly_without_a_lookup(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    configure: Callable[..., dict[str, Any]],
    cedula_replica: Replica,
    chromium: ChromiumWatch,
) -> None:
    """A user registers while no cluster runs (row PENDING, job in the ORM queue) and is deleted; their
    row goes with them (cascade). When the cluster starts, the job finds nothing to claim: no lookup,
    no schedule, no row brought back, no traceback, and Django-Q2 records the run as a success that
    returned None.

    Then a user deleted while their lookup is in flight (the replica holds the answer back until the
    lookup times out, a failure that would be retried): the job's result is discarded, nothing is
    stored and no retry scheduled."""
    overrides = configure({"page_timeout": PAGE_TIMEOUT}, CEDULA_RETRY_DELAYS=[1])
    gone = make_user(cedula=GONE)
    gone_id = gone.pk
    assert CedulaInfo.objects.get(user_id=gone_id).status == Status.PENDING
    assert OrmQ.objects.count() == 1, "its job waits in the queue"
    gone.delete()
    assert not CedulaInfo.objects.filter(user_id=gone_id).exists()
    control = make_user(cedula=CONTROL)

    cluster = start_worker(["qcluster"], overrides)
    wait_for_cluster(cluster)
    assert wait_until(lambda: rows_final([control.pk]) and len(job_runs(gone_id, 1)) == 1, timeout=60), (
        cluster.log()
    )
    assert CedulaInfo.objects.get(user=control).status == Status.ACTIVE

    (run,) = job_runs(gone_id, 1)
    assert (run.success, run.result) == (True, None)
    assert not CedulaInfo.objects.filter(user_id=gone_id).exists()
    assert cedula_replica.lookups(GONE) == []
    lines = user_lines(cluster.log(), gone_id)
    assert any("skipped: the user or the row is gone" in line for line in lines), cluster.log()

    # Deleted mid-lookup: the lookup times out (would be retried), but the row is gone by then.
    cedula_replica.slow_seconds = SLOW_SECONDS
    cedula_replica.set_fault("slow", MID_LOOKUP, times=1)
    doomed = make_user(cedula=MID_LOOKUP)
    doomed_id = doomed.pk
    cedula_replica.wait_for(1, timeout=30, kind="lookup", cedula=MID_LOOKUP)
    assert CedulaInfo.objects.get(user_id=doomed_id).status == Status.PROCESSING
    doomed.delete()
    assert wait_until(lambda: len(job_runs(doomed_id, 1)) == 1, timeout=PAGE_TIMEOUT + 30), cluster.log()
    (run,) = job_runs(doomed_id, 1)
    assert (run.success, run.result) == (True, None)
    assert any("result discarded" in line for line in user_lines(cluster.log(), doomed_id)), cluster.log()
    assert not CedulaInfo.objects.filter(user_id=doomed_id).exists()
    assert len(cedula_replica.lookups(MID_LOOKUP)) == 1

    assert package_schedules() == [], "no retry for a user who is gone"
    assert job_failures() == []
    assert wait_until(lambda: not OrmQ.objects.exists(), timeout=10), "every delivery acknowledged"
    assert "Traceback" not in cluster.log()
    cluster.stop()
    assert_no_tagged_processes(chromium.tag, timeout=15)
    chromium.assert_none_left()
