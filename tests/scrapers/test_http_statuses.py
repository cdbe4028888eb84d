"""What an HTTP status on a source's page or answer means, the same on both kinds of scraper, against
the replica over HTTP: 429 is a block (the pause after a block starts; ``Retry-After`` is quoted),
407 a configuration error naming the proxy and never its credentials, 404 and 410 ``page_moved``.
And an answer is read in the charset it declares."""

from __future__ import annotations

from typing import Any

import pytest

from django_cedula import throttle
from django_cedula.exceptions import ConfigurationError
from django_cedula.results import ScrapeResult, ScrapeStatus
from django_cedula.scrapers.base import BaseScraper, ask_source
from django_cedula.testing.replica import Replica

from .auth_proxy import AuthProxy
from .test_every_source import browser_scraper, http_scraper

S = ScrapeStatus
FOUND = "1000000001"
#: Found in ANTIOQUIA / MEDELLÍN (the issue's probe).
MEDELLIN = "1000000002"
#: Let Chromium use a proxy on the loopback address (it bypasses loopback by default).
PROXY_LOOPBACK = {"args": ["--proxy-bypass-list=<-loopback>"]}


@pytest.fixture(params=["http", pytest.param("browser", marks=pytest.mark.browser)])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def scraper(replica: Replica, source: str, kind: str, **options: Any) -> BaseScraper:
    if kind == "http":
        return http_scraper(replica, source, **options)
    if not options:
        return browser_scraper(replica, source)
    from django_cedula.scrapers.consultacenso import ConsultaCensoScraper
    from django_cedula.scrapers.wsp import WspScraper

    cls = WspScraper if source == "wsp" else ConsultaCensoScraper
    return cls(**replica.source(source, **options)["OPTIONS"])


def test_a_429_on_the_form_page_is_a_block_that_starts_the_pause(
    replica_settings: Replica, settings: Any, source: str, kind: str
) -> None:
    settings.CEDULA_BLOCK_COOLDOWN = 900
    replica_settings.set_fault("http429")
    result = ask_source(scraper(replica_settings, source, kind), FOUND)
    assert result.status is S.BLOCKED, result.error
    assert "HTTP 429" in result.error
    assert "Retry-After 120 s" in result.error
    assert throttle.blocked_for() > 800
    (page,) = replica_settings.requests(kind="page")
    assert (page.status, page.answer) == (429, "http_429")
    assert replica_settings.lookups() == []  # nothing posted, no captcha token spent


@pytest.mark.parametrize("mode", ["http404", "http410"])
def test_404_and_410_on_the_form_page_mean_the_page_moved(
    replica_settings: Replica, settings: Any, source: str, kind: str, mode: str
) -> None:
    settings.CEDULA_BLOCK_COOLDOWN = 900
    replica_settings.set_fault(mode)
    result = ask_source(scraper(replica_settings, source, kind), FOUND)
    assert result.status is S.PAGE_MOVED, result.error
    assert result.status.is_transient
    assert f"HTTP {mode[-3:]}" in result.error
    assert throttle.blocked_for() == 0  # not a block: nothing pauses
    assert replica_settings.lookups() == []


def test_a_407_on_the_form_page_is_a_configuration_error(
    replica_settings: Replica, source: str, kind: str
) -> None:
    replica_settings.set_fault("http407")
    with pytest.raises(ConfigurationError) as raised:
        ask_source(scraper(replica_settings, source, kind), FOUND)
    message = str(raised.value)
    assert "HTTP 407" in message
    assert "no proxy option" in message  # a proxy on the way that the settings do not know of
    assert raised.value.hint
    assert replica_settings.lookups() == []


@pytest.mark.parametrize("shape", ["url", "mapping"])
def test_a_proxy_that_refuses_the_credentials_is_a_configuration_error_naming_it(
    replica_settings: Replica, source: str, kind: str, shape: str
) -> None:
    browser = {} if kind == "http" else {"browser": PROXY_LOOPBACK}
    # The mapping's case meets a 407 without a body (Chromium shows its own error page for it).
    with AuthProxy("cedula", "right-secret", page=shape == "url") as proxy:
        good = proxy.url("cedula", "right-secret")
        # The proxy works with the right credentials: the refusal below is the credentials' alone.
        assert (
            scraper(replica_settings, source, kind, proxy=good, **browser).scrape_cedula(FOUND).status
            is S.FOUND
        )
        replica_settings.reset()
        wrong: Any = (
            proxy.url("cedula", "wrong-secret")
            if shape == "url"
            else {"server": proxy.server, "username": "cedula", "password": "wrong-secret"}
        )
        with pytest.raises(ConfigurationError) as raised:
            ask_source(scraper(replica_settings, source, kind, proxy=wrong, **browser), FOUND)
    text = f"{raised.value} {raised.value.hint}"
    assert proxy.server.removeprefix("http://") in str(raised.value)  # the proxy is named...
    assert "HTTP 407" in str(raised.value)
    assert "wrong-secret" not in text  # ...never its credentials
    assert "cedula" not in text
    assert replica_settings.requests() == []  # the source never heard of it


@pytest.mark.parametrize(
    ("mode", "status"), [("http404", S.PAGE_MOVED), ("http410", S.PAGE_MOVED), ("http429", S.BLOCKED)]
)
def test_the_answers_status_means_the_same(
    replica_settings: Replica, source: str, kind: str, mode: str, status: ScrapeStatus
) -> None:
    replica_settings.set_fault(mode, FOUND)  # for a number: its lookup's answer
    result = ScrapeResult.coerce(scraper(replica_settings, source, kind).scrape_cedula(FOUND))
    assert result.status is status, result.error
    assert f"HTTP {mode[-3:]}" in result.error
    (lookup,) = replica_settings.lookups()
    assert lookup.status == int(mode[-3:])


def test_a_407_answer_is_a_configuration_error(replica_settings: Replica, source: str, kind: str) -> None:
    replica_settings.set_fault("http407", FOUND)
    with pytest.raises(ConfigurationError, match="HTTP 407"):
        scraper(replica_settings, source, kind).scrape_cedula(FOUND)


def test_an_answer_in_iso_8859_1_is_read_as_it_declares(
    replica_settings: Replica, source: str, kind: str
) -> None:
    replica_settings.set_fault("latin1")
    result = ScrapeResult.coerce(scraper(replica_settings, source, kind).scrape_cedula(MEDELLIN))
    assert result.status is S.FOUND, result.error
    assert (result.departamento, result.municipio) == ("ANTIOQUIA", "MEDELLÍN")
    assert result.puesto == "INSTITUCIÓN EDUCATIVA MARCO FIDEL SUÁREZ"
    assert "\ufffd" not in result.raw_html
    (lookup,) = replica_settings.lookups()
    assert lookup.fault == "latin1"
