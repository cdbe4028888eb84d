"""``probe()`` of the HTTP scrapers against the replica: a GET of the form page, checked as a lookup
checks it; never a solve, never a post (the browser scrapers': test_site_changes_browser.py)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from django_cedula.results import ProbeResult, ScrapeStatus
from django_cedula.scrapers.solving import FORM_SAMPLE_CHARS
from django_cedula.scrapers.wsp_http import WspHttpScraper
from django_cedula.testing.replica import FaultMode, Replica

from .test_every_source import http_scraper


@pytest.fixture
def counted(replica_settings: Replica, settings: Any) -> Replica:
    settings.CEDULA_CAPTCHA_SOLVER = replica_settings.solver_settings()
    return replica_settings


def probe(replica: Replica, source: str, **options: Any) -> ProbeResult:
    return http_scraper(replica, source, **options).probe()


def assert_free(replica: Replica, pages: int = 1) -> None:
    """Only page GETs reached the replica: no solve, no lookup, no election list."""
    assert [r.kind for r in replica.requests()] == ["page"] * pages
    assert replica.solves() == 0


def test_the_right_shape_is_ok(counted: Replica, source: str) -> None:
    result = probe(counted, source)
    assert result.ok, result.detail
    assert (result.status, result.detail) == (None, "")
    assert 'class="g-recaptcha"' in result.raw_html
    assert len(result.raw_html) <= FORM_SAMPLE_CHARS
    assert_free(counted)


def test_a_changed_form_is_form_changed(counted: Replica, source: str) -> None:
    counted.set_fault(FaultMode.FORM_SHAPE)
    result = probe(counted, source)
    assert (result.ok, result.status) == (False, ScrapeStatus.FORM_CHANGED)
    expected = "#nuip field" if source == "wsp" else "names no API at /consultacenso/back/api/"
    assert expected in result.detail
    assert "captcha-frame" in result.raw_html if source == "wsp" else "/api/v2/" in result.raw_html
    assert 0 < len(result.raw_html) <= FORM_SAMPLE_CHARS
    assert_free(counted)
    counted.clear_fault(FaultMode.FORM_SHAPE)
    assert probe(counted, source).ok


@pytest.mark.parametrize("mode", [FaultMode.NEW_MARKUP, FaultMode.REFUSE_TOKENS])
def test_a_change_only_a_lookup_reveals_probes_ok(counted: Replica, source: str, mode: FaultMode) -> None:
    counted.set_fault(mode)
    assert probe(counted, source).ok
    assert_free(counted)


@pytest.mark.parametrize(
    ("mode", "status", "detail"),
    [
        (FaultMode.BLOCK, ScrapeStatus.BLOCKED, "the firewall's block page"),
        (FaultMode.HTTP429, ScrapeStatus.BLOCKED, "HTTP 429"),
        (FaultMode.HTTP404, ScrapeStatus.PAGE_MOVED, "HTTP 404"),
        (FaultMode.HTTP410, ScrapeStatus.PAGE_MOVED, "HTTP 410"),
    ],
)
def test_what_the_page_says_otherwise(
    counted: Replica, source: str, mode: FaultMode, status: ScrapeStatus, detail: str
) -> None:
    counted.set_fault(mode)
    result = probe(counted, source)
    assert (result.ok, result.status) == (False, status)
    assert detail in result.detail
    assert len(result.raw_html) <= FORM_SAMPLE_CHARS
    assert counted.lookups() == []
    assert counted.solves() == 0


def test_a_page_that_answers_500_is_a_network_error(counted: Replica) -> None:
    counted.set_fault(FaultMode.GET500)  # every GET (wsp retries its form page once, as a lookup does)
    result = probe(counted, "wsp")
    assert (result.ok, result.status) == (False, ScrapeStatus.NETWORK_ERROR)
    assert_free(counted, pages=2)


def test_a_slow_page_is_a_timeout(counted: Replica, source: str) -> None:
    counted.form_delay = 3
    result = probe(counted, source, page_timeout=0.5)
    assert (result.ok, result.status) == (False, ScrapeStatus.TIMEOUT)


def test_an_unreachable_source_is_a_network_error(counted: Replica) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    result = WspHttpScraper(url=f"http://127.0.0.1:{port}/censo/consultar/").probe()
    assert (result.ok, result.status) == (False, ScrapeStatus.NETWORK_ERROR)
    assert result.detail


def test_callable_where_an_event_loop_runs(counted: Replica, source: str) -> None:
    # The sweep calls it from a plain thread; a caller that runs a loop of its own is not disturbed.
    async def inside() -> ProbeResult:
        return probe(counted, source)

    assert asyncio.run(inside()).ok


def test_no_solver_needed(cedula_replica: Replica, settings: Any, source: str) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = None
    assert probe(cedula_replica, source).ok
