"""Both scrapers in a real headless Chromium against the replica over HTTP: every outcome, every fault."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from django_cedula.results import ScrapeResult, ScrapeStatus
from django_cedula.scrapers import get_scraper
from django_cedula.testing.replica import Replica

from .conftest import replica_solver

pytestmark = pytest.mark.browser


def scrape(number: str) -> ScrapeResult:
    return ScrapeResult.coerce(get_scraper().scrape_cedula(number))


def test_found_reads_every_field(replica_settings: Replica, source: str) -> None:
    result = scrape("1000000001")
    assert result.status is ScrapeStatus.FOUND
    place = replica_settings.outcome("1000000001").place
    assert place is not None
    assert (result.departamento, result.municipio, result.puesto, result.direccion, result.mesa) == (
        place.departamento,
        place.municipio,
        place.puesto,
        place.direccion,
        place.mesa,
    )
    assert "BOGOTÁ" in result.departamento
    assert result.raw_html


def test_found_with_swapped_columns_and_upper_case_keys(replica_settings: Replica, source: str) -> None:
    for number in ("1000000002", "1000000005"):
        result = scrape(number)
        place = replica_settings.outcome(number).place
        assert place is not None
        assert result.status is ScrapeStatus.FOUND
        assert result.mesa == place.mesa
        assert result.direccion == place.direccion


def test_unknown_numbers_get_their_derived_place(replica_settings: Replica, source: str) -> None:
    result = scrape("52123456")
    place = replica_settings.outcome("52123456").place
    assert place is not None
    assert result.status is ScrapeStatus.FOUND
    assert result.municipio == place.municipio


def test_not_found(replica_settings: Replica, source: str) -> None:
    assert scrape("1000000010").status is ScrapeStatus.NOT_FOUND


@pytest.mark.parametrize(
    ("number", "novedad"),
    [
        ("1000000020", "Cancelada por Muerte"),
        ("1000000021", "Cancelada por Doble Cedulación"),
        ("1000000027", "Vigente con Pérdida o Suspensión de los Derechos Políticos"),
        ("1000000031", "Baja por trashumancia"),
    ],
)
def test_cancelled(replica_settings: Replica, source: str, number: str, novedad: str) -> None:
    result = scrape(number)
    assert result.status is ScrapeStatus.CANCELLED
    assert result.novedad.lower() == novedad.lower()
    expected = replica_settings.outcome(number).novedad
    assert expected is not None
    if source == "wsp":
        assert result.resolucion == expected.resolucion
        assert result.fecha_novedad == expected.fecha


@pytest.mark.parametrize(
    ("number", "status"),
    [
        ("1000000040", ScrapeStatus.NETWORK_ERROR),  # "en actualización"
        ("1000000041", ScrapeStatus.TIMEOUT),  # the site's own upstream timed out ("Curl error")
        ("1000000043", ScrapeStatus.TOKEN_REFUSED),  # the site refused the token posted
        ("1000000050", ScrapeStatus.BLOCKED),
        ("1000000053", ScrapeStatus.NETWORK_ERROR),  # dropped connection
        ("1000000054", ScrapeStatus.PARSE_ERROR),  # garbage
    ],
)
def test_transient_answers_from_the_table(
    replica_settings: Replica, source: str, number: str, status: ScrapeStatus
) -> None:
    result = scrape(number)
    assert result.status is status
    assert result.error
    assert number not in result.error  # never the full cédula in a message


def test_a_reload_gets_a_fresh_token_and_solve_within_the_attempt(
    replica_settings: Replica, source: str
) -> None:
    result = scrape("1000000042")
    assert result.status is ScrapeStatus.FOUND
    assert len(replica_settings.lookups("1000000042")) == 2
    assert replica_settings.count(kind="page", source=source) == 2


def test_a_500_on_the_form_page_is_retried_once(replica_settings: Replica, source: str) -> None:
    replica_settings.set_fault("get500", times=1)
    result = scrape("1000000001")
    if source == "wsp":
        assert result.status is ScrapeStatus.FOUND
        assert [r.status for r in replica_settings.requests(kind="page")] == [500, 200]
    else:  # Source B's app is a static page: a 500 there is a failure to retry later
        assert result.status is ScrapeStatus.NETWORK_ERROR


def test_a_500_twice_is_a_network_error(replica_settings: Replica) -> None:
    replica_settings.set_fault("get500", times=2)
    result = scrape("1000000001")
    assert result.status is ScrapeStatus.NETWORK_ERROR


@pytest.mark.parametrize(
    ("mode", "status"),
    [
        ("block", ScrapeStatus.BLOCKED),
        ("garbage", ScrapeStatus.PARSE_ERROR),
        ("curl_error", ScrapeStatus.TIMEOUT),
        ("captcha_reject", ScrapeStatus.TOKEN_REFUSED),
        ("drop", ScrapeStatus.NETWORK_ERROR),
        ("updating", ScrapeStatus.NETWORK_ERROR),
    ],
)
def test_fault_modes_for_a_whole_run(
    replica_settings: Replica, source: str, mode: str, status: ScrapeStatus
) -> None:
    replica_settings.set_fault(mode)
    assert scrape("1000000001").status is status
    replica_settings.clear_faults()
    assert scrape("1000000001").status is ScrapeStatus.FOUND


def test_a_fault_for_one_number_leaves_the_others_alone(replica_settings: Replica, source: str) -> None:
    replica_settings.set_fault("block", cedula="1000000003")
    assert scrape("1000000003").status is ScrapeStatus.BLOCKED
    assert scrape("1000000002").status is ScrapeStatus.FOUND


def test_a_slow_answer_past_the_page_timeout_is_a_timeout(replica_settings: Replica, source: str) -> None:
    replica_settings.set_fault("slow", cedula="1000000001")
    started = time.monotonic()
    result = scrape("1000000001")
    assert result.status is ScrapeStatus.TIMEOUT
    # Gave up at the page timeout (4 s), did not wait for the answer (30 s).
    assert time.monotonic() - started < 12


def test_an_unreachable_source_is_a_network_error(settings: Any, cedula_replica: Replica) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/censo/consultar/"
    for name, value in cedula_replica.django_settings(url=url).items():
        setattr(settings, name, value)
    result = scrape("1000000001")
    assert result.status is ScrapeStatus.NETWORK_ERROR
    assert "ERR_CONNECTION_REFUSED" in result.error


def test_without_a_solver_a_lookup_fails_at_once_without_traffic(
    replica_settings: Replica, settings: Any
) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = None
    started = time.monotonic()
    result = scrape("1000000001")
    assert result.status is ScrapeStatus.CAPTCHA_FAILED
    assert time.monotonic() - started < 0.5
    assert replica_settings.requests() == []


def test_a_failing_solver_is_a_captcha_failure(replica_settings: Replica, settings: Any) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = replica_solver(fail=True)
    result = scrape("1000000001")
    assert result.status is ScrapeStatus.CAPTCHA_FAILED
    assert replica_settings.lookups() == []  # nothing was submitted without a token


def test_no_cookies_travel_between_lookups(replica_settings: Replica, source: str) -> None:
    scrape("1000000001")
    scrape("1000000002")
    first, second = replica_settings.lookups()
    assert first.session
    assert second.session
    assert first.session != second.session


def test_the_solve_starts_once_the_form_page_is_checked(replica_settings: Replica, settings: Any) -> None:
    """Form page 2 s, solver 3 s: the solve starts only once the page is in and has the form's shape
    (a changed form costs no solve, issue #21), so a lookup takes the two in turn, about 5 s, even
    with the site key known from the previous lookup; the solve still overlaps filling the form (the
    margin is for a loaded machine's page work)."""
    settings.CEDULA_CAPTCHA_SOLVER = replica_solver(delay=3.0)
    replica_settings.form_delay = 2.0
    scrape("1000000001")  # the site key is known from here on
    started = time.monotonic()
    result = scrape("1000000002")
    elapsed = time.monotonic() - started
    assert result.status is ScrapeStatus.FOUND
    assert elapsed >= 5.0, f"the solve started before the form page was in ({elapsed:.2f} s)"
    assert elapsed < 6.5, f"the solve waited for more than the form page ({elapsed:.2f} s)"
