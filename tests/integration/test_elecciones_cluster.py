"""The election-season source out of season under a real cluster (issue #22): two Django-Q2 worker
processes on a Redis broker, Redis as the shared cache that holds each source's health, the chain
[elecciones, wsp] of browser scrapers against the replica, whose season site is off line. What it must
show: every row answered by wsp at one solve a row and no attempt paid, the election-season source out
of service for the whole cluster after its run of unanswered lookups (no solve spent on it), and, once
the season opens, a probe puts it back and the workers ask it again."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command

from django_cedula import health
from django_cedula.models import CedulaInfo
from django_cedula.testing.replica import FaultMode, Replica

from .conftest import Worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Status = CedulaInfo.Status
ELECCIONES = "elecciones"
NUMBERS = [f"1000000{n:03d}" for n in range(801, 809)]
WORKERS = 2


def logs(workers: list[Worker]) -> str:
    return "\n".join(worker.log() for worker in workers)


def test_out_of_season_the_cluster_answers_through_wsp_and_the_probe_brings_it_back(
    redis_cluster: Callable[..., dict[str, Any]],
    cedula_replica: Replica,
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
) -> None:
    overrides = redis_cluster(
        {
            **cedula_replica.chain_settings(ELECCIONES, "wsp"),
            "CEDULA_CAPTCHA_SOLVER": cedula_replica.solver_settings(),
            "CEDULA_TOKEN_SUPPLY": {"ENABLED": False},
            "CEDULA_SOURCE_HEALTH": {"OUT_AFTER": 3, "PROBE_EVERY": 1, "TRIAL_AFTER": 3600},
        }
    )
    cedula_replica.set_fault(FaultMode.ELECCIONES_OFFLINE)
    workers = [start_worker(["qcluster"], overrides) for _ in range(WORKERS)]
    for worker in workers:
        worker.wait_running()
    users = [make_user(cedula=number) for number in NUMBERS]

    def answered(count: int) -> bool:
        return CedulaInfo.objects.filter(status=Status.ACTIVE).count() == count

    assert wait_until(lambda: answered(len(NUMBERS)), timeout=150), logs(workers)[-6000:]
    rows = list(CedulaInfo.objects.filter(user__in=users))
    assert {info.source for info in rows} == {"wsp"}
    assert all(info.retry_count == 0 for info in rows)
    state = health.state(ELECCIONES)
    assert not state.in_service, logs(workers)[-4000:]
    assert state.reason == health.OFF_SEASON
    assert cedula_replica.solves() == len(NUMBERS)  # not one spent on the season's site
    assert cedula_replica.lookups(source=ELECCIONES) == []
    assert "Source elecciones is out of service" in logs(workers)

    # The season opens: a due probe (the sweep's, here from this process) finds the page with its
    # captcha and puts the source back for the whole cluster.
    cedula_replica.clear_faults()
    assert wait_until(
        lambda: call_command("cedula_sweep", stdout=io.StringIO()) or health.state(ELECCIONES).in_service,
        timeout=15,
        interval=1.1,
    )
    make_user(cedula="1000000001")
    assert wait_until(lambda: answered(len(NUMBERS) + 1), timeout=90), logs(workers)[-6000:]
    info = CedulaInfo.objects.get(cedula="1000000001")
    assert info.source == ELECCIONES
    assert len(cedula_replica.lookups(source=ELECCIONES)) == 1
