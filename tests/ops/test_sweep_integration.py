"""A broker outage at registration, then a sweep, with a real ``qcluster`` doing the work."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from django_cedula.backends.base import TASK_PATH
from django_cedula.models import CedulaInfo
from django_cedula.sweeper import sweep
from tests.integration.conftest import Worker, wait_until

from .conftest import ago, set_row

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
Status = CedulaInfo.Status

DJANGO_Q = "django_cedula.backends.django_q.DjangoQBackend"


def ran_jobs() -> list[tuple[Any, ...]]:
    """The validation jobs the cluster has run, as ``(user_id, attempt)``, oldest first: Django-Q2
    saves every finished task (``save_limit`` 0 in the tests' settings)."""
    from django_q.models import Task

    return [tuple(task.args) for task in Task.objects.filter(func=TASK_PATH).order_by("started")]


def test_rows_left_by_an_outage_and_a_dead_worker_are_finished_after_a_sweep(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from django_q.conf import Conf
    from django_q.models import OrmQ

    overrides = {
        "CEDULA_TASKS": {"BACKEND": DJANGO_Q},
        "CEDULA_SOURCES": [
            {
                "BACKEND": "django_cedula.testing.scrapers.FakeScraper",
                "OPTIONS": {"outcomes": {"1000000002": "not_found"}, "state_dir": str(tmp_path / "calls")},
            }
        ],
    }
    for name, value in overrides.items():
        setattr(settings, name, value)
    cluster = start_worker(["qcluster"], overrides)

    # The outage: this process's Django-Q2 points at a Redis port nothing listens on.
    with monkeypatch.context() as outage:
        outage.setattr(Conf, "ORM", None)
        outage.setattr(Conf, "REDIS", {"host": "127.0.0.1", "port": 1, "socket_connect_timeout": 1})
        registered = make_user(cedula="1000000001")
        interrupted = make_user(cedula="1000000002")
    # The second one's worker died mid-lookup an hour ago (as if its job had got through).
    set_row(interrupted, status=Status.PROCESSING, updated_at=ago(hours=1))

    # No job reached the queue. Proof that the cluster had its chance at anything queued before: a
    # later registration, queued once the broker is back, is run, and the queue is then empty.
    probe = make_user(cedula="1000000003")
    assert wait_until(lambda: ran_jobs() == [(probe.pk, 1)], timeout=60), (ran_jobs(), cluster.log())
    assert not OrmQ.objects.exists()
    assert CedulaInfo.objects.get(user=probe).status == Status.ACTIVE
    assert CedulaInfo.objects.get(user=registered).status == Status.PENDING
    assert CedulaInfo.objects.get(user=interrupted).status == Status.PROCESSING

    settings.CEDULA_SWEEP = {"PENDING_AFTER": 0}  # the outage is over and noticed
    report = sweep()
    assert (report.pending, report.processing, report.enqueue_failures) == (1, 1, 0)

    def both_final() -> bool:
        return not CedulaInfo.objects.exclude(status__in=CedulaInfo.FINAL_STATUSES).exists()

    assert wait_until(both_final, timeout=60), cluster.log()
    assert CedulaInfo.objects.get(user=registered).status == Status.ACTIVE
    assert CedulaInfo.objects.get(user=interrupted).status == Status.NOT_FOUND
    calls = tmp_path / "calls"
    assert {path.name: path.stat().st_size for path in calls.iterdir()} == {
        "1000000001": 1,
        "1000000002": 1,
        "1000000003": 1,
    }
    assert wait_until(lambda: len(ran_jobs()) == 3, timeout=30), ran_jobs()
    # One job each (the interrupted row's attempt number is the sweeper's business, not this test's).
    ran_for = sorted(user_id for user_id, _attempt in ran_jobs())
    assert ran_for == sorted([probe.pk, registered.pk, interrupted.pk])
    assert "1000000001" not in cluster.log()
