"""The job with the vigencia pre-check (``CEDULA_PRECHECK``): the real part against the replica's
vigencia service, the census lookup by the fake scraper, jobs run inline.

A final answer (the number does not exist, its holder died) ends the row with no census lookup; alive
and no data are noted and the lookup runs; a failure, a timeout or a pause of the pre-check lets the
lookup run as without it, with no attempt counted and no longer delay than its own timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from django_cedula import throttle
from django_cedula.models import CedulaInfo
from django_cedula.scrapers.vigencia import PAUSE_KEY
from django_cedula.testing.replica import FaultMode, Replica
from django_cedula.testing.scrapers import FakeScraper

pytestmark = pytest.mark.django_db(transaction=True)
Status = CedulaInfo.Status


@pytest.fixture(scope="module")
def replica() -> Iterator[Replica]:
    with Replica(tls=True, slow_seconds=10) as running:
        yield running


@pytest.fixture(autouse=True)
def _precheck_on(replica: Replica, settings: Any) -> Iterator[None]:
    replica.reset()
    settings.CEDULA_PRECHECK = replica.precheck_settings(rate=None, timeout=1)
    yield
    assert replica.errors == []


def asked(replica: Replica) -> int:
    return replica.count(source="vigencia", method="POST")


def validate(make_user: Callable[..., Any], number: str) -> tuple[CedulaInfo, float]:
    """Register a user with ``number`` (the inline backend runs its job at once): the row, and how
    long the registration took."""
    started = time.monotonic()
    user = make_user(cedula=number)
    return CedulaInfo.objects.get(user=user), time.monotonic() - started


def test_a_number_that_does_not_exist_ends_without_a_census_lookup(
    replica: Replica, make_user: Callable[..., Any]
) -> None:
    info, _took = validate(make_user, "1000000091")
    assert info.status == Status.NONEXISTENT
    assert (info.source, info.vigencia, info.retry_count) == ("vigencia", "nonexistent", 0)
    assert "Cedula no Existe" in info.raw_response
    assert not info.exists_but_not_registered
    assert FakeScraper.calls == []
    assert asked(replica) == 1


@pytest.mark.parametrize("tls", [False, True])
def test_a_deceased_holder_ends_cancelled_without_a_census_lookup(
    replica: Replica, make_user: Callable[..., Any], settings: Any, tls: bool
) -> None:
    settings.CEDULA_PRECHECK = replica.precheck_settings(tls=tls, rate=None, timeout=1)
    info, _took = validate(make_user, "1000000092")
    assert info.status == Status.CANCELLED_DECEASED
    assert (info.novedad, info.fecha_novedad) == ("Cancelada por Muerte", "02/08/2023")
    assert (info.source, info.vigencia) == ("vigencia", "deceased")
    assert FakeScraper.calls == []


def test_alive_then_not_in_the_census_is_a_citizen_not_registered(
    replica: Replica, make_user: Callable[..., Any]
) -> None:
    FakeScraper.set_outcome("1000000090", "not_found")
    info, _took = validate(make_user, "1000000090")
    assert info.status == Status.NOT_FOUND
    assert info.vigencia == "alive"
    assert info.exists_but_not_registered
    assert info.source != "vigencia"
    assert FakeScraper.calls == ["1000000090"]


def test_no_data_lets_the_census_answer(replica: Replica, make_user: Callable[..., Any]) -> None:
    info, _took = validate(make_user, "1000000093")
    assert info.status == Status.ACTIVE
    assert info.vigencia == "no_data"
    assert FakeScraper.calls == ["1000000093"]


def test_asked_once_per_validation_not_once_per_attempt(
    replica: Replica, make_user: Callable[..., Any]
) -> None:
    FakeScraper.set_outcome("1000000001", "timeout", "found")
    info, _took = validate(make_user, "1000000001")
    assert info.status == Status.ACTIVE
    assert info.vigencia == "alive"
    assert FakeScraper.calls == ["1000000001", "1000000001"]
    assert asked(replica) == 1


@pytest.mark.parametrize(
    "mode",
    [
        FaultMode.VIGENCIA_SLOW,
        FaultMode.VIGENCIA_RESET,
        FaultMode.VIGENCIA_SHELL,
        FaultMode.VIGENCIA_GARBAGE,
        FaultMode.VIGENCIA_429,
    ],
)
def test_a_failing_pre_check_lets_the_census_lookup_run(
    replica: Replica, make_user: Callable[..., Any], mode: FaultMode
) -> None:
    replica.set_fault(mode)
    info, took = validate(make_user, "1000000091")
    # As without the pre-check: the census's answer, no attempt counted for the pre-check's failure.
    assert info.status == Status.ACTIVE
    assert (info.vigencia, info.retry_count, info.error_code) == ("", 0, "")
    assert FakeScraper.calls == ["1000000091"]
    assert asked(replica) == 1
    assert took < 1 + 0.5  # the pre-check's timeout, and the rest of the job


def test_while_paused_the_pre_check_is_not_asked(replica: Replica, make_user: Callable[..., Any]) -> None:
    throttle.pause(PAUSE_KEY, 60)
    info, took = validate(make_user, "1000000091")
    assert info.status == Status.ACTIVE
    assert info.vigencia == ""
    assert asked(replica) == 0
    assert took < 0.5


def test_a_pre_check_that_cannot_be_reached_lets_the_census_run(
    make_user: Callable[..., Any], settings: Any
) -> None:
    settings.CEDULA_PRECHECK = {
        "BACKEND": "django_cedula.scrapers.vigencia.VigenciaPrecheck",
        "OPTIONS": {"url": "http://127.0.0.1:9/VigenciaCedula/consulta", "rate": None},
    }
    info, _took = validate(make_user, "1000000092")
    assert info.status == Status.ACTIVE  # the fake census finds every number it has no outcome for
    assert info.vigencia == ""
    assert FakeScraper.calls == ["1000000092"]
