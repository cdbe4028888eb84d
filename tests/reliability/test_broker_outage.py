"""The broker is down when users register: nobody's registration fails, nothing is lost, a sweep recovers."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from redis.backoff import NoBackoff
from redis.retry import Retry

from django_cedula.models import CedulaInfo
from django_cedula.testing.replica import Replica
from tests.browser.helpers import assert_no_tagged_processes
from tests.integration.conftest import Worker, wait_until

from .support import ChromiumWatch, rows_final, status_counts, wait_for_cluster

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Status = CedulaInfo.Status

NUMBERS = [f"30000000{n:02d}" for n in range(1, 6)]
#: Django-Q2's Redis broker on a port nothing listens on: a real connection failure. Without ``retry``,
#: redis-py retries three times with back-off and each failed registration waits about 4 s for it.
DEAD_REDIS = {"host": "127.0.0.1", "port": 1, "socket_connect_timeout": 1, "retry": Retry(NoBackoff(), 0)}


def sweep(**options: Any) -> dict[str, int]:
    """``manage.py cedula_sweep --json``, as cron would run it; its counts."""
    out = io.StringIO()
    call_command("cedula_sweep", "--json", stdout=out, stderr=io.StringIO(), **options)
    counts: dict[str, int] = json.loads(out.getvalue())
    return counts


def test_registrations_during_a_broker_outage_are_kept_pending_and_finished_after_a_sweep(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    configure: Callable[..., dict[str, Any]],
    cedula_replica: Replica,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    chromium: ChromiumWatch,
) -> None:
    """Five users register, each in their own transaction (as a signup view with ATOMIC_REQUESTS would),
    while this process's Django-Q2 broker (Redis) is unreachable. A cluster on the ORM broker is up the
    whole time, but no job reaches it. Every user is committed with a PENDING row and one error line
    naming the user by id, never the number. A sweep during the outage loses nothing; once the web
    process's broker works again, sweeps re-queue every row and each ends ACTIVE after one lookup."""
    from django_q.conf import Conf

    overrides = configure()
    cluster = start_worker(["qcluster"], overrides)
    wait_for_cluster(cluster)

    caplog.set_level(logging.ERROR, logger="django_cedula")
    with monkeypatch.context() as outage:
        outage.setattr(Conf, "ORM", None)
        outage.setattr(Conf, "REDIS", DEAD_REDIS)
        users = []
        for number in NUMBERS:
            with transaction.atomic():
                users.append(make_user(cedula=number))
        ids = [user.pk for user in users]

        User = type(users[0])
        assert User.objects.filter(pk__in=ids).count() == len(NUMBERS), "every registration committed"
        assert list(CedulaInfo.objects.filter(user_id__in=ids).values_list("status", flat=True)) == [
            Status.PENDING
        ] * len(NUMBERS)
        failures = [record for record in caplog.records if record.name.startswith("django_cedula")]
        for user_id in ids:
            about = [r for r in failures if re.search(rf"\buser {user_id}\b", r.getMessage())]
            assert len(about) == 1, (user_id, [r.getMessage() for r in failures])
            assert "Could not queue" in about[0].getMessage()
            assert "ConnectionError" in about[0].getMessage()
        assert len(failures) == len(NUMBERS)
        for number in NUMBERS:
            assert number not in caplog.text

        # The running cluster never heard of them.
        time.sleep(2)
        assert status_counts(ids) == {Status.PENDING: len(NUMBERS)}
        assert cedula_replica.lookups() == []

        # A sweep while the broker is still down: it tries, fails, says so, and changes no state.
        settings.CEDULA_SWEEP = {"PENDING_AFTER": 0}
        during = sweep()
        assert (during["pending"], during["enqueue_failures"]) == (len(NUMBERS), len(NUMBERS)), during
        assert status_counts(ids) == {Status.PENDING: len(NUMBERS)}
    for number in NUMBERS:
        assert number not in caplog.text

    # The broker is back (this process queues on the ORM broker again). Sweep until every row is
    # re-queued: a sweep defers rows it re-queued a moment ago, for as long as they had waited before.
    requeued = {"pending": 0}

    def all_requeued() -> bool:
        report = sweep()
        assert report["enqueue_failures"] == 0, report
        requeued["pending"] += report["pending"]
        return requeued["pending"] >= len(NUMBERS)

    assert wait_until(all_requeued, timeout=30, interval=1), requeued
    assert requeued["pending"] == len(NUMBERS)

    assert wait_until(lambda: rows_final(ids), timeout=90), (status_counts(ids), cluster.log())
    assert status_counts(ids) == {Status.ACTIVE: len(NUMBERS)}
    for user_id in ids:
        assert CedulaInfo.objects.get(user_id=user_id).retry_count == 0
    for number in NUMBERS:
        assert len(cedula_replica.lookups(number)) == 1
    assert "Traceback" not in cluster.log()

    cluster.stop()
    assert_no_tagged_processes(chromium.tag, timeout=15)
    chromium.assert_none_left()
