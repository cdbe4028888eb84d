"""Source A, the Registraduría's "wsp" census page (placeholder until the browser scraper lands)."""

from __future__ import annotations

from ..results import ScrapeResult, ScrapeStatus
from .base import BaseScraper

DEFAULT_URL = "https://wsp.registraduria.gov.co/censo/consultar/"


class WspScraper(BaseScraper):
    """Looks a number up on the wsp page. Not implemented yet: every lookup is a network error."""

    def scrape_cedula(self, cedula: str) -> ScrapeResult:
        return ScrapeResult(status=ScrapeStatus.NETWORK_ERROR, error="the wsp scraper is not implemented yet")
