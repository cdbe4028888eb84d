"""The election-season source (issue #22) in a real headless Chromium against the replica over HTTP:
every answer of its API, every failure before and after the solve, the probe, and its options."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest

from django_cedula import checks
from django_cedula.exceptions import ConfigurationError
from django_cedula.results import ScrapeResult, ScrapeStatus, is_death_novedad
from django_cedula.scrapers import get_scraper
from django_cedula.scrapers.elecciones import ELECCIONES_API_URL, ELECCIONES_URL, EleccionesScraper
from django_cedula.scrapers.parsing import parse_elecciones_response
from django_cedula.testing.replica import FaultMode, Replica

browser = pytest.mark.browser


@pytest.fixture
def season(cedula_replica: Replica, settings: Any) -> Replica:
    """The package pointed at the replica's election-season source, its solves counted by the replica."""
    settings.CEDULA_SOURCES = [cedula_replica.source("elecciones")]
    settings.CEDULA_CAPTCHA_SOLVER = cedula_replica.solver_settings()
    cedula_replica.slow_seconds = 6  # past the suite's page_timeout (4 s)
    return cedula_replica


def scraper() -> EleccionesScraper:
    built = get_scraper()
    assert isinstance(built, EleccionesScraper)
    return built


def scrape(number: str) -> ScrapeResult:
    return ScrapeResult.coerce(scraper().scrape_cedula(number))


@browser
def test_found_maps_the_polling_place_and_posts_as_the_page_does(season: Replica) -> None:
    result = scrape("1000000001")
    assert result.status is ScrapeStatus.FOUND, result.error
    assert (result.departamento, result.municipio) == ("BOGOTÁ D.C.", "BOGOTÁ. D.C.")
    assert result.puesto == "COLEGIO DISTRITAL JOSÉ MARTÍ - SEDE A"
    assert (result.direccion, result.mesa) == ("CALLE 26 SUR No. 14-60", "12")
    assert season.solves() == 1
    (lookup,) = season.lookups(source="elecciones")
    assert (lookup.method, lookup.cedula, lookup.election) == ("POST", "1000000001", "territoriales")
    assert lookup.captcha_check == "accepted"  # the Bearer token, verified once
    assert season.count(source="elecciones", kind="page") == 1


@browser
@pytest.mark.parametrize(
    ("number", "status", "novedad", "deceased"),
    [
        ("1000000010", ScrapeStatus.NOT_FOUND, "", False),
        ("1000000020", ScrapeStatus.CANCELLED, "Cancelada por Muerte", True),
        ("1000000021", ScrapeStatus.CANCELLED, "Cancelada por Doble Cedulación", False),
    ],
)
def test_not_in_the_census_and_novelties(
    season: Replica, number: str, status: ScrapeStatus, novedad: str, deceased: bool
) -> None:
    result = scrape(number)
    assert result.status is status, result.error
    assert result.novedad == novedad
    assert is_death_novedad(result.novedad) is deceased
    assert season.lookups(number)[-1].status == (404 if status is ScrapeStatus.NOT_FOUND else 200)


@browser
@pytest.mark.parametrize(
    ("number", "fault", "status", "http_status"),
    [
        ("1000000001", FaultMode.REFUSE_TOKENS, ScrapeStatus.TOKEN_REFUSED, 0),  # HTTP 403 with JSON
        ("1000000043", None, ScrapeStatus.TOKEN_REFUSED, 0),  # the table's captcha rejection
        ("1000000041", None, ScrapeStatus.NETWORK_ERROR, 504),  # the API's gateway timed out
        ("1000000054", None, ScrapeStatus.PARSE_ERROR, 0),  # JSON cut short
        ("1000000050", None, ScrapeStatus.BLOCKED, 0),  # the firewall's page instead of JSON
        ("1000000001", FaultMode.NEW_MARKUP, ScrapeStatus.PARSE_ERROR, 0),  # a shape nobody reads
        ("1000000001", FaultMode.HTTP429, ScrapeStatus.BLOCKED, 0),
    ],
)
def test_failures_after_the_solve(
    season: Replica, number: str, fault: FaultMode | None, status: ScrapeStatus, http_status: int
) -> None:
    if fault is FaultMode.HTTP429:
        season.set_fault(fault, number)  # a number's status fault fires on its lookup, not the page
    elif fault is not None:
        season.set_fault(fault)
    result = scrape(number)
    assert result.status is status, result.error
    assert result.http_status == http_status
    assert season.solves() == 1
    assert len(season.lookups(number)) == 1


@browser
def test_a_used_token_is_refused(season: Replica, settings: Any) -> None:
    token = season.issue_token()
    settings.CEDULA_CAPTCHA_SOLVER = {
        "BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver",
        "OPTIONS": {"token": token},
    }
    assert scrape("1000000001").status is ScrapeStatus.FOUND
    result = scrape("1000000002")
    assert result.status is ScrapeStatus.TOKEN_REFUSED, result.error
    assert "HTTP 403" in result.error
    assert season.lookups("1000000002")[-1].captcha_check == "reused"


