"""Source B, the Registraduría's "consultacenso" single-page app and its JSON API."""

from __future__ import annotations

import asyncio
import functools
from urllib.parse import urljoin

from playwright.async_api import Page

from ..results import ScrapeResult, ScrapeStatus
from .browser import PAGE_HTML_JS, AnswerReading, BrowserScraper, Loaded
from .parsing import MAX_ANSWER_BYTES, oversized_answer, parse_consultacenso_response, read_form_page
from .solving import CENSO_URL, CaptchaSolve, api_base, asks_for_reload, censo_form_problem, election_id
from .wsp import READ_ANSWER_JS, page_answer

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

    The app's page is checked before any solve (its ``#documento`` field, its site key, the API its
    script posts to): a page without them is ``form_changed``.

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
            site_key = await self.open_form(page, url)
            if isinstance(site_key, ScrapeResult):
                return site_key
            await captcha.begin(site_key, url)
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

    async def open_form(self, page: Page, url: str) -> str | ScrapeResult:
        """Load the app's page and check it has what a lookup needs
        (:func:`~.solving.censo_form_problem`, read off the loop): its site key, or the result that ends
        the lookup."""
        loaded: Loaded = await self.goto(page, url)
        if loaded.failed:
            return await self.failed_load(loaded, "the app's page")
        html: str = await page.evaluate(PAGE_HTML_JS, MAX_ANSWER_BYTES)
        failure = await self.page_failure(html, loaded, "the app's page")
        if failure is not None:
            return failure
        form = await asyncio.to_thread(read_form_page, html)
        problem = await asyncio.to_thread(censo_form_problem, form, html, page.url)
        if problem:
            return self.form_changed(problem, html)
        return form.site_key

    def _read_answer(self, body: str, http_status: int, retry_after: str | None, cedula: str) -> ScrapeResult:
        """The app's answer, read on the job's thread."""
        result = parse_consultacenso_response(body, http_status=http_status, cedula=cedula)
        return self.failed_answer(result, http_status, retry_after=retry_after)
