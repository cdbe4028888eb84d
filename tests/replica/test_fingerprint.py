"""The ``fingerprint`` fault: plain clients get the firewall's block page with HTTP 403; requests with
a browser's shape (Chrome's headers, in Chrome's order) are served, and do not use the fault up."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request

import pytest

from django_cedula.scrapers.http import ChromeHeaders, grease_brand, sec_ch_ua
from django_cedula.scrapers.parsing import is_block_page
from django_cedula.testing.replica import Replica
from django_cedula.testing.replica.fingerprint import browser_shape_problems

from .helpers import WspClient

CHROME = ChromeHeaders(152)
WRONG_GREASE = '"Chromium";v="156", "Not_A Brand";v="99"'
# Headless Chromium 156's requests to the replica, as captured (Host and Connection first: Chrome's
# HTTP/1.1 order).
HEADLESS_NAVIGATION = [
    ("Host", "127.0.0.1:8765"),
    ("Connection", "keep-alive"),
    ("sec-ch-ua", '"Not:A-Brand";v="8", "Chromium";v="156"'),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-ch-ua-platform", '"Linux"'),
    ("Upgrade-Insecure-Requests", "1"),
    (
        "User-Agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 "
        "Safari/537.36",
    ),
    ("Accept-Language", "es-CO"),
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("Sec-Fetch-Site", "none"),
    ("Sec-Fetch-Mode", "navigate"),
    ("Sec-Fetch-User", "?1"),
    ("Sec-Fetch-Dest", "document"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
]


def test_chromes_grease_brands_as_captured() -> None:
    assert sec_ch_ua(152) == '"Chromium";v="152", "Not?A_Brand";v="24", "Google Chrome";v="152"'
    assert sec_ch_ua(156, ("Chromium",)) == '"Not:A-Brand";v="8", "Chromium";v="156"'
    assert grease_brand(156) == ("Not:A-Brand", "8")


def test_a_browsers_requests_have_no_problem() -> None:
    assert browser_shape_problems(HEADLESS_NAVIGATION, method="GET", navigation=True) == []
    host = [("Host", "127.0.0.1:8765")]
    assert browser_shape_problems(host + CHROME.navigation(), method="GET", navigation=True) == []
    assert (
        browser_shape_problems(host + CHROME.navigation(reload="script"), method="GET", navigation=True) == []
    )
    post = CHROME.fetch("http://127.0.0.1:8765/censo/consultar/", method="POST", requested_with=True)
    assert browser_shape_problems(host + post, method="POST", navigation=False) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda h: [(n, v) for n, v in h if not n.startswith("sec-ch-ua")], "no client hints"),
        (lambda h: [(n, "python-requests/2.32" if n == "User-Agent" else v) for n, v in h], "no Chrome"),
        (lambda h: [(n, sec_ch_ua(120) if n == "sec-ch-ua" else v) for n, v in h], "Chrome version"),
        (
            lambda h: [
                (n, '"Chromium";v="156", "Not_A Brand";v="99"' if n == "sec-ch-ua" else v) for n, v in h
            ],
            "GREASE",
        ),
        (lambda h: sorted(h), "order"),
        (lambda h: [(n, "cors" if n == "Sec-Fetch-Mode" else v) for n, v in h], "page load"),
        (lambda h: [*h, ("Connection", "close")], "Connection: close"),
        (lambda h: [*h, ("Upgrade", "h2c")], "h2c"),
    ],
)
def test_what_gives_a_script_away(change: object, problem: str) -> None:
    assert callable(change)
    problems = browser_shape_problems(change(HEADLESS_NAVIGATION[2:]), method="GET", navigation=True)
    assert any(problem in found for found in problems), problems


def test_a_post_needs_the_pages_origin() -> None:
    post = CHROME.fetch("http://127.0.0.1:9/censo/consultar/", method="POST")
    problems = browser_shape_problems([("Host", "127.0.0.1:8765"), *post], method="POST", navigation=False)
    assert problems == ["a POST without the page's Origin"]


def test_urllib_gets_the_block_page_with_403(replica: Replica) -> None:
    replica.set_fault("fingerprint")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(replica.wsp_url, timeout=5)
    assert refused.value.code == 403
    assert is_block_page(refused.value.read().decode())
    (record,) = replica.requests(kind="page")
    assert (record.answer, record.fault) == ("block", "fingerprint")
    assert "no Chrome User-Agent" in record.detail


def test_browser_shaped_requests_pass_and_leave_the_fault_armed(replica: Replica) -> None:
    replica.set_fault("fingerprint", times=1)
    # http.client, not urllib (which always adds "Connection: close"), sending Chromium's headers.
    connection = http.client.HTTPConnection(replica.host, replica.port, timeout=5)
    connection.putrequest("GET", "/censo/consultar/", skip_accept_encoding=True)
    for name, value in HEADLESS_NAVIGATION[2:]:
        connection.putheader(name, value)
    connection.endheaders()
    assert connection.getresponse().status == 200
    connection.close()
    assert [fault.mode.value for fault in replica.faults] == ["fingerprint"]
    # A plain client is refused, which uses the firing up; the next one is served.
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(replica.wsp_url, timeout=5)
    assert replica.faults == []
    assert WspClient(replica).lookup("1000000001").status == 200
