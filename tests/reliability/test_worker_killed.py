"""A worker killed outright mid-lookup: the sweeper finishes its row, and no browser survives it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command

from django_cedula.models import CedulaInfo
from django_cedula.testing.replica import Replica
from tests.browser.helpers import TAG_VAR, assert_no_tagged_processes, new_tag
from tests.integration.conftest import Worker, wait_until

from .support import (
    ChromiumWatch,
    browser_processes,
    describe_processes,
    kill_cluster,
    rows_final,
    wait_for_cluster,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Status = CedulaInfo.Status

NUMBER = "3100000001"
#: The replica holds this number's answer back this long; the lookup waits up to PAGE_TIMEOUT for it.
SLOW_SECONDS = 20
PAGE_TIMEOUT = 25


def test_a_lookup_killed_with_its_worker_is_finished_after_a_sweep_and_leaves_no_chromium(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    configure: Callable[..., dict[str, Any]],
    cedula_replica: Replica,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    chromium: ChromiumWatch,
) -> None:
    """The replica holds one number's answer back, so its lookup is in flight (row PROCESSING, the POST
    at the replica) when the whole qcluster process group gets SIGKILL. The killed workers' Chromium,
    in a group of its own, must go too (its driver's pipe closed). A new cluster does not pick the row
    up by itself; ``cedula_sweep`` sees it PROCESSING for longer than CEDULA_SWEEP["PROCESSING_AFTER"],
    counts the lost attempt and queues the next one, which ends ACTIVE: two lookups, one counted loss."""
    overrides = configure({"page_timeout": PAGE_TIMEOUT}, CEDULA_LOOKUP_TIMEOUT=PAGE_TIMEOUT + 15)
    cedula_replica.slow_seconds = SLOW_SECONDS
    cedula_replica.set_fault("slow", NUMBER, times=1)
    first = start_worker(["qcluster"], overrides)
    wait_for_cluster(first)

    user = make_user(cedula=NUMBER)
    cedula_replica.wait_for(1, timeout=60, kind="lookup", cedula=NUMBER)
    assert CedulaInfo.objects.get(user=user).status == Status.PROCESSING
    browsers = browser_processes(chromium.tag)
    assert browsers, "the lookup runs in a real Chromium"
    # Playwright starts Chromium in a process group of its own: killing the cluster's group misses it.
    assert all(browser.pgid != first.process.pid for browser in browsers), describe_processes(browsers)
    chromium.sample()
    in_flight = chromium.left()

    kill_cluster(first)
    # With its Playwright driver dead, Chromium (and every helper of it) must exit by itself.
    if not wait_until(lambda: not chromium.left(), timeout=15):
        pytest.fail(
            f"Chromium outlived its SIGKILLed worker: {describe_processes(chromium.left())} "
            f"(of {describe_processes(in_flight)})\n{first.log()}"
        )
    assert_no_tagged_processes(chromium.tag, timeout=5)
    cedula_replica.clear_faults()
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count) == (Status.PROCESSING, 0), "nothing finished the killed lookup"

    # A new cluster, under a tag of its own. The job is not delivered again by itself (not within
    # Django-Q2's ``retry`` of 90 s on the ORM broker, never on Redis): the row waits for a sweep.
    second_tag = new_tag()
    monkeypatch.setenv(TAG_VAR, second_tag)
    second_chromium = ChromiumWatch(second_tag).start()
    request.addfinalizer(second_chromium.stop)
    second = start_worker(["qcluster"], overrides)
    wait_for_cluster(second)
    assert CedulaInfo.objects.get(user=user).status == Status.PROCESSING

    settings.CEDULA_SWEEP = {"PROCESSING_AFTER": 1}
    caplog.set_level(logging.INFO, logger="django_cedula.sweeper")
    out = io.StringIO()
    call_command("cedula_sweep", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert (report["processing"], report["pending"], report["enqueue_failures"]) == (1, 0, 0), report

    assert wait_until(lambda: rows_final([user.pk]), timeout=60), second.log()
    info = CedulaInfo.objects.get(user=user)
    # The lost attempt counts (it may have cost a captcha): a row whose jobs keep dying runs out.
    assert (info.status, info.retry_count, info.error_code) == (Status.ACTIVE, 1, "")
    assert info.departamento
    assert len(cedula_replica.lookups(NUMBER)) == 2, "the killed lookup and the re-queued one"
    assert f"user {user.pk} was processing since" in caplog.text, (
        "the sweep says whose worker it presumes dead"
    )

    second.stop()
    assert_no_tagged_processes(second_tag, timeout=15)
    second_chromium.assert_none_left()
    chromium.assert_none_left(timeout=1)
