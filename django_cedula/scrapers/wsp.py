"""Source A, the Registraduría's "wsp" census page (the production default)."""

from __future__ import annotations

import asyncio
import base64
import functools
from typing import Any

from playwright.async_api import Page

from ..results import ScrapeResult
from .browser import PAGE_HTML_JS, AnswerReading, BrowserScraper, Loaded
from .parsing import (
    MAX_ANSWER_BYTES,
    FormPage,
    ReloadRequested,
    oversized_answer,
    parse_wsp_response,
    wsp_asks_for_reload,
)
from .solving import WSP_URL, CaptchaSolve, decode_answer, wsp_form_problem

#: A page-side function (JavaScript source) that reads a ``fetch()`` answer's bytes, at most ``limit``
#: of them (after any ``Content-Encoding`` is undone): the reader is cancelled past the limit, so the
#: rest is neither downloaded, decompressed nor handed to Python, which reads them as text
#: (:func:`page_answer`). Shared by both sources.
READ_ANSWER_JS = """
async function readAnswer(answer, limit) {
    const chunks = [];
    let bytes = 0, truncated = false;
    const reader = answer.body ? answer.body.getReader() : null;
    while (reader) {
        const {done, value} = await reader.read();
        if (done) break;
        if (bytes + value.byteLength > limit) {
            chunks.push(value.subarray(0, limit - bytes));
            bytes = limit;
            truncated = true;
            try { await reader.cancel(); } catch (error) { /* the rest is dropped either way */ }
            break;
        }
        bytes += value.byteLength;
        chunks.push(value);
    }
    // The bytes go to Python (base64), which reads them in the charset the answer declares
    // (decode_answer), as the HTTP scrapers read theirs.
    let binary = "";
    for (const chunk of chunks) {
        for (let at = 0; at < chunk.length; at += 0x8000) {
            binary += String.fromCharCode.apply(null, chunk.subarray(at, at + 0x8000));
        }
    }
    return {
        status: answer.status, contentType: answer.headers.get("content-type"),
        retryAfter: answer.headers.get("retry-after"), data: btoa(binary), truncated, bytes,
    };
}
"""


def page_answer(answer: dict[str, Any]) -> dict[str, Any]:
    """What :data:`READ_ANSWER_JS` read, with its ``body`` as text in the charset the answer declares."""
    return {**answer, "body": decode_answer(base64.b64decode(answer["data"]), answer.get("contentType"))}


# The page's own script posts the form as multipart data with AJAX; this does the same from
# inside the page, so the session cookie and the origin are the page's. The answer is read up
# to ``limit`` bytes (``MAX_ANSWER_BYTES``).
_POST_FORM = (
    """
async ({url, fields, limit}) => {"""
    + READ_ANSWER_JS
    + """
    // The token also goes where Google's widget keeps it, as a solved checkbox would leave it.
    const response = document.getElementById("g-recaptcha-response");
    if (response) response.value = fields["g-recaptcha-response"];
    const data = new FormData();
    for (const [name, value] of Object.entries(fields)) data.append(name, value);
    const answer = await fetch(url, {
        method: "POST", body: data, credentials: "same-origin",
        headers: {"X-Requested-With": "XMLHttpRequest"},
    });
    return await readAnswer(answer, limit);
}
"""
)

# What the lookup needs from the loaded page, read in one round trip.
_READ_FORM = """
() => ({
    blockMarkers: document.querySelectorAll(".blocked, .authenticate").length,
    hasForm: !!document.querySelector("#nuip"),
    siteKey: document.querySelector("div.g-recaptcha")?.getAttribute("data-sitekey") || "",
    token: document.querySelector("#token")?.value || "",
})
"""


class WspScraper(BrowserScraper):
    """Looks a number up on the wsp census page with headless Chromium.

    Loads the form (retrying once when the GET answers 500), reads the per-load token and
    the reCAPTCHA site key from it (a page without ``#nuip`` or the site key is ``form_changed``,
    before any solve), starts the solve, fills ``#nuip`` and ``#tipo``, waits for the captcha
    token the solver was computing meanwhile, posts the form as the page's script does
    and reads the JSON answer. A ``reload`` answer gets a fresh page, token and solve,
    once, inside the same attempt.
    """

    source_name = "wsp"
    default_url = WSP_URL

    async def lookup(
        self, page: Page, url: str, cedula: str, captcha: CaptchaSolve
    ) -> ScrapeResult | AnswerReading:
        for attempt in (1, 2):
            form = await self.open_form(page, url)
            if isinstance(form, ScrapeResult):
                return form
            await captcha.begin(form["siteKey"], url)
            await page.fill("#nuip", cedula)
            await page.select_option("#tipo", self.election)
            captcha_token = await captcha.token()
            answer = await asyncio.wait_for(
                page.evaluate(
                    _POST_FORM,
                    {
                        "url": page.url,
                        "fields": {
                            "nuip": cedula,
                            "tipo": self.election,
                            "token": form["token"],
                            "g-recaptcha-response": captcha_token,
                        },
                        "limit": MAX_ANSWER_BYTES,
                    },
                ),
                timeout=self.page_timeout,
            )
            answer = page_answer(answer)
            if answer.get("truncated"):
                return oversized_answer(answer["body"])
            body, status = answer["body"], answer["status"]
            # Whether to reload is the JSON's to say, without its HTML; decoded off the loop too.
            if attempt == 1 and await asyncio.to_thread(wsp_asks_for_reload, body, http_status=status):
                captcha.restart(url)  # the token was spent on the refused submission
                continue
            return functools.partial(
                self._read_answer, body, status, answer["contentType"], answer.get("retryAfter"), cedula
            )
        raise AssertionError("unreachable")

    def _read_answer(
        self, body: str, http_status: int, content_type: str | None, retry_after: str | None, cedula: str
    ) -> ScrapeResult:
        """The wsp page's answer, read on the job's thread; a second request to reload ends the lookup
        (the first one was the loop's to act on)."""
        try:
            result = parse_wsp_response(
                body, http_status=http_status, content_type=content_type, cedula=cedula
            )
        except ReloadRequested as reload:
            return reload.result
        return self.failed_answer(result, http_status, retry_after=retry_after)

    async def open_form(self, page: Page, url: str) -> dict[str, Any] | ScrapeResult:
        """Load the form and read it; a result instead when the page ends the lookup."""
        loaded = Loaded(None)
        for _ in (1, 2):  # the site's GET occasionally answers 500 with a full page: retry once
            loaded = await self.goto(page, url)
            if loaded.status is None or loaded.status < 500:
                break
        if loaded.failed:
            return await self.failed_load(loaded, "the form page (retried once)")
        form: dict[str, Any] = await page.evaluate(_READ_FORM)
        # The same check as the HTTP scraper's, on what the page's DOM holds.
        problem = wsp_form_problem(
            FormPage(frozenset({"nuip"} if form["hasForm"] else ()), form["siteKey"], form["token"])
        )
        if form["blockMarkers"] or problem:
            # The rare paths: look at the page (its first MAX_ANSWER_BYTES characters) to say what it is.
            html: str = await page.evaluate(PAGE_HTML_JS, MAX_ANSWER_BYTES)
            failure = await self.page_failure(html, loaded, "the form page (retried once)")
            if failure is not None:
                return failure
            if problem:
                return self.form_changed(problem, html)
        return form