@browser
def test_an_election_code_the_api_refuses_moves_on(season: Replica, settings: Any) -> None:
    settings.CEDULA_SOURCES = [season.source("elecciones", election_code="congreso-2022")]
    result = scrape("1000000001")
    assert result.status is ScrapeStatus.NETWORK_ERROR
    assert "HTTP 400" in result.error
    assert "código de elección" in result.error


@browser
@pytest.mark.parametrize(
    ("fault", "status", "http_status"),
    [
        (FaultMode.ELECCIONES_OFFLINE, ScrapeStatus.NETWORK_ERROR, 0),
        (FaultMode.ELECCIONES_502, ScrapeStatus.NETWORK_ERROR, 502),
        (FaultMode.FORM_SHAPE, ScrapeStatus.FORM_CHANGED, 0),
        (FaultMode.HTTP404, ScrapeStatus.PAGE_MOVED, 0),
        (FaultMode.BLOCK, ScrapeStatus.BLOCKED, 0),
    ],
)
def test_failures_before_any_solve(
    season: Replica, fault: FaultMode, status: ScrapeStatus, http_status: int
) -> None:
    season.set_fault(fault)
    result = scrape("1000000001")
    assert result.status is status, result.error
    assert result.http_status == http_status
    assert season.solves() == 0
    assert season.lookups(source="elecciones") == []
    probe = scraper().probe()
    assert not probe.ok
    assert probe.status is status


@browser
@pytest.mark.parametrize("where", ["no_dns", "refused"])
def test_a_host_that_is_not_there_costs_no_solve(season: Replica, settings: Any, where: str) -> None:
    if where == "no_dns":
        url = "http://elecciones-fuera-de-temporada.invalid/identificacion"  # .invalid never resolves
    else:
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{closed.getsockname()[1]}/identificacion"
    settings.CEDULA_SOURCES = [season.source("elecciones", url=url)]
    result = scrape("1000000001")
    assert result.status is ScrapeStatus.NETWORK_ERROR, result.error
    assert season.solves() == 0
    assert not scraper().probe().ok


@browser
def test_an_api_without_dns_after_the_page_is_a_network_error(season: Replica, settings: Any) -> None:
    api = "http://apiweb-fuera-de-temporada.invalid/api/v1/citizen/get-information"
    settings.CEDULA_SOURCES = [season.source("elecciones", api_url=api)]
    result = scrape("1000000001")
    assert result.status is ScrapeStatus.NETWORK_ERROR, result.error
    assert season.solves() == 1  # the page was up: the solve was spent before the fetch failed


@browser
def test_the_probe_sees_the_season_on(season: Replica) -> None:
    probe = scraper().probe()
    assert probe.ok, probe.detail
    assert season.site_key in probe.raw_html
    assert season.solves() == 0
    assert season.lookups() == []


def test_a_plain_client_is_refused_by_the_api(cedula_replica: Replica) -> None:
    body = json.dumps(
        {
            "identification": "1000000001",
            "identification_type": "CC",
            "election_code": "territoriales",
            "module": "polling_place",
            "platform": "web",
        }
    ).encode()
    request = urllib.request.Request(
        cedula_replica.elecciones_api_url,
        data=body,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {cedula_replica.issue_token()}",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 403
    answer = refused.value.read().decode()
    assert parse_elecciones_response(answer, http_status=403).status is ScrapeStatus.BLOCKED
    (lookup,) = cedula_replica.lookups(source="elecciones")
    assert lookup.answer == "block"
    assert "not a browser" in lookup.detail
    assert lookup.captcha_check == ""  # refused before the token was looked at


def test_the_default_urls_and_options() -> None:
    built = EleccionesScraper(election_code=" congreso ")
    assert (built.url, built.api_url, built.election_code) == (ELECCIONES_URL, ELECCIONES_API_URL, "congreso")
    assert EleccionesScraper.seasonal
    assert EleccionesScraper.source_name == "elecciones"
    built.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "needs its election_code"),
        ({"election_code": "   "}, "needs its election_code"),
        ({"election_code": 7}, "needs its election_code"),
        ({"election_code": "x" * 101}, "longer than 100"),
        ({"election_code": "congreso", "election": "-1"}, "takes election_code, not election"),
        ({"election_code": "congreso", "api_url": "ftp://example.com/"}, "api_url must be"),
    ],
)
def test_options_refused_at_build(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        EleccionesScraper(**options)
    assert message in str(refused.value)


def test_check_names_a_missing_election_code(settings: Any) -> None:
    settings.CEDULA_SOURCES = [
        {"BACKEND": "django_cedula.scrapers.elecciones.EleccionesScraper"},
        {"BACKEND": "django_cedula.scrapers.wsp.WspScraper"},
    ]
    errors = [message for message in checks.check_sources() if message.id == "django_cedula.E005"]
    assert [message.msg for message in errors] == [
        "CEDULA_SOURCES[0]: the election-season source needs its election_code"
    ]
