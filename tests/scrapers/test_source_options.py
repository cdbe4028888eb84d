"""The options every captcha-solving source takes (``url``, ``election``, ``page_timeout``, ``proxy``,
``user_agent``), for both kinds of scraper: a lookup against the replica uses each, and a wrong
value, or a misspelt name, is refused by the option's name when the scraper is built.

The HTTP scrapers' lookups are unit tests; the browser scrapers' are marked ``browser``.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from django_cedula.conf import build
from django_cedula.exceptions import ConfigurationError
from django_cedula.results import ScrapeResult, ScrapeStatus
from django_cedula.scrapers import get_scraper
from django_cedula.scrapers.base import BaseScraper
from django_cedula.scrapers.consultacenso import ConsultaCensoScraper
from django_cedula.scrapers.consultacenso_http import ConsultaCensoHttpScraper
from django_cedula.scrapers.solving import CENSO_URL, WSP_URL
from django_cedula.scrapers.wsp import WspScraper
from django_cedula.scrapers.wsp_http import WspHttpScraper
from django_cedula.testing.replica import Replica

#: Each kind of scraper of each source.
SCRAPERS: dict[tuple[str, str], type[BaseScraper]] = {
    ("http", "wsp"): WspHttpScraper,
    ("http", "censo"): ConsultaCensoHttpScraper,
    ("browser", "wsp"): WspScraper,
    ("browser", "censo"): ConsultaCensoScraper,
}
ALL = [pytest.param(cls, id=cls.__name__) for cls in SCRAPERS.values()]
CHROME_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36"
)
#: A host name that is not loopback, so that Chromium sends it through a proxy (it never proxies
#: loopback addresses); only the test's proxy can resolve it.
PROXIED_HOST = "replica.proxied.test"


@pytest.fixture(params=["http", pytest.param("browser", marks=pytest.mark.browser)])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make(kind: str, source: str, replica: Replica, **options: Any) -> BaseScraper:
    """``kind``'s scraper of ``source``, with the options of the replica's entry for it (``url``, the
    suite's ``page_timeout``) and ``options`` over them."""
    return SCRAPERS[kind, source](**replica.source(source, **options)["OPTIONS"])


def scrape(scraper: BaseScraper, number: str = "1000000001") -> ScrapeResult:
    try:
        return ScrapeResult.coerce(scraper.scrape_cedula(number))
    finally:
        scraper.close()


# -- used by the lookup ---------------------------------------------------------------------------


def test_the_url_option_is_the_page_asked(replica_settings: Replica, source: str, kind: str) -> None:
    scraper = make(kind, source, replica_settings)
    assert scraper.url == (replica_settings.wsp_url if source == "wsp" else replica_settings.censo_url)  # type: ignore[attr-defined]
    assert scrape(scraper).status is ScrapeStatus.FOUND
    (lookup,) = replica_settings.lookups()
    assert (lookup.source, lookup.cedula) == (source, "1000000001")


def test_without_a_url_the_production_page(kind: str, source: str) -> None:
    scraper = SCRAPERS[kind, source]()
    try:
        assert scraper.url == (WSP_URL if source == "wsp" else CENSO_URL)  # type: ignore[attr-defined]
    finally:
        scraper.close()


@pytest.mark.parametrize("election", ["67", 67])
def test_the_election_option_is_sent(
    replica_settings: Replica, source: str, kind: str, election: Any
) -> None:
    assert scrape(make(kind, source, replica_settings, election=election)).status is ScrapeStatus.FOUND
    (lookup,) = replica_settings.lookups()
    assert lookup.election == "67"


def test_the_page_timeout_option_bounds_each_answer(
    replica_settings: Replica, source: str, kind: str
) -> None:
    scraper = make(kind, source, replica_settings, page_timeout=1.5)
    try:
        warm = ScrapeResult.coerce(scraper.scrape_cedula("1000000002"))  # the browser started
        assert warm.status is ScrapeStatus.FOUND
        replica_settings.slow_seconds = 6
        replica_settings.set_fault("slow", cedula="1000000001")
        started = time.monotonic()
        result = ScrapeResult.coerce(scraper.scrape_cedula("1000000001"))
        elapsed = time.monotonic() - started
    finally:
        scraper.close()
    assert result.status is ScrapeStatus.TIMEOUT, result.error
    # Given up after 1.5 s, not the suite's 4 s (nor the answer's 6 s).
    assert elapsed < 3.8, f"{elapsed:.2f} s"


class ForwardingProxy:
    """A plain HTTP proxy on a free local port that sends every request for :data:`PROXIED_HOST` to
    the replica, and records what it forwarded: ``(method, path, User-Agent)``."""

    def __init__(self, replica: Replica) -> None:
        target = urlsplit(replica.url)
        self.host, self.port = target.hostname or "127.0.0.1", target.port
        self.seen: list[tuple[str, str, str]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def forward(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                proxy.seen.append((self.command, url.path, self.headers.get("User-Agent", "")))
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() not in ("proxy-connection", "connection", "keep-alive")
                }
                upstream = http.client.HTTPConnection(proxy.host, proxy.port, timeout=30)
                try:
                    path = url.path + (f"?{url.query}" if url.query else "")
                    upstream.request(self.command, path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    content = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status, answer.reason)
                for name, value in answer.getheaders():
                    if name.lower() not in (
                        "transfer-encoding",
                        "connection",
                        "content-length",
                        "keep-alive",
                    ):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_HEAD = forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="test-proxy", daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def forwarding_proxy(cedula_replica: Replica) -> Iterator[ForwardingProxy]:
    proxy = ForwardingProxy(cedula_replica)
    yield proxy
    proxy.close()


def test_the_proxy_and_user_agent_options_carry_the_lookup(
    replica_settings: Replica, source: str, kind: str, forwarding_proxy: ForwardingProxy
) -> None:
    path = urlsplit(replica_settings.wsp_url if source == "wsp" else replica_settings.censo_url).path
    port = urlsplit(replica_settings.url).port
    scraper = make(
        kind,
        source,
        replica_settings,
        url=f"http://{PROXIED_HOST}:{port}{path}",
        proxy=forwarding_proxy.url,
        user_agent=CHROME_AGENT,
    )
    assert scrape(scraper).status is ScrapeStatus.FOUND
    (lookup,) = replica_settings.lookups()
    assert lookup.cedula == "1000000001"
    # The page came through the proxy (no one else can reach that host name), as the agent given.
    pages = [(method, agent) for method, seen, agent in forwarding_proxy.seen if seen == path]
    assert pages
    assert {agent for _, agent in pages} == {CHROME_AGENT}


def test_options_given_in_cedula_sources_reach_the_scraper(settings: Any, cedula_replica: Replica) -> None:
    for name, value in cedula_replica.django_settings(
        "censo", election=67, page_timeout=2.5, user_agent=CHROME_AGENT
    ).items():
        setattr(settings, name, value)
    scraper = get_scraper()
    assert isinstance(scraper, ConsultaCensoScraper)
    assert (scraper.url, scraper.election, scraper.page_timeout, scraper.user_agent) == (
        cedula_replica.censo_url,
        "67",
        2.5,
        CHROME_AGENT,
    )
    assert (scraper.browser_options.page_timeout, scraper.browser_options.user_agent) == (2.5, CHROME_AGENT)


# -- refused by name --------------------------------------------------------------------------------


REFUSED: list[tuple[str, Any, str]] = [
    ("url", "ftp://registraduria.gov.co/", "url must be an http:// or https:// URL"),
    ("url", "wsp.registraduria.gov.co/censo/consultar/", "url must be an http:// or https:// URL"),
    ("url", 8765, "url must be an http:// or https:// URL"),
    ("election", "current", "election must be a whole number"),
    ("election", 1.5, "election must be a whole number"),
    ("election", True, "election must be a whole number"),
    ("page_timeout", "30", "page_timeout must be a number of seconds"),
    ("page_timeout", True, "page_timeout must be a number of seconds"),
    ("page_timeout", 0, "page_timeout must be more than 0 and finite"),
    ("page_timeout", -1, "page_timeout must be more than 0 and finite"),
    ("page_timeout", float("inf"), "page_timeout must be more than 0 and finite"),
    ("page_timeout", float("nan"), "page_timeout must be more than 0 and finite"),
    ("proxy", "ftp://proxy.example:21", "proxy: must be an"),
    ("proxy", {"host": "proxy.example"}, "proxy: must have a 'server' key"),
    ("proxy", 3128, "proxy: must be a proxy URL or a mapping"),
    ("user_agent", "", "user_agent must be a non-empty string"),
    ("user_agent", 5, "user_agent must be a non-empty string"),
]


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize(("name", "value", "words"), REFUSED, ids=[f"{n}={v!r}" for n, v, _ in REFUSED])
def test_a_wrong_value_is_refused_by_the_options_name(
    cls: type[BaseScraper], name: str, value: Any, words: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        cls(**{name: value})
    assert str(refused.value).startswith(words)
    assert refused.value.hint
    with pytest.raises(ConfigurationError, match=r"^CEDULA_SOURCES\[1\]: " + words.replace("(", r"\(")):
        build(cls, {name: value}, "CEDULA_SOURCES[1]")


@pytest.mark.parametrize("cls", ALL)
def test_a_refused_proxy_quotes_no_password(cls: type[BaseScraper]) -> None:
    for proxy in ("http://alice:hunter2@:notaport", {"server": "http://p:1", "password": "hunter2"}):
        with pytest.raises(ConfigurationError) as refused:
            cls(proxy=proxy)
        assert str(refused.value).startswith("proxy: ")
        assert "hunter2" not in f"{refused.value} {refused.value.hint}"


@pytest.mark.parametrize("cls", ALL)
def test_a_misspelt_option_is_refused_by_its_name(cls: type[BaseScraper]) -> None:
    with pytest.raises(TypeError, match="got unknown options: 'page_timout'"):
        cls(page_timout=4)
    with pytest.raises(ConfigurationError, match=r"^CEDULA_SOURCES\[0\]: .*'page_timout'"):
        build(cls, {"page_timout": 4}, "CEDULA_SOURCES[0]")


@pytest.mark.parametrize(("cls", "other"), [(WspScraper, "impersonate"), (WspHttpScraper, "browser")])
def test_each_kind_refuses_the_other_kinds_options(cls: type[BaseScraper], other: str) -> None:
    with pytest.raises(TypeError, match=f"got unknown options: '{other}'"):
        cls(**{other: {}})


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"user_agent": "curl/8.5"}, "user_agent must be a Chrome User-Agent"),
        ({"impersonate": "safari17_0"}, "impersonate must be 'chrome' or a Chrome target"),
        ({"impersonate": 131}, "impersonate must be 'chrome' or a Chrome target"),
        ({"browser_headers": "yes"}, "browser_headers must be True or False"),
    ],
)
def test_the_http_scrapers_own_rules(options: dict[str, Any], words: str) -> None:
    for cls in (WspHttpScraper, ConsultaCensoHttpScraper):
        with pytest.raises(ConfigurationError) as refused:
            cls(**options)
        assert str(refused.value).startswith(words)


def test_a_wrong_option_in_cedula_sources_names_the_entry(settings: Any, cedula_replica: Replica) -> None:
    settings.CEDULA_SOURCES = [
        cedula_replica.source("wsp"),
        {
            "BACKEND": "django_cedula.scrapers.consultacenso_http.ConsultaCensoHttpScraper",
            "OPTIONS": {"election": "x"},
        },
    ]
    with pytest.raises(ConfigurationError, match=r"^CEDULA_SOURCES\[1\]: election must be a whole number"):
        get_scraper()
