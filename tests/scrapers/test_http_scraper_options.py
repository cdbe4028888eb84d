"""The HTTP-only scrapers' options, secrets and errors, and what happens without curl_cffi."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from django.core.checks import ERROR

from django_cedula.checks import check_sources
from django_cedula.exceptions import ConfigurationError
from django_cedula.results import ScrapeStatus
from django_cedula.scrapers import get_scraper, http
from django_cedula.scrapers.http import ChromeHeaders, impersonation_target, proxy_url
from django_cedula.scrapers.wsp_http import WspHttpScraper
from django_cedula.testing.replica import Replica

from .conftest import replica_solver

WSP_HTTP = "django_cedula.scrapers.wsp_http.WspHttpScraper"
CENSO_HTTP = "django_cedula.scrapers.consultacenso_http.ConsultaCensoHttpScraper"
WSP = "django_cedula.scrapers.wsp.WspScraper"


def source_errors() -> list[Any]:
    return [message for message in check_sources() if message.level >= ERROR]


def free_port() -> int:
    with socket.socket() as probe:  # free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def without_curl_cffi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "curl_cffi_missing", lambda: True)


@pytest.mark.usefixtures("without_curl_cffi")
def test_without_curl_cffi_the_scraper_names_the_extra(settings: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"django-cedula\[http\]"):
        WspHttpScraper()
    settings.CEDULA_SOURCES = [{"BACKEND": WSP_HTTP}]
    with pytest.raises(ConfigurationError, match="curl_cffi"):
        get_scraper()


@pytest.mark.usefixtures("without_curl_cffi")
@pytest.mark.parametrize(
    "value",
    [
        [{"BACKEND": WSP_HTTP}],
        [{"BACKEND": WSP_HTTP}, {"BACKEND": WSP}],
        # With options, and after a browser source: the entry is named, and its options not judged.
        [{"BACKEND": WSP}, {"BACKEND": WSP_HTTP, "OPTIONS": {"impersonate": "chrome"}}],
    ],
)
def test_manage_py_check_says_so_first(settings: Any, value: list[dict[str, Any]]) -> None:
    settings.CEDULA_SOURCES = value
    (message,) = source_errors()
    assert message.id == "django_cedula.E014"
    index = next(i for i, entry in enumerate(value) if entry["BACKEND"] == WSP_HTTP)
    assert f"[{index}]: {WSP_HTTP!r} needs curl_cffi" in message.msg
    assert "django-cedula[http]" in (message.hint or "")


def test_no_check_problem_with_curl_cffi_or_a_browser_scraper(settings: Any, monkeypatch: Any) -> None:
    settings.CEDULA_SOURCES = [{"BACKEND": CENSO_HTTP}]
    assert source_errors() == []
    monkeypatch.setattr(http, "curl_cffi_missing", lambda: True)
    settings.CEDULA_SOURCES = [{"BACKEND": WSP}]
    assert source_errors() == []


def test_source_names() -> None:
    from django_cedula.scrapers.consultacenso_http import ConsultaCensoHttpScraper

    assert (WspHttpScraper.source_name, ConsultaCensoHttpScraper.source_name) == (
        "wsp-http",
        "consultacenso-http",
    )


def test_the_proxy_password_never_shows(cedula_replica: Replica, settings: Any) -> None:
    for name, value in cedula_replica.django_settings().items():
        setattr(settings, name, value)
    proxy = f"http://alice:s3cr3t-pw@127.0.0.1:{free_port()}"
    scraper = WspHttpScraper(url=cedula_replica.wsp_url, proxy=proxy)
    assert "s3cr3t" not in repr(scraper)
    result = scraper.scrape_cedula("1000000001")
    assert result.status is ScrapeStatus.NETWORK_ERROR
    assert "s3cr3t" not in result.error
    assert "1000000001" not in result.error
    mapped = WspHttpScraper(proxy={"server": "http://127.0.0.1:3128", "username": "a", "password": "s3cr3t"})
    assert "s3cr3t" not in repr(mapped)


def test_proxy_values() -> None:
    assert proxy_url(None) == (None, None)
    assert proxy_url("user:p%40ss@proxy:3128") == ("http://user:p%40ss@proxy:3128", None)
    assert proxy_url(
        {"server": "socks5://proxy:1080", "username": "u", "password": "p@ss", "bypass": "localhost"}
    ) == (
        "socks5://u:p%40ss@proxy:1080",
        "localhost",
    )
    with pytest.raises(ValueError, match="not a proxy URL") as refused:
        proxy_url("http://user:s3cr3t@:notaport")
    assert "s3cr3t" not in str(refused.value)


def test_an_unreachable_source_is_a_network_error(cedula_replica: Replica, settings: Any) -> None:
    for name, value in cedula_replica.django_settings().items():
        setattr(settings, name, value)
    result = WspHttpScraper(url=f"http://127.0.0.1:{free_port()}/censo/consultar/").scrape_cedula(
        "1000000001"
    )
    assert result.status is ScrapeStatus.NETWORK_ERROR
    assert result.error.startswith("curl: (7)")


def test_without_a_solver_no_traffic(cedula_replica: Replica, settings: Any) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = None
    result = WspHttpScraper(url=cedula_replica.wsp_url).scrape_cedula("1000000001")
    assert result.status is ScrapeStatus.CAPTCHA_FAILED
    assert cedula_replica.requests() == []


def test_options_checked_when_built(settings: Any) -> None:
    with pytest.raises(ConfigurationError, match="user_agent must be a Chrome User-Agent"):
        WspHttpScraper(user_agent="python-requests/2.32")
    with pytest.raises(ConfigurationError, match="impersonate must be 'chrome' or a Chrome target"):
        WspHttpScraper(impersonate="safari17_0")
    settings.CEDULA_SOURCES = [{"BACKEND": WSP_HTTP, "OPTIONS": {"user_agent": "curl/8"}}]
    with pytest.raises(ConfigurationError, match=r"^CEDULA_SOURCES\[0\]: user_agent must be a Chrome"):
        get_scraper()


def test_chrome_versions_agree() -> None:
    assert impersonation_target("chrome131") == 131
    assert impersonation_target("chrome") >= 124
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0"
    linux = ChromeHeaders(131, agent + " Safari/537.36")
    hints = dict(linux.navigation())
    assert '"Chromium";v="140"' in hints["sec-ch-ua"]
    assert hints["sec-ch-ua-platform"] == '"Linux"'


def test_the_token_supply_serves_the_http_scraper(
    cedula_replica: Replica, settings: Any, transactional_db: None
) -> None:
    """The same CaptchaSolve as the browser scrapers': a stocked token is sent, no own solve is paid."""
    from django.core.cache import caches
    from django.core.management import call_command

    from django_cedula.captcha.base import SolvedToken
    from django_cedula.captcha.supply import get_token_supply
    from django_cedula.captcha.supply_store import Target, TokenStore

    for name, value in cedula_replica.django_settings().items():
        setattr(settings, name, value)
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "db": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cedula_http_cache"},
    }
    settings.CEDULA_CACHE_ALIAS = "db"
    settings.CEDULA_TASKS = {"BACKEND": "django_cedula.testing.backends.RecordingBackend"}
    call_command("createcachetable", "cedula_http_cache", verbosity=0)
    assert get_token_supply() is not None
    stocked = SolvedToken(value=cedula_replica.issue_token(), ref="stocked", seconds=1.0)
    TokenStore(caches["db"], Target(cedula_replica.site_key, cedula_replica.wsp_url), max_age=100).put(
        stocked
    )
    # A solver that would take 5 s: the stocked token is taken long before.
    settings.CEDULA_CAPTCHA_SOLVER = replica_solver(delay=5.0)
    started = time.monotonic()
    try:
        result = WspHttpScraper(url=cedula_replica.wsp_url).scrape_cedula("1000000001")
    finally:
        caches["db"].clear()
    assert time.monotonic() - started < 4
    assert result.status is ScrapeStatus.FOUND
    (lookup,) = cedula_replica.lookups()
    assert lookup.captcha == stocked.value
