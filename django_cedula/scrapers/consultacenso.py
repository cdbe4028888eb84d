"""Source B, the Registraduría's "consultacenso" single-page app and its JSON API."""

from __future__ import annotations

import asyncio
import functools
from urllib.parse import urljoin

from playwright.async_api import Page

from ..results import ScrapeResult, ScrapeStatus
from .browser import AnswerReading, BrowserScraper
from .parsing import MAX_ANSWER_BYTES, oversized_answer, parse_consultacenso_response
from .solving import CENSO_URL, CaptchaSolve, api_base, asks_for_reload, election_id
from .wsp import PAGE_HTML_JS, READ_ANSWER_JS, page_answer

__all__ = ["ConsultaCensoScraper"]

# The app's lookup, from inside its page; the answer is read up to ``limit`` bytes (``MAX_ANSWER_BYTES``).
_POST_JSON = (
    """
async ({url, payload, limit}) => {"""
    + READ_ANSWER_JS
    + """
    const answer = await fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json"},
        body: JSON.stringify(payload),
    });
    return await readAnswer(answer, limit);
}
"""
)


class ConsultaCensoScraper(BrowserScraper):
    """Looks a number up through the consultacenso app's JSON API, from inside its page.

    Select it with an entry ``{"BACKEND": "django_cedula.scrapers.consultacenso.ConsultaCensoScraper"}``
    of ``CEDULA_SOURCES``; its options are :class:`~.browser.BrowserScraper`'s. Same result contract
    as :class:`~django_cedula.scrapers.wsp.WspScraper`.
    """

    source_name = "consultacenso"
    default_url = CENSO_URL

    async def lookup(
        self, page: Page, url: str, cedula: str, captcha: CaptchaSolve
    ) -> ScrapeResult | AnswerReading:
        for attempt in (1, 2):
            loaded = await self.goto(page, url)
            if loaded.failed:
                return await self.failed_load(loaded, "the app's page")
            html: str = await page.evaluate(PAGE_HTML_JS, MAX_ANSWER_BYTES)
            failure = await self.page_failure(html, loaded, "the app's page")
            if failure is not None:
                return failure
            site_key = await page.get_attribute(".g-recaptcha", "data-sitekey")
            if not site_key:
                return ScrapeResult(
                    status=ScrapeStatus.PARSE_ERROR,
                    error="the page has no reCAPTCHA site key",
                    raw_html=html[:2000],
                )
            self.remember_site_key(site_key)
            captcha.start(site_key, url)
            await page.fill("#documento", cedula)
            token = await captcha.token()
            answer = await asyncio.wait_for(
                page.evaluate(
                    _POST_JSON,
                    {
                        "url": urljoin(api_base(page.url), "consulta"),
                        "payload": {
                            "documento": cedula,
                            "eleccionId": election_id(self.election),
                            "captchaToken": token,
                        },
                        "limit": MAX_ANSWER_BYTES,
                    },
                ),
                timeout=self.page_timeout,
            )
            answer = page_answer(answer)
            if answer.get("truncated"):
                return oversized_answer(answer["body"])
            # Decoded off the loop, as the answer is read (on the job's thread; see .browser).
            if attempt == 1 and await asyncio.to_thread(asks_for_reload, answer["body"]):
                captcha.restart(url)
                continue
            return functools.partial(
                self._read_answer, answer["body"], answer["status"], answer.get("retryAfter"), cedula
            )
        return ScrapeResult(status=ScrapeStatus.NETWORK_ERROR, error="the app asked for a reload twice")

    def _read_answer(self, body: str, http_status: int, retry_after: str | None, cedula: str) -> ScrapeResult:
        """The app's answer, read on the job's thread."""
        result = parse_consultacenso_response(body, http_status=http_status, cedula=cedula)
        return self.failed_answer(result, http_status, retry_after=retry_after)
