"""The election-season source: the Registraduría's site of each election and its JSON API (infovotantes).

Around each election the Registraduría runs a site (``eleccionescolombia.registraduria.gov.co``) whose
page carries a reCAPTCHA v2 widget and whose script asks a JSON API on another host
(``apiweb-eleccionescolombia.infovotantes.com``) with the solved token as its Bearer credential. Peers
saw plain Python clients refused by that API while the page's own ``fetch()`` worked, so the lookup is
made from inside the page, in the browser, as the page's script makes it. Outside the season the hosts
have no DNS: the source is :attr:`~.base.BaseScraper.seasonal`, and the source health takes it out of
service after a run of lookups that got no answer at all, at no solve, until a free probe of the page
finds the season on again (``docs/elecciones.rst``).

The URLs below and the answer's shape are the best public knowledge, not verified against the live
site (no network where this was written): both URLs are options.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Any

from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from ..exceptions import ConfigurationError
from ..results import ScrapeResult
from .browser import PAGE_HTML_JS, AnswerReading, BrowserScraper, Loaded
from .parsing import MAX_ANSWER_BYTES, oversized_answer, parse_elecciones_response
from .solving import CaptchaSolve
from .wsp import READ_ANSWER_JS, page_answer

__all__ = ["ELECCIONES_API_URL", "ELECCIONES_URL", "EleccionesScraper"]

#: The election-season site's page with the captcha (unverified: the path peers' code loads).
ELECCIONES_URL = "https://eleccionescolombia.registraduria.gov.co/identificacion"
#: The API the page's script asks (unverified: the endpoint peers' code posts to).
ELECCIONES_API_URL = "https://apiweb-eleccionescolombia.infovotantes.com/api/v1/citizen/get-information"
#: The longest election code accepted (the ones seen are short words such as ``congreso``).
MAX_ELECTION_CODE = 100
#: Seconds at most a lookup waits for the page's script to render the captcha widget (its site key).
SITE_KEY_WAIT = 5.0

# The site key, wherever the page's script rendered the v2 widget; "" while there is none.
_SITE_KEY_JS = """
() => {
    const widget = document.querySelector(".g-recaptcha[data-sitekey], [data-sitekey]");
    return widget ? (widget.getAttribute("data-sitekey") || "").trim() : "";
}
"""

# Whether the page is ready to be read: its widget is there, or it is the firewall's block page.
_PAGE_READY_JS = (
    "() => !!((" + _SITE_KEY_JS.strip() + ")() || document.querySelector('.blocked, .authenticate'))"
)

# The lookup, from inside the page: JSON with the token as the Bearer credential, as the page's script
# asks it. The answer is read up to ``limit`` bytes (``MAX_ANSWER_BYTES``).
_POST_API = (
    """
