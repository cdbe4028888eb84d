"""Chromium killed between two lookups of a running worker: the next lookup relaunches it and succeeds."""

from __future__ import annotations

import functools
import os
import signal
from collections.abc import Callable
from typing import Any

import pytest

from django_cedula.browser import processes
from django_cedula.models import CedulaInfo
from django_cedula.testing.replica import Replica
from tests.browser.helpers import assert_no_tagged_processes
from tests.integration.conftest import Worker, wait_until

from .support import (
    Q_CLUSTER_WORKERS,
    ChromiumWatch,
    browser_processes,
    describe_processes,
    rows_final,
    status_counts,
    wait_for_cluster,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Status = CedulaInfo.Status

#: Users registered to get a browser into every worker (both first jobs are queued before the
#: cluster starts, so each worker takes one); more only if one worker happened to take both.
WARM_UP = [f"34000000{n:02d}" for n in range(1, 7)]
AFTER_THE_KILL = ["3400000101", "3400000102"]


def test_a_worker_whose_chromium_was_killed_relaunches_it_for_the_next_lookup(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    configure: Callable[..., dict[str, Any]],
    cedula_replica: Replica,
    chromium: ChromiumWatch,
) -> None:
    """Lookups until each of the cluster's two workers runs a Chromium; then SIGKILL every one of those
    browsers while the workers idle (the runtime keeps them, and a page scrubbed for reuse, between
    lookups). The next registrations must be looked up in a relaunched browser within the same
    attempt: ACTIVE, no retry, one lookup each. The killed browsers' helpers must not linger, and
    nothing is left once the cluster stops."""
    overrides = configure()
    warm = [make_user(cedula=number) for number in WARM_UP[:2]]
    cluster = start_worker(["qcluster"], overrides)
    wait_for_cluster(cluster)
    assert wait_until(lambda: rows_final([user.pk for user in warm]), timeout=60), cluster.log()
    for number in WARM_UP[2:]:
        if len(browser_processes(chromium.tag)) >= Q_CLUSTER_WORKERS:
            break
        user = make_user(cedula=number)
        warm.append(user)
        assert wait_until(functools.partial(rows_final, [user.pk]), timeout=30), cluster.log()
    assert status_counts([user.pk for user in warm]) == {Status.ACTIVE: len(warm)}
    browsers = browser_processes(chromium.tag)
    assert len(browsers) == Q_CLUSTER_WORKERS, describe_processes(browsers)

    # Everything those browsers run (renderers, GPU and utility helpers, crash handlers) must go with them.
    chromium.sample()
    doomed = {info.pid for info in chromium.left() if info.comm.lower().startswith("chrom")}
    assert any(b"--type=renderer" in processes.cmdline(pid) for pid in doomed), "the watch sees the helpers"
    for browser in browsers:
        os.kill(browser.pid, signal.SIGKILL)
    killed = {browser.pid for browser in browsers}

    def all_gone() -> bool:
        return not any(processes.is_alive(pid) for pid in doomed)

    assert wait_until(all_gone, timeout=15), describe_processes(
        info for info in chromium.left() if info.pid in doomed
    )

    users = [make_user(cedula=number) for number in AFTER_THE_KILL]
    ids = [user.pk for user in users]
    assert wait_until(lambda: rows_final(ids), timeout=60), cluster.log()
    for user in users:
        info = CedulaInfo.objects.get(user=user)
        assert (info.status, info.retry_count, info.error_code) == (Status.ACTIVE, 0, ""), info.error_message
    for number in AFTER_THE_KILL:
        assert len(cedula_replica.lookups(number)) == 1
    relaunched = browser_processes(chromium.tag)
    assert relaunched, "a new browser served the lookups"
    assert not killed & {browser.pid for browser in relaunched}
    assert "starting a new one" in cluster.log(), cluster.log()
    assert "Traceback" not in cluster.log()

    cluster.stop()
    assert_no_tagged_processes(chromium.tag, timeout=15)
    chromium.assert_none_left()
