"""A chain [elecciones, wsp] run by the validation job, in a real Chromium against the replica over
HTTP (issue #22): in season the election-season source answers every row at one solve a row; out of
season (its hosts gone) three lookups that got no answer take it out of service at no solve, every
row is answered by wsp without paying an attempt, and a free probe puts it back once the season is on."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command

from django_cedula import health
from django_cedula.models import CedulaInfo
from django_cedula.testing.backends import RecordingBackend
from django_cedula.testing.replica import FaultMode, Replica

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Status = CedulaInfo.Status
ELECCIONES = "elecciones"


@pytest.fixture
def chain(cedula_replica: Replica, settings: Any, recording_backend: type[RecordingBackend]) -> Replica:
    settings.CEDULA_SOURCES = cedula_replica.chain_settings(ELECCIONES, "wsp")["CEDULA_SOURCES"]
    settings.CEDULA_CAPTCHA_SOLVER = cedula_replica.solver_settings()  # the replica counts each solve
    settings.CEDULA_TOKEN_SUPPLY = {"ENABLED": False}
    settings.CEDULA_SOURCE_HEALTH = {"OUT_AFTER": 3, "PROBE_EVERY": 1, "TRIAL_AFTER": 3600}
    return cedula_replica


def validate(make_user: Callable[..., Any], *numbers: str) -> list[CedulaInfo]:
    """Register a user for each number and run its job, one after the other, as one worker does."""
    users = [make_user(cedula=number) for number in numbers]
    while RecordingBackend.jobs:
        RecordingBackend.run_next()
    return [CedulaInfo.objects.get(user=user) for user in users]


def test_in_season_the_election_source_answers_every_row(
    chain: Replica, make_user: Callable[..., Any]
) -> None:
    expected = {
        "1000000001": Status.ACTIVE,
        "1000000010": Status.NOT_FOUND,
        "1000000020": Status.CANCELLED_DECEASED,
        "1000000021": Status.CANCELLED_OTHER,
        "1000000777": Status.ACTIVE,
    }
    rows = validate(make_user, *expected)
    assert [(info.cedula, info.status) for info in rows] == list(expected.items())
    assert {info.source for info in rows} == {ELECCIONES}
    assert rows[0].puesto == "COLEGIO DISTRITAL JOSÉ MARTÍ - SEDE A"
    assert rows[2].novedad == "Cancelada por Muerte"
    assert chain.solves() == len(expected)  # one solve a row
    assert len(chain.lookups(source=ELECCIONES)) == len(expected)
    assert chain.lookups(source="wsp") == []
    assert health.state(ELECCIONES).in_service


def test_out_of_season_wsp_answers_and_a_probe_brings_the_season_back(
    chain: Replica, make_user: Callable[..., Any]
) -> None:
    chain.set_fault(FaultMode.ELECCIONES_OFFLINE)
    numbers = [f"1000000{n:03d}" for n in range(701, 707)]
    rows = validate(make_user, *numbers)
    assert all(info.status == Status.ACTIVE for info in rows), [(i.status, i.error_message) for i in rows]
    assert {info.source for info in rows} == {"wsp"}
    assert all(info.retry_count == 0 for info in rows), "no row paid for the season's end"
    state = health.state(ELECCIONES)
    assert not state.in_service
    assert state.reason == health.OFF_SEASON
    # Three signs, no solve spent on them: every solve was a wsp lookup, one a row.
    assert chain.solves() == len(numbers)
    assert len(chain.lookups(source="wsp")) == len(numbers)
    assert chain.lookups(source=ELECCIONES) == []
    pages = chain.count(source=ELECCIONES, kind="page")
    assert pages >= 3

    # Still off season: a due probe (the sweep's) finds nothing, and costs nothing.
    time.sleep(1.1)
    call_command("cedula_sweep", stdout=io.StringIO())
    assert not health.state(ELECCIONES).in_service
    assert chain.count(source=ELECCIONES, kind="page") > pages
    assert chain.solves() == len(numbers)

    # The season opens: the next due probe puts it back, and it answers the next row.
    chain.clear_faults()
    time.sleep(1.1)
    call_command("cedula_sweep", stdout=io.StringIO())
    assert health.state(ELECCIONES).in_service
    (info,) = validate(make_user, "1000000001")
    assert (info.status, info.source) == (Status.ACTIVE, ELECCIONES)
    assert chain.solves() == len(numbers) + 1


def test_a_gateway_502_out_of_season_is_skipped_the_same_way(
    chain: Replica, make_user: Callable[..., Any]
) -> None:
    chain.set_fault(FaultMode.ELECCIONES_502)
    rows = validate(make_user, *(f"1000000{n:03d}" for n in range(711, 715)))
    assert {(info.status, info.source) for info in rows} == {(Status.ACTIVE, "wsp")}
    assert health.state(ELECCIONES).reason == health.OFF_SEASON
    assert chain.solves() == len(rows)
    assert chain.lookups(source=ELECCIONES) == []
