"""ScraperChain on its own: the order, what moves on, the per-source pause, the source it names."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_cedula import throttle
from django_cedula.exceptions import ConfigurationError
from django_cedula.results import ScrapeResult, ScrapeStatus
from django_cedula.scrapers import get_scraper
from django_cedula.scrapers.base import SourcesPaused, source_name
from django_cedula.scrapers.chain import ScraperChain, moves_on
from django_cedula.scrapers.consultacenso import ConsultaCensoScraper
from django_cedula.scrapers.parsing import parse_consultacenso_response, parse_wsp_response
from django_cedula.scrapers.wsp import WspScraper
from django_cedula.testing.replica import Replica
from django_cedula.testing.scrapers import FakeScraper

from . import scrapers
from .conftest import FIRST, SECOND, THIRD, sources

NUMBER = "1020304050"


@pytest.fixture
def chain(settings: Any) -> ScraperChain:
    settings.CEDULA_SOURCES = sources(FIRST, SECOND, THIRD)
    settings.CEDULA_BLOCK_COOLDOWN = 900
    built = get_scraper()
    assert isinstance(built, ScraperChain)
    return built


def test_source_names() -> None:
    assert WspScraper.source_name == "wsp"
    assert ConsultaCensoScraper.source_name == "consultacenso"
    assert FakeScraper.source_name == "fake"  # derived from the class's name
    assert scrapers.ThirdSourceScraper.source_name == "thirdsource"
    assert source_name(object()) == "object"  # a plain class without the attribute


def test_the_first_source_that_answers_is_the_only_one_asked(chain: ScraperChain) -> None:
    assert chain.sources == ("first", "second", "thirdsource")
    result = chain.scrape_cedula(NUMBER)
    assert result.status is ScrapeStatus.FOUND
    assert result.source == "first"
    assert scrapers.asked() == ["first"]


@pytest.mark.parametrize(
    "failure",
    [
        "blocked",
        "network_error",
        "page_moved",  # 404/410 for the source's page: the source changed, the next may not have
        "raise",  # a scraper that raises: a network_error, as the job makes of it
        {"status": "network_error", "http_status": 503},
        {"status": "timeout", "http_status": 502},  # a gateway's timeout is a 5xx
    ],
)
def test_a_source_that_cannot_serve_moves_on_to_the_next(chain: ScraperChain, failure: Any) -> None:
    scrapers.plan("first", failure)
    result = chain.scrape_cedula(NUMBER)
    assert (result.status, result.source) == (ScrapeStatus.FOUND, "second")
    assert scrapers.asked() == ["first", "second"]


@pytest.mark.parametrize(
    "answer", ["found", "not_found", {"status": "cancelled", "novedad": "Cancelada por Muerte"}]
)
def test_a_final_answer_stops_the_chain(chain: ScraperChain, answer: Any) -> None:
    scrapers.plan("first", answer)
    result = chain.scrape_cedula(NUMBER)
    assert result.status.is_final
    assert result.source == "first"
    assert scrapers.asked() == ["first"]


@pytest.mark.parametrize("failure", ["captcha_failed", "parse_error", "timeout", "internal_error"])
def test_failures_that_are_not_the_source_being_down_stop_the_chain(
    chain: ScraperChain, failure: str
) -> None:
    scrapers.plan("first", {"status": failure, "error": "why"})
    result = chain.scrape_cedula(NUMBER)
    assert (result.status.value, result.source, result.error) == (failure, "first", "why")
    assert scrapers.asked() == ["first"]


def test_a_configuration_error_stops_the_chain_at_once(
    chain: ScraperChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy refusing our credentials (HTTP 407): every retry, and every source behind the same
    # proxy, would fail the same way; the job ends the row as config_error.
    def refused(self: Any, cedula: str) -> ScrapeResult:
        scrapers.CALLS.append(("first", cedula))
        raise ConfigurationError("first: the proxy 'http://proxy:3128' refused the credentials (HTTP 407)")

    monkeypatch.setattr(scrapers.FirstScraper, "scrape_cedula", refused)
    with pytest.raises(ConfigurationError, match="HTTP 407"):
        chain.scrape_cedula(NUMBER)
    assert scrapers.asked() == ["first"]


def test_when_every_source_fails_the_last_failure_is_returned_with_the_earlier_ones(
    chain: ScraperChain,
) -> None:
    scrapers.plan("first", "blocked")
    scrapers.plan("second", {"status": "network_error", "error": "HTTP 503", "http_status": 503})
    scrapers.plan("thirdsource", {"status": "timeout", "error": "slow"})
    result = chain.scrape_cedula(NUMBER)
    assert result.status is ScrapeStatus.TIMEOUT
    assert result.source == "thirdsource"
    assert result.error == "first: blocked; second: network_error; then thirdsource: slow"
    assert scrapers.asked() == ["first", "second", "thirdsource"]


def test_a_block_pauses_that_source_only(chain: ScraperChain) -> None:
    scrapers.plan("first", "blocked")
    chain.scrape_cedula(NUMBER)
    assert 800 < throttle.blocked_for(source="first") <= 900
    assert throttle.blocked_for(source="second") == 0
    assert throttle.blocked_for() == 0, "not the pause of every source"


def test_a_paused_source_is_skipped_without_a_request(chain: ScraperChain) -> None:
    throttle.report_block(source="first")
    result = chain.scrape_cedula(NUMBER)
    assert result.source == "second"
    assert scrapers.asked() == ["second"]


def test_the_pause_of_every_source_pauses_each_entry(chain: ScraperChain) -> None:
    throttle.report_block()  # what a single scraper reports, or an operator
    with pytest.raises(SourcesPaused) as raised:
        chain.scrape_cedula(NUMBER)
    assert scrapers.asked() == []
    assert 800 < raised.value.wait <= 900


def test_every_source_paused_raises_with_the_shortest_wait(chain: ScraperChain) -> None:
    throttle.report_block(source="first")
    throttle.report_block(source="second", now=throttle.time.time() - 300)
    throttle.report_block(source="thirdsource")
    with pytest.raises(SourcesPaused) as raised:
        chain.scrape_cedula(NUMBER)
    assert 500 < raised.value.wait <= 600
    assert scrapers.asked() == []
    assert 500 < throttle.paused_for(chain.sources) <= 600


def test_a_skipped_source_then_failures_still_end_with_a_result(chain: ScraperChain) -> None:
    throttle.report_block(source="first")
    scrapers.plan("second", "blocked")
    scrapers.plan("thirdsource", "network_error")
    result = chain.scrape_cedula(NUMBER)
    assert (result.status, result.source) == (ScrapeStatus.NETWORK_ERROR, "thirdsource")
    assert scrapers.asked() == ["second", "thirdsource"]
    assert throttle.blocked_for(source="second") > 0


def test_with_no_cooldown_a_block_moves_on_and_pauses_nothing(settings: Any, chain: ScraperChain) -> None:
    settings.CEDULA_BLOCK_COOLDOWN = 0
    scrapers.plan("first", "blocked")
    assert chain.scrape_cedula(NUMBER).source == "second"
    assert chain.scrape_cedula(NUMBER).source == "second"
    assert scrapers.asked() == ["first", "second", "first", "second"]


def test_each_entry_takes_its_own_options(settings: Any) -> None:
    settings.CEDULA_SOURCES = [{"BACKEND": FIRST, "OPTIONS": {"label": "mine"}}, {"BACKEND": SECOND}]
    chain = get_scraper()
    assert isinstance(chain, ScraperChain)
    first, second = chain.scrapers
    assert (first.label, second.label) == ("mine", "")  # type: ignore[attr-defined]


def test_a_single_entry_is_not_a_chain(settings: Any) -> None:
    settings.CEDULA_SOURCES = sources(FIRST)
    assert isinstance(get_scraper(), scrapers.FirstScraper)


@pytest.mark.parametrize("value", [FIRST, {"BACKEND": FIRST}, []])
def test_sources_that_are_not_a_list_of_entries_are_refused(settings: Any, value: Any) -> None:
    settings.CEDULA_SOURCES = value
    with pytest.raises(ImproperlyConfigured, match="CEDULA_SOURCES"):
        get_scraper()


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ([{"BACKEND": FIRST, "OPTIONS": {"bogus": 1}}], "CEDULA_SOURCES[0]: "),
        ([{"BACKEND": FIRST}, {"BACKEND": SECOND, "OPTIONS": {"bogus": 1}}], "CEDULA_SOURCES[1]: "),
    ],
)
def test_wrong_options_are_a_configuration_error(settings: Any, value: Any, words: str) -> None:
    settings.CEDULA_SOURCES = value
    with pytest.raises(ConfigurationError, match=re.escape(words)) as refused:
        get_scraper()
    assert "unknown options: 'bogus'" in str(refused.value)


def test_http_5xx_is_on_the_result() -> None:
    assert parse_wsp_response("", http_status=503).http_status == 503
    assert parse_wsp_response("<html>oops</html>", http_status=500).status is ScrapeStatus.NETWORK_ERROR
    assert parse_wsp_response("<html>oops</html>", http_status=500).http_status == 500
    gateway = parse_consultacenso_response(
        '{"ok": false, "error": "Curl error: Operation timed out after 30000 milliseconds"}', http_status=502
    )
    assert (gateway.status, gateway.http_status) == (ScrapeStatus.TIMEOUT, 502)
    assert moves_on(gateway)
    assert parse_wsp_response("", http_status=429).http_status == 0  # blocked; only 5xx are marked
    assert not moves_on(ScrapeResult(status=ScrapeStatus.TIMEOUT))


def test_http_status_coerces_and_prints() -> None:
    result = ScrapeResult.coerce({"status": "network_error", "http_status": "503", "source": "x"})
    assert (result.http_status, result.source) == (503, "x")
    assert ScrapeResult.coerce({"status": "found", "http_status": None}).http_status == 0
    assert result.as_dict()["http_status"] == "503"


def test_prepare_readies_the_first_source_not_paused(
    chain: ScraperChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared: list[str] = []
    for scraper, name in zip(chain.scrapers, chain.sources, strict=True):
        monkeypatch.setattr(scraper, "prepare", lambda name=name: prepared.append(name))
    chain.prepare()
    throttle.report_block(source="first")
    chain.prepare()
    assert prepared == ["first", "second"]


def test_close_closes_every_entry(chain: ScraperChain, monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[str] = []
    for scraper, name in zip(chain.scrapers, chain.sources, strict=True):
        monkeypatch.setattr(scraper, "close", lambda name=name: closed.append(name))
    chain.close()
    assert closed == ["first", "second", "thirdsource"]


def test_close_goes_on_after_an_entry_raises(chain: ScraperChain, monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[str] = []

    def close(name: str) -> None:
        closed.append(name)
        if closed == ["first"]:  # once: the settings' reset closes the chain again afterwards
            raise RuntimeError("the first entry's browser was already gone")

    for scraper, name in zip(chain.scrapers, chain.sources, strict=True):
        monkeypatch.setattr(scraper, "close", lambda name=name: close(name))
    with pytest.raises(RuntimeError, match="already gone"):
        chain.close()
    assert closed == ["first", "second", "thirdsource"]


def test_cedula_lookup_goes_through_the_chain(chain: ScraperChain) -> None:
    import io
    import json

    from django.core.management import call_command

    scrapers.plan("first", "network_error")
    out = io.StringIO()
    call_command("cedula_lookup", NUMBER, "--json", stdout=out)
    answer = json.loads(out.getvalue())
    assert (answer["status"], answer["source"]) == ("found", "second")


# -- the chain over the replica: what the form page's HTTP status means to it ---------------------

HTTP_BACKENDS = {
    "wsp": "django_cedula.scrapers.wsp_http.WspHttpScraper",
    "censo": "django_cedula.scrapers.consultacenso_http.ConsultaCensoHttpScraper",
}


@pytest.fixture(params=["http", pytest.param("browser", marks=pytest.mark.browser)])
def replica_chain(request: pytest.FixtureRequest, cedula_replica: Replica, settings: Any) -> ScraperChain:
    """Source A then Source B of the replica, both of one kind (``http`` or ``browser``)."""
    for name, value in cedula_replica.chain_settings().items():
        setattr(settings, name, value)
    if request.param == "http":
        settings.CEDULA_SOURCES = [
            {**entry, "BACKEND": HTTP_BACKENDS[source]}
            for source, entry in zip(("wsp", "censo"), settings.CEDULA_SOURCES, strict=True)
        ]
    settings.CEDULA_BLOCK_COOLDOWN = 900
    built = get_scraper()
    assert isinstance(built, ScraperChain)
    return built


@pytest.mark.parametrize(
    ("mode", "status"), [("http429", "blocked"), ("http404", "page_moved"), ("http410", "page_moved")]
)
def test_the_chain_moves_on_after_a_429_or_a_moved_page(
    replica_chain: ScraperChain, cedula_replica: Replica, mode: str, status: str
) -> None:
    cedula_replica.set_fault(mode, times=1)  # the first page GET: Source A's
    result = replica_chain.ask("1000000001")
    first, second = replica_chain.sources
    assert (result.status, result.source) == (ScrapeStatus.FOUND, second), result.error
    assert [(r.source, r.status) for r in cedula_replica.requests(kind="page")] == [
        ("wsp", int(mode[-3:])),
        ("censo", 200),
    ]
    # Only a block pauses its source; a moved page does not (the next lookup asks it again).
    assert (throttle.blocked_for(source=first) > 0) is (status == "blocked")
    assert throttle.blocked_for(source=second) == 0


def test_the_chain_stops_with_a_configuration_error_after_a_407(
    replica_chain: ScraperChain, cedula_replica: Replica
) -> None:
    cedula_replica.set_fault("http407", times=1)
    with pytest.raises(ConfigurationError, match="HTTP 407"):
        replica_chain.ask("1000000001")
    assert cedula_replica.requests(source="censo") == []  # the second source was not asked
