"""The retention purge on schedule: a real ``manage.py qcluster`` runs the sweep's Django-Q2 schedule
(``CEDULA_SWEEP["SCHEDULE"]``), which blanks what expired."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from django_q.models import Schedule

from django_cedula.models import CedulaInfo, CedulaStatus
from django_cedula.sweeper import SCHEDULE_NAME, ensure_schedule

from ..integration.conftest import Worker, start_worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
__all__ = ["start_worker"]  # the fixture, for this module's tests

PLACE = {
    "departamento": "ANTIOQUIA",
    "municipio": "MEDELLÍN",
    "puesto": "IE",
    "direccion": "CALLE 1",
    "mesa": "7",
}


def test_a_scheduled_sweep_purges_what_expired(
    start_worker: Callable[..., Worker], make_user: Callable[..., Any], settings: Any
) -> None:
    overrides = {
        "CEDULA_TASKS": {"BACKEND": "django_cedula.backends.django_q.DjangoQBackend"},
        "CEDULA_SWEEP": {"SCHEDULE": True},
        "CEDULA_PRIVACY": {"REQUIRE_CONSENT": True, "RAW_RESPONSE_DAYS": 7, "PLACE_DAYS": 30},
        "CEDULA_AUTO_VALIDATE": False,
    }
    for name, value in overrides.items():
        setattr(settings, name, value)
    now = timezone.now()
    rows = {}
    for number, days in (("1020304050", 40), ("1020304051", 10), ("1020304052", 1)):
        user = make_user(cedula=number)
        answered = now - datetime.timedelta(days=days)
        rows[days] = CedulaInfo.objects.create(
            user=user,
            cedula=number,
            status=CedulaStatus.ACTIVE,
            raw_response="<table>answer</table>",
            fetched_at=answered,
            requested_at=answered,
            **PLACE,
        )
    ensure_schedule()
    assert Schedule.objects.filter(name=SCHEDULE_NAME).exists()
    cluster = start_worker(["qcluster"], overrides)

    def purged() -> bool:
        return CedulaInfo.objects.filter(pk=rows[40].pk, purged_at__isnull=False).exists()

    # Django-Q2's scheduler looks for due schedules every 30 seconds.
    assert wait_until(purged, timeout=90), cluster.log()
    old, middle, fresh = (CedulaInfo.objects.get(pk=rows[days].pk) for days in (40, 10, 1))
    assert (old.raw_response, old.departamento, old.status) == ("", "", CedulaStatus.ACTIVE)
    assert old.fetched_at == rows[40].fetched_at
    assert (middle.raw_response, middle.departamento, middle.purged_at) == ("", "ANTIOQUIA", None)
    assert (fresh.raw_response, fresh.departamento) == ("<table>answer</table>", "ANTIOQUIA")
