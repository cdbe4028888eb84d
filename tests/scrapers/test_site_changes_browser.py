"""The site changing under the browser scrapers (issue #21), in a real headless Chromium: each change
of the replica read as the HTTP scrapers read it (tests/scrapers/test_site_changes.py), a changed form
at no solve, and ``probe()`` (the browser's page load, no solve, no post)."""

from __future__ import annotations

from typing import Any

import pytest

from django_cedula.results import ScrapeResult, ScrapeStatus
from django_cedula.scrapers import get_scraper
from django_cedula.scrapers.browser import BrowserScraper
from django_cedula.scrapers.solving import FORM_SAMPLE_CHARS
from django_cedula.testing.replica import FaultMode, Replica

pytestmark = pytest.mark.browser

FOUND = "1000000001"


@pytest.fixture
def counted(replica_settings: Replica, settings: Any) -> Replica:
    settings.CEDULA_CAPTCHA_SOLVER = replica_settings.solver_settings()
    return replica_settings


def scraper() -> BrowserScraper:
    built = get_scraper()
    assert isinstance(built, BrowserScraper)
    return built


def scrape(number: str = FOUND) -> ScrapeResult:
    return ScrapeResult.coerce(scraper().scrape_cedula(number))


def test_each_change_read_as_its_status_and_back(counted: Replica, source: str) -> None:
    assert scrape().status is ScrapeStatus.FOUND
    assert counted.solves() == 1

    counted.set_fault(FaultMode.FORM_SHAPE)
    result = scrape()
    assert result.status is ScrapeStatus.FORM_CHANGED, result.error
    expected = "#nuip field" if source == "wsp" else "names no API at /consultacenso/back/api/"
    assert expected in result.error
    assert 0 < len(result.raw_html) <= FORM_SAMPLE_CHARS
    assert counted.solves() == 1  # the site key known from the first lookup started no solve
    counted.clear_fault(FaultMode.FORM_SHAPE)

    counted.set_fault(FaultMode.NEW_MARKUP)
    assert scrape().status is ScrapeStatus.PARSE_ERROR
    assert counted.solves() == 2
    counted.clear_fault(FaultMode.NEW_MARKUP)

    counted.set_fault(FaultMode.REFUSE_TOKENS)
    assert scrape().status is ScrapeStatus.TOKEN_REFUSED
    assert counted.lookups()[-1].fault == "refuse_tokens"
    counted.clear_fault(FaultMode.REFUSE_TOKENS)

    assert scrape().status is ScrapeStatus.FOUND
    assert len(counted.lookups()) == 4  # the form_shape lookup posted nothing


def test_probe(counted: Replica, source: str) -> None:
    ok = scraper().probe()
    assert ok.ok, ok.detail
    assert 'class="g-recaptcha"' in ok.raw_html

    counted.set_fault(FaultMode.FORM_SHAPE)
    changed = scraper().probe()
    assert (changed.ok, changed.status) == (False, ScrapeStatus.FORM_CHANGED)
    assert 0 < len(changed.raw_html) <= FORM_SAMPLE_CHARS
    counted.clear_fault(FaultMode.FORM_SHAPE)

    counted.set_fault(FaultMode.BLOCK)
    blocked = scraper().probe()
    assert (blocked.ok, blocked.status) == (False, ScrapeStatus.BLOCKED)
    counted.clear_fault(FaultMode.BLOCK)

    counted.set_fault(FaultMode.HTTP404)
    moved = scraper().probe()
    assert (moved.ok, moved.status) == (False, ScrapeStatus.PAGE_MOVED)
    counted.clear_fault(FaultMode.HTTP404)

    assert counted.solves() == 0
    assert counted.lookups() == []
    assert {r.kind for r in counted.requests(source=counted.requests()[0].source)} <= {"page", "elecciones"}
