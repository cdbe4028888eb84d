"""``ask()``: the one way a lookup asks the configured scraper, a class outside the package's base,
a single ``BaseScraper`` or a chain alike."""

from __future__ import annotations

from typing import Any

from django_cedula import throttle
from django_cedula.results import ScrapeResult, ScrapeStatus
from django_cedula.scrapers import get_scraper
from django_cedula.scrapers.base import ask, paused_sources

from .conftest import FIRST, SECOND, sources


class PlainScraper:
    """A host's scraper with ``scrape_cedula`` only, outside the package's base."""

    def scrape_cedula(self, cedula: str) -> Any:
        raise RuntimeError(f"lookup of {cedula} failed")


class PlainBlockedScraper:
    def scrape_cedula(self, cedula: str) -> ScrapeResult:
        return ScrapeResult(status=ScrapeStatus.BLOCKED)


def test_a_plain_scrapers_exception_is_a_masked_network_error_naming_its_source() -> None:
    result = ask(PlainScraper(), "1234567890")
    assert result.status is ScrapeStatus.NETWORK_ERROR
    assert result.error.startswith("RuntimeError: lookup of ")
    assert "1234567890" not in result.error
    assert result.source == "plain"
    assert paused_sources(PlainScraper()) is None


def test_a_single_scrapers_block_pauses_every_source(settings: Any) -> None:
    settings.CEDULA_BLOCK_COOLDOWN = 900
    assert ask(PlainBlockedScraper(), "1234567890").status is ScrapeStatus.BLOCKED
    assert throttle.blocked_for() > 0


def test_a_chain_waits_on_the_pauses_of_its_own_sources(settings: Any) -> None:
    settings.CEDULA_SOURCES = sources(FIRST, SECOND)
    chain = get_scraper()
    assert paused_sources(chain) == ("first", "second")
    assert ask(chain, "1234567890").source == "first"
