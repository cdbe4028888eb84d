"""Registrations validated by a real ``manage.py qcluster`` on Django-Q2's ORM broker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django_q.models import Schedule

from django_cedula.models import CedulaInfo

from .conftest import Worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
Status = CedulaInfo.Status

DJANGO_Q = "django_cedula.backends.django_q.DjangoQBackend"
OUTCOMES = {
    "1000000002": "not_found",
    "1000000003": {"status": "cancelled", "novedad": "Cancelada por Muerte"},
    "1000000004": ["timeout", "found"],  # needs one retry, run by a real schedule
    "1000000005": "blocked",  # gives up after its one retry
}


def test_registrations_reach_their_final_states_through_a_real_cluster(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    settings: Any,
    tmp_path: Path,
) -> None:
    overrides = {
        "CEDULA_TASKS": {"BACKEND": DJANGO_Q},
        "CEDULA_SOURCES": [
            {
                "BACKEND": "django_cedula.testing.scrapers.FakeScraper",
                "OPTIONS": {"outcomes": OUTCOMES, "state_dir": str(tmp_path / "calls")},
            }
        ],
        "CEDULA_RETRY_DELAYS": [1],
    }
    for name, value in overrides.items():
        setattr(settings, name, value)
    cluster = start_worker(["qcluster"], overrides)

    users = {number: make_user(cedula=number) for number in ["1000000001", *OUTCOMES]}
    assert set(CedulaInfo.objects.values_list("status", flat=True)) == {Status.PENDING}

    def all_final() -> bool:
        return not CedulaInfo.objects.exclude(status__in=CedulaInfo.FINAL_STATUSES).exists()

    # The retries wait for Django-Q2's scheduler, which looks for due schedules every 30 seconds.
    assert wait_until(all_final, timeout=100), cluster.log()

    final = {number: CedulaInfo.objects.get(user=user) for number, user in users.items()}
    assert final["1000000001"].status == Status.ACTIVE
    assert final["1000000001"].departamento
    assert final["1000000002"].status == Status.NOT_FOUND
    assert final["1000000003"].status == Status.CANCELLED_DECEASED
    assert final["1000000004"].status == Status.ACTIVE
    assert final["1000000004"].retry_count == 1
    assert final["1000000005"].status == Status.BLOCKED
    assert final["1000000005"].retry_count == 1
    calls = tmp_path / "calls"
    assert {path.name: path.stat().st_size for path in calls.iterdir()} == {
        "1000000001": 1,
        "1000000002": 1,
        "1000000003": 1,
        "1000000004": 2,
        "1000000005": 2,
    }
    assert not Schedule.objects.exists()  # one-off schedules are gone once they ran
