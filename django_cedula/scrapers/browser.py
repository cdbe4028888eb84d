"""What both browser scrapers share: the browser call and its error mapping, and where the markup a
lookup brings back is read (pacing and the captcha solve are :mod:`.solving`'s, shared with the
HTTP-only scrapers).

No markup is read on the browser's event loop. Reading takes time in proportion to the markup (up to
:data:`~.parsing.MAX_ANSWER_BYTES`), and a coroutine busy reading cannot be cancelled: a lookup
that timed out would leave the loop reading on, for every lookup of the process to wait behind. So
the source's answer comes back from the loop unread (an :data:`AnswerReading`) and is read on the
job's thread, and a page the lookup must look at before it goes on is read on a worker thread
(:meth:`BrowserScraper.page_failure`), which the loop awaits and a timeout stops waiting for.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias

from django.core.signals import setting_changed
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Request, Response
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from ..browser import (
    BrowserError,
    BrowserOptions,
    BrowserRuntime,
    BrowserTimeout,
    BrowserUnavailable,
    get_browser_runtime,
    reset_browser_runtime,
)
from ..conf import app_settings
from ..exceptions import CaptchaError, ConfigurationError
from ..privacy import redact
from ..results import ProbeResult, ScrapeResult, ScrapeStatus
from .solving import FORM_SAMPLE_CHARS, CaptchaSolve, SolvingScraper, probe_result

logger = logging.getLogger(__name__)

#: Settings that shape the browser itself; changing one restarts the process's browsers.
BROWSER_SETTINGS = frozenset({"CEDULA_SOURCES", "CEDULA_LOOKUP_TIMEOUT"})

#: Chromium's errors for a proxy that asks for credentials: none given (no ``proxy`` option, or one
#: without a username: the 407 may come from a proxy on the way that the settings do not name), or
#: those given refused. Each stands for the HTTP 407 it hides.
PROXY_AUTH_ERRORS = (
    "ERR_UNEXPECTED_PROXY_AUTH",
    "ERR_INVALID_AUTH_CREDENTIALS",
    "ERR_PROXY_AUTH_REQUESTED",
    "ERR_PROXY_AUTH_UNSUPPORTED",
)


@dataclasses.dataclass(frozen=True)
class Loaded:
    """What loading a page said (:meth:`BrowserScraper.goto`): its HTTP status (``None``: no answer
    over HTTP, such as ``about:blank``), its ``Retry-After``, and ``failed`` when Chromium showed its
    own error page instead of the answer (then only the status tells what happened)."""

    status: int | None
    retry_after: str | None = None
    failed: bool = False


#: The loaded page's HTML, at most ``limit`` characters of it (for telling a block page from the form).
PAGE_HTML_JS = """
(limit) => {
    const root = document.documentElement;
    return root ? root.outerHTML.slice(0, limit) : "";
}
"""


#: A source's answer, brought back from the browser's loop unread: :meth:`BrowserScraper.run_lookup`
#: calls it on the job's thread for the lookup's result.
AnswerReading: TypeAlias = Callable[[], ScrapeResult]


class BrowserScraper(SolvingScraper, abc.ABC):
    """A scraper that drives the process's headless Chromium (see :mod:`django_cedula.browser`).

    ``scrape_cedula`` is synchronous and does its browser work on the runtime's own thread
    and event loop, so the caller (a task worker using the ORM) never runs inside
    Playwright's loop. Every failure becomes a :class:`~django_cedula.results.ScrapeResult`
    with a transient status; nothing is raised.

    Besides the options of every source (:class:`~.solving.SolvingScraper`), ``browser``: a dict
    of ``executable``, ``headless``, ``args``, ``endpoint``, ``endpoint_headers`` and
    ``idle_timeout`` (see :mod:`django_cedula.browser`). Sources with equal browser options
    share one Chromium per process.
    """

    def __init__(self, *, browser: Mapping[str, Any] | None = None, **options: Any) -> None:
        super().__init__(**options)
        if browser is not None and not isinstance(browser, Mapping):
            raise ConfigurationError("browser must be a dict", "For example {'headless': True}.")
        #: What this source's Chromium is launched with.
        self.browser_options = BrowserOptions.from_options(
            browser, proxy=self.proxy, user_agent=self.user_agent, page_timeout=self.page_timeout
        )

    @property
    def runtime(self) -> BrowserRuntime:
        """The process's browser runtime for :attr:`browser_options`."""
        return get_browser_runtime(self.browser_options)

    def run_lookup(self, url: str, cedula: str, captcha: CaptchaSolve) -> ScrapeResult:
        return self._run(lambda page: self._guarded_lookup(page, url, cedula, captcha), cedula)

    def probe(self) -> ProbeResult:
        """Load the form page in the browser and check its shape exactly as a lookup does
        (:meth:`open_form`); no solve, no post.

        The browser rather than a plain HTTP GET: the probe then reaches the site as the lookups do
        (Chromium's TLS and headers, the same proxy and User-Agent), so that a firewall that lets the
        browser through but refuses other clients does not make a healthy source look blocked, and
        the shape is read from the page as the lookups read it. It costs a page of the process's
        browser (started if it is not running). From a plain thread; nothing runs on the caller's loop.
        """
        url = self.url
        seen: list[str] = []

        async def look(page: Page) -> ScrapeResult:
            opened = await self.open_form(page, url)
            if isinstance(opened, ScrapeResult):
                return opened
            seen.append(await page.evaluate(PAGE_HTML_JS, FORM_SAMPLE_CHARS))
            return ScrapeResult(status=ScrapeStatus.FOUND)  # the shape is right: nothing to say

        try:
            result = self._run(lambda page: self._guarded(page, look, None), None)
        except ConfigurationError as exc:  # a proxy's 407: the probe cannot tell anything of the source
            return ProbeResult(ok=False, status=ScrapeStatus.NETWORK_ERROR, detail=str(exc))
        if result.status is ScrapeStatus.FOUND:
            return probe_result(None, seen[0] if seen else "")
        return probe_result(result)

    def _run(
        self, work: Callable[[Page], Awaitable[ScrapeResult | AnswerReading]], cedula: str | None
    ) -> ScrapeResult:
        """Run ``work`` on a fresh page of the runtime, the browser's failures turned into results."""
        try:
            outcome = self.runtime.run_page(work, timeout=app_settings.LOOKUP_TIMEOUT)
            # The answer is read here, on the job's thread, once the browser is done with the page.
            return outcome if isinstance(outcome, ScrapeResult) else outcome()
        except BrowserTimeout:
            return ScrapeResult(
                status=ScrapeStatus.TIMEOUT,
                error=f"the lookup took longer than {app_settings.LOOKUP_TIMEOUT:g} s",
            )
        except BrowserUnavailable as exc:
            return ScrapeResult(status=ScrapeStatus.NETWORK_ERROR, error=f"no browser: {redact(exc, cedula)}")
        except BrowserError as exc:
            # Its text may quote the endpoint (token and all) or a proxy URL: it is stored and shown.
            return ScrapeResult(
                status=ScrapeStatus.NETWORK_ERROR, error=f"browser failure: {redact(exc, cedula)}"
            )

    async def _guarded_lookup(
        self, page: Page, url: str, cedula: str, captcha: CaptchaSolve
    ) -> ScrapeResult | AnswerReading:
        """Run :meth:`lookup`, turning Playwright's and the solver's errors into results."""
        return await self._guarded(page, lambda page: self.lookup(page, url, cedula, captcha), cedula)

    async def _guarded(
        self,
        page: Page,
        work: Callable[[Page], Awaitable[ScrapeResult | AnswerReading]],
        cedula: str | None,
    ) -> ScrapeResult | AnswerReading:
        """Run ``work`` on ``page``, turning Playwright's and the solver's errors into results."""
        # A fetch() that meets a proxy's 407 fails without a status (the page's script sees "Failed to
        # fetch"): Chromium's reason, on the failed request, is what tells it from a network error.
        proxy_auth: list[str] = []

        def note_proxy_auth(request: Request) -> None:
            if any(code in (request.failure or "") for code in PROXY_AUTH_ERRORS):
                proxy_auth.append(request.url)

        page.on("requestfailed", note_proxy_auth)
        try:
            return await work(page)
        except PlaywrightTimeoutError as exc:
            return ScrapeResult(status=ScrapeStatus.TIMEOUT, error=_first_line(exc, cedula))
        except asyncio.TimeoutError:
            return ScrapeResult(
                status=ScrapeStatus.TIMEOUT,
                error=f"the source did not answer within {self.page_timeout:g} s",
            )
        except CaptchaError as exc:
            return ScrapeResult(
                status=ScrapeStatus.CAPTCHA_FAILED, error=f"captcha not solved: {redact(exc, cedula)}"
            )
        except PlaywrightError as exc:
            if "Target" in type(exc).__name__ or "has been closed" in str(exc):
                raise  # the browser died: let the runtime notice and relaunch it next time
            if proxy_auth:
                raise self.proxy_refused("the lookup's answer") from None
            return ScrapeResult(status=ScrapeStatus.NETWORK_ERROR, error=_first_line(exc, cedula))
        finally:
            page.remove_listener("requestfailed", note_proxy_auth)

    @abc.abstractmethod
    async def open_form(self, page: Page, url: str) -> Any:
        """Load the form page at ``url`` in ``page`` and check its shape: what the lookup needs from it,
        or the result that ends the lookup (blocked, page moved, ``form_changed``...). No solve: a
        lookup starts its solve after this, and :meth:`probe` stops here. On the browser's loop."""

    @abc.abstractmethod
    async def lookup(
        self, page: Page, url: str, cedula: str, captcha: CaptchaSolve
    ) -> ScrapeResult | AnswerReading:
        """Look ``cedula`` up on ``page`` (fresh context): a result, or the source's answer to be read
        on the job's thread. Runs on the browser's event loop: no ORM here, and no reading of markup
        (see the module's docstring)."""

    async def goto(self, page: Page, url: str) -> Loaded:
        """Load ``url`` in ``page`` (until ``domcontentloaded``) and say what HTTP status it came with.

        Chromium puts its own error page in place of some answers, and ``goto`` then raises: a 4xx or
        5xx without a body (``ERR_HTTP_RESPONSE_CODE_FAILURE``), a proxy's 407. The status is read
        from the navigation's response as it arrived, so that it means what it means on the HTTP
        scrapers; a 407 that never reaches the page is known by Chromium's error alone.
        """
        arrived: list[Response] = []

        def keep(response: Response) -> None:
            if response.request.is_navigation_request() and response.frame == page.main_frame:
                arrived.append(response)

        page.on("response", keep)
        try:
            response = await page.goto(url, wait_until="domcontentloaded")
        except PlaywrightTimeoutError:
            raise
        except PlaywrightError as exc:
            if arrived and arrived[-1].status >= 400:
                last = arrived[-1]
                return Loaded(last.status, last.headers.get("retry-after"), failed=True)
            if any(code in str(exc) for code in PROXY_AUTH_ERRORS):
                return Loaded(407, failed=True)
            raise
        finally:
            page.remove_listener("response", keep)
        if response is None:
            return Loaded(None)
        return Loaded(response.status, response.headers.get("retry-after"))

    async def page_failure(self, html: str, loaded: Loaded, page_name: str) -> ScrapeResult | None:
        """The result for a loaded page that cannot serve a lookup (:meth:`SolvingScraper.failed_page`),
        read on a worker thread: the loop stays free, and a lookup that times out meanwhile ends on time."""
        return await asyncio.to_thread(
            self.failed_page, html, loaded.status, page_name, retry_after=loaded.retry_after
        )

    async def failed_load(self, loaded: Loaded, page_name: str) -> ScrapeResult:
        """The result when Chromium showed its own error page instead of the answer (``loaded.failed``):
        what the HTTP status says."""
        return await self.page_failure("", loaded, page_name) or ScrapeResult(
            status=ScrapeStatus.NETWORK_ERROR, error=f"{page_name} answered HTTP {loaded.status}"
        )

    def prepare(self) -> None:
        """Start the browser (and its page for the next lookup) if it is not running yet."""
        runtime = self.runtime
        if runtime.is_browser_running():
            return
        try:
            runtime.run_page(_nothing, timeout=app_settings.LOOKUP_TIMEOUT)
        except BrowserError as exc:
            # The lookup itself will meet the same problem and report it as its result.
            logger.warning("Could not start the browser ahead of a lookup: %s", _first_line(exc))


async def _nothing(page: Page) -> None:
    return None


def _first_line(exc: BaseException, cedula: str | None = None) -> str:
    """The first line of ``exc``'s text, cleaned (:func:`~django_cedula.privacy.redact`), for a result.

    Cleaned before it is cut: a cut through a URL could leave a password without the ``@`` that
    marks it, or a number too short to be masked.
    """
    return (redact(exc, cedula).strip().splitlines() or [type(exc).__name__])[0][:300]


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in BROWSER_SETTINGS:
        reset_browser_runtime()


setting_changed.connect(_on_setting_changed, dispatch_uid="django_cedula.scrapers.browser.setting_changed")