async ({url, payload, token, limit}) => {"""
    + READ_ANSWER_JS
    + """
    const answer = await fetch(url, {
        method: "POST",
        headers: {
            "Content-Type": "application/json",
            "Accept": "application/json, text/plain, */*",
            "Authorization": "Bearer " + token,
        },
        body: JSON.stringify(payload),
    });
    return await readAnswer(answer, limit);
}
"""
)


class EleccionesScraper(BrowserScraper):
    """Looks a number up through the election-season API, from inside the season's page.

    Loads the page (a DNS failure, a refused connection or a 5xx there ends the lookup as a
    ``network_error`` before any solve), waits for its reCAPTCHA site key (none: ``form_changed``, no
    solve), solves, and posts ``{identification, identification_type: "CC", election_code,
    module: "polling_place", platform: "web"}`` to ``api_url`` with the token as
    ``Authorization: Bearer``. The answer is read by
    :func:`~django_cedula.scrapers.parsing.parse_elecciones_response`.

    Options: ``url`` (the season's page, default :data:`ELECCIONES_URL`), ``api_url`` (default
    :data:`ELECCIONES_API_URL`), ``election_code`` (required: the election the season's page names,
    such as ``"congreso"``), and :class:`~.browser.BrowserScraper`'s (``page_timeout``, ``proxy``,
    ``browser``...). Census sources' ``election`` option does not apply here.
    """

    source_name = "elecciones"
    seasonal = True
    default_url = ELECCIONES_URL

    def __init__(self, *, api_url: str | None = None, election_code: str = "", **options: Any) -> None:
        if "election" in options:
            raise ConfigurationError(
                "the election-season source takes election_code, not election",
                'Name the season\'s election, e.g. "election_code": "congreso".',
            )
        if api_url is not None and (
            not isinstance(api_url, str) or not api_url.startswith(("http://", "https://"))
        ):
            raise ConfigurationError("api_url must be an http:// or https:// URL", "Or leave it out.")
        if not isinstance(election_code, str) or not election_code.strip():
            raise ConfigurationError(
                "the election-season source needs its election_code",
                'Give the code of the election the season\'s page names, e.g. "election_code": "congreso" '
                "(read it from the page's election selector when the season opens).",
            )
        if len(election_code.strip()) > MAX_ELECTION_CODE:
            raise ConfigurationError(
                f"election_code is longer than {MAX_ELECTION_CODE} characters", "Give the code alone."
            )
        super().__init__(**options)
        self.api_url = api_url or ELECCIONES_API_URL
        self.election_code = election_code.strip()

    async def lookup(
        self, page: Page, url: str, cedula: str, captcha: CaptchaSolve
    ) -> ScrapeResult | AnswerReading:
        site_key = await self.open_form(page, url)
        if isinstance(site_key, ScrapeResult):
            return site_key
        await captcha.begin(site_key, url)
        token = await captcha.token()
        answer = await asyncio.wait_for(
            page.evaluate(
                _POST_API,
                {
                    "url": self.api_url,
                    "payload": {
                        "identification": cedula,
                        "identification_type": "CC",
                        "election_code": self.election_code,
                        "module": "polling_place",
                        "platform": "web",
                    },
                    "token": token,
                    "limit": MAX_ANSWER_BYTES,
                },
            ),
            timeout=self.page_timeout,
        )
        answer = page_answer(answer)
        if answer.get("truncated"):
            return oversized_answer(answer["body"])
        return functools.partial(
            self._read_answer, answer["body"], answer["status"], answer.get("retryAfter"), cedula
        )

    async def open_form(self, page: Page, url: str) -> str | ScrapeResult:
        """Load the season's page and wait (:data:`SITE_KEY_WAIT` at most) for its captcha widget: its
        site key, or the result that ends the lookup (no DNS or a gateway's 5xx out of season, a block,
        a page without the widget)."""
        loaded: Loaded = await self.goto(page, url)
        if loaded.failed:
            return await self.failed_load(loaded, "the season's page")
        if loaded.status is None or loaded.status < 400:
            # The page's script may render the widget after the document has loaded.
            wait = min(self.page_timeout, SITE_KEY_WAIT) * 1000
            with contextlib.suppress(PlaywrightTimeoutError):  # no widget: said below
                await page.wait_for_function(_PAGE_READY_JS, timeout=wait)
        site_key: str = await page.evaluate(_SITE_KEY_JS)
        if site_key and (loaded.status is None or loaded.status < 400):
            return site_key
        html: str = await page.evaluate(PAGE_HTML_JS, MAX_ANSWER_BYTES)
        failure = await self.page_failure(html, loaded, "the season's page")
        if failure is not None:
            return failure
        return self.form_changed("the season's page has no reCAPTCHA site key (data-sitekey)", html)

    def _read_answer(self, body: str, http_status: int, retry_after: str | None, cedula: str) -> ScrapeResult:
        """The API's answer, read on the job's thread."""
        result = parse_elecciones_response(body, http_status=http_status, cedula=cedula)
        return self.failed_answer(result, http_status, retry_after=retry_after)
