"""What every scraper that meets a captcha shares, browser or not: the lookup's tokens
(:class:`CaptchaSolve`), the pause between a worker's lookups, the solve threads, the result for a
page that cannot serve a lookup, the check of a form page's shape (:func:`wsp_form_problem`,
:func:`censo_form_problem`: what :meth:`SolvingScraper.probe` and every lookup look at before any
solve); and what a lookup needs to know about each source (the production URLs, the consultacenso
app's API base, election numbering and "reload" answer).

Browser-free, so that the HTTP-only scrapers do not import Playwright:
:class:`~.browser.BrowserScraper` (Chromium) and :class:`~.http.HttpScraper` (plain HTTP) both
stand on :class:`SolvingScraper`, so that the token supply's rules (the oldest good token, a
recheck while the lookup's own solve runs, an unused own token given to the supply) live in one
place.
"""

from __future__ import annotations

import abc
import asyncio
import codecs
import concurrent.futures
import dataclasses
import datetime
import email.utils
import json
import logging
import re
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from ..captcha import CaptchaSolver, SolvedToken, get_captcha_solver, spend
from ..captcha.base import checked_token
from ..captcha.supply import TokenSupply, get_token_supply
from ..conf import app_settings
from ..exceptions import CaptchaError, ConfigurationError
from ..proxies import ProxyError, parse_proxy_value
from ..results import ProbeResult, ScrapeResult, ScrapeStatus
from .base import BaseScraper
from .parsing import MAX_ANSWER_BYTES, FormPage, is_block_page

logger = logging.getLogger(__name__)


#: Source A, the "wsp" census page (the production default).
WSP_URL = "https://wsp.registraduria.gov.co/censo/consultar/"
#: Source B, the "consultacenso" single-page app.
CENSO_URL = "https://consultacenso.registraduria.gov.co/"


def api_base(page_url: str) -> str:
    """The API's base URL for the app served at ``page_url`` (``.../consultar/`` serves it too)."""
    base = page_url if page_url.endswith("/") else page_url + "/"
    if base.endswith("/consultar/"):
        base = base[: -len("consultar/")]
    return urljoin(base, "back/api/")


def election_id(election: str) -> int:
    """Source B numbers elections from 0 (the current voting place); Source A's "-1" means the same."""
    return max(int(election), 0)


def _is_election(value: str | int) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True


#: What every refused proxy value's hint says.
PROXY_HINT = (
    "Give a URL such as http://user:password@host:3128 (percent-encode / # ? @ : [ ] in the "
    "credentials) or a dict {'server': ..., 'username': ..., 'password': ...}."
)


def asks_for_reload(body: str) -> bool:
    """Whether a consultacenso answer asks the app to reload its page (``{"reload": true}``)."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # the parser says what an unreadable answer is
        return False
    return isinstance(payload, dict) and any(k.lower() == "reload" and v for k, v in payload.items())


#: Seconds between two looks at the supply while a lookup's own solve runs.
SUPPLY_RECHECK = 0.5

#: How much of a form page a ``form_changed`` result or a probe keeps (their ``raw_html``): enough of
#: the page for a maintainer to see what replaced the form.
FORM_SAMPLE_CHARS = 20_000

# A quoted path in a page's markup or inline script that names an API (``"/consultacenso/back/api/"``,
# ``'api/v2/consulta'``): what the consultacenso app's script posts to. ``api.js`` (Google's script) and
# ``?api=1`` (a map link) are not, having no ``api/``. Each quote starts at most one scan up to the next
# quote, so the search is linear in the page's length.
_API_PATH = re.compile(r"""["']([^"'\s<>]{0,300}?\bapi/[^"'\s<>]{0,300})["']""")


def wsp_form_problem(form: FormPage) -> str | None:
    """What the wsp form page lacks that a lookup needs (``None``: nothing), as a ``form_changed``
    result says it: the ``#nuip`` field, the reCAPTCHA site key (``div.g-recaptcha[data-sitekey]``)."""
    if not form.has("nuip"):
        return "the form page has no #nuip field"
    if not form.site_key:
        return "the form page has no reCAPTCHA site key"
    return None


def censo_form_problem(form: FormPage, html: str, page_url: str) -> str | None:
    """What the consultacenso app's page lacks that a lookup needs (``None``: nothing): the
    ``#documento`` field, the reCAPTCHA site key, and the API the scraper posts to
    (:func:`api_base` of the page's URL). The app's script may live in a file of its own, so a page
    that names no API path passes; one that names API paths of its own host, none of them the
    expected one, has moved its endpoint."""
    if not form.has("documento"):
        return "the form page has no #documento field"
    if not form.site_key:
        return "the form page has no reCAPTCHA site key"
    expected = api_base(page_url)
    origin = urlsplit(expected)[:2]
    named = []
    for match in _API_PATH.finditer(html[:MAX_ANSWER_BYTES]):
        path = urljoin(page_url, match.group(1))
        if urlsplit(path)[:2] == origin:
            named.append(path)
    if named and not any(path.startswith(expected) for path in named):
        seen = urlsplit(named[0]).path[:100]
        return f"the form page's script names no API at {urlsplit(expected).path} (it names {seen})"
    return None


def probe_result(failure: ScrapeResult | None, html: str = "") -> ProbeResult:
    """A probe's verdict from what the form's check returned: ``None`` (the shape is right), or the
    result a lookup would have ended with (``form_changed``, ``blocked``, ``page_moved``...)."""
    if failure is None:
        return ProbeResult(ok=True, raw_html=html[:FORM_SAMPLE_CHARS])
    return ProbeResult(
        ok=False,
        status=failure.status,
        detail=failure.error,
        raw_html=(failure.raw_html or html)[:FORM_SAMPLE_CHARS],
    )


class CaptchaSolve:
    """The reCAPTCHA token(s) of one lookup: from the cluster's token supply when it has one ready,
    otherwise from a solve of the lookup's own, running on a plain thread while the browser loads
    and fills the page.

    Solving services take tens of seconds, far longer than the browser work. No solve starts before
    the form page has been loaded and found to have the shape the lookup needs (:meth:`begin`, with
    the site key read from that page): a changed form costs no solve. With a supply
    (:mod:`django_cedula.captcha.supply`) the token is taken at the moment the form is posted, the
    oldest still good; an own solve starts only when the supply is empty once the form is checked,
    or at posting time. An own token the lookup did not need, because the supply had one after all,
    goes to the supply for the next lookup.
    """

    def __init__(
        self,
        solver: CaptchaSolver,
        executor: concurrent.futures.Executor,
        *,
        deadline: float | None = None,
        supply: TokenSupply | None = None,
    ) -> None:
        self.solver = solver
        self.executor = executor
        self.supply = supply
        #: ``time.monotonic()`` when the lookup times out; by default ``CEDULA_LOOKUP_TIMEOUT``
        #: from now, the lookup being created with its solve.
        self.deadline = time.monotonic() + app_settings.LOOKUP_TIMEOUT if deadline is None else deadline
        self.site_key: str | None = None
        self.page_url = ""
        self.future: concurrent.futures.Future[SolvedToken] | None = None
        #: The ``ref`` of every token handed to a submission, in order (for reports).
        self.used: list[str] = []

    def time_left(self) -> float:
        return max(self.deadline - time.monotonic(), 0.0)

    def start(self, site_key: str, page_url: str) -> None:
        """Get ready to give a token for ``site_key``: an own solve, unless the supply has stock or a
        solve for it is already under way. Called from the job's thread or the browser's loop: it
        touches no database (the supply's stock is read from the cache on a plain thread later)."""
        if self.site_key == site_key and (self.future is not None or self.supply is not None):
            return
        if self.future is not None:
            self.future.cancel()
            self.future = None
        self.site_key, self.page_url = site_key, page_url
        if self.supply is None:
            self._start_own()

    async def begin(self, site_key: str, page_url: str) -> None:
        """The form page has been checked: get the token for its ``site_key`` under way, so that the
        solve overlaps what page work remains (filling the form, the election list). From the lookup's
        event loop; the supply's stock is read on a plain thread (:meth:`prefetch`)."""
        self.start(site_key, page_url)
        if self.supply is not None and self.future is None:
            await asyncio.get_running_loop().run_in_executor(None, self.prefetch)

    def prefetch(self) -> None:
        """With a supply: start an own solve now if the supply has nothing ready for this lookup
        (call from a plain thread, once the form is checked, so the solve overlaps the page work left)."""
        if (
            self.supply is not None
            and self.site_key
            and self.future is None
            and self.supply.available(self.site_key, self.page_url) == 0
        ):
            self._start_own()

    def _start_own(self) -> None:
        assert self.site_key is not None
        spend.count("requested")
        # A token that comes after the lookup has timed out is of no use, and a solve that runs on
        # past it holds one of the scraper's two solve threads from the next lookups.
        self.future = self.executor.submit(self._solve, self.site_key, self.page_url)

    def _solve(self, site_key: str, page_url: str) -> SolvedToken:
        # The time left is measured when the thread starts the solve, not when it was queued.
        try:
            token = self.solver.solve_token(site_key, page_url, timeout=self.time_left())
            # A broken solver's answer (megabytes, or no text at all) is a failed solve: never
            # posted to the source, never given to the supply.
            checked_token(token.value)
        except BaseException:
            spend.count("failed")
            raise
        spend.count("delivered")
        return token

    def restart(self, page_url: str) -> None:
        """Forget the token just spent (a token is good for one submission only): the next one is got
        by :meth:`begin` once the reloaded page has been checked, so that a page that changed on reload
        costs no solve either."""
        self.site_key = None
        self.future = None
        self.page_url = page_url

    async def token(self) -> str:
        """The token for the submission about to be made, without blocking the browser's loop.

        With a supply: the oldest token still good; if there is none, an own solve starts (unless one
        runs already) and, while it runs, the supply is asked again every
        :data:`SUPPLY_RECHECK` seconds: whichever token comes first is sent, and an own token that
        comes later goes to the supply. A lookup never sits out a whole solve while tokens arrive.
        """
        if self.site_key is None:
            raise CaptchaError("the page carries no reCAPTCHA site key")
        if self.supply is not None:
            pooled = await self._take_pooled()
            if pooled is not None:
                return pooled
        if self.future is None:
            self._start_own()
        assert self.future is not None
        own = asyncio.wrap_future(self.future)
        # If the supply serves this submission, nobody awaits the own solve: read its outcome
        # anyway, so that a failed solve is not reported as an exception never retrieved.
        own.add_done_callback(lambda done: done.cancelled() or done.exception())
        while self.supply is not None:
            done, _ = await asyncio.wait({own}, timeout=SUPPLY_RECHECK)
            if done:
                break
            pooled = await self._take_pooled()
            if pooled is not None:
                return pooled  # the own solve, still running, was given to the supply
        self.future = None
        solved = await own
        spend.count("used")
        self.used.append(solved.ref)
        return solved.value

    async def _take_pooled(self) -> str | None:
        """A token from the supply, or ``None``. The cache may be the database's: it is read on a
        plain thread, never on the event loop."""
        assert self.supply is not None
        assert self.site_key is not None
        pooled = await asyncio.get_running_loop().run_in_executor(
            None, self.supply.take, self.site_key, self.page_url
        )
        if pooled is None:
            return None
        logger.info("Captcha token from the shared supply (solved %.0f s ago)", pooled.age())
        self._donate_own()
        self.used.append(pooled.ref)
        return pooled.value

    def _donate_own(self) -> None:
        """The supply served this submission: an own solve under way goes to the supply when done."""
        future, self.future = self.future, None
        supply, site_key, page_url = self.supply, self.site_key, self.page_url
        if future is None or supply is None or site_key is None:
            return

        def donate(done: concurrent.futures.Future[SolvedToken]) -> None:
            if done.cancelled() or done.exception() is not None:
                return
            try:
                supply.donate(site_key, page_url, done.result())
            except Exception as exc:  # the cache failing: the token is lost, the lookup is not
                logger.warning("Could not give an unused token to the supply: %s", type(exc).__name__)

        future.add_done_callback(donate)

    def report(self, result: ScrapeResult) -> None:
        """Tell the solver how the site took the tokens this lookup sent (from a plain thread).

        Every token but the last was refused (the site asked for a new one). The last was refused if
        the lookup ended ``token_refused`` (the site said so), accepted if the site gave an answer.
        ``captcha_failed`` is our side's failure (no solver, a failed solve): the token that failed was
        never posted nor recorded here, and any token recorded before it was answered with a reload,
        so every recorded one counts as refused."""
        if not self.used:
            return
        last_refused = result.status in (ScrapeStatus.TOKEN_REFUSED, ScrapeStatus.CAPTCHA_FAILED)
        verdicts = [False] * (len(self.used) - 1) + [not last_refused]
        spend.count("refused", verdicts.count(False))
        if not self.solver.supports_reports:
            return
        for ref, accepted in zip(self.used, verdicts, strict=True):
            if ref and (not accepted or result.status.is_final):
                self.executor.submit(self.solver.report, ref, accepted=accepted)

    def cancel(self) -> None:
        if self.future is not None:
            if self.supply is not None:
                self._donate_own()  # a paid solve still in flight: let the next lookup have it
            else:
                self.future.cancel()


class SolvingScraper(BaseScraper, abc.ABC):
    """A scraper whose lookups need a reCAPTCHA token: the solve threads, pacing and the site key.

    :meth:`scrape_cedula` is the frame of every lookup: :meth:`begin_lookup` (a
    :class:`CaptchaSolve`, or the result when no solver is configured), the subclass's
    :meth:`run_lookup` on its own client, and :meth:`end_lookup` with the solve and the result
    whatever happened. The subclass loads the form page, checks its shape and only then starts the
    solve (:meth:`CaptchaSolve.begin`): a page without what the lookup needs ends it
    ``form_changed``, at no cost. :meth:`probe` runs the same load and check alone: a GET, no solve,
    no post.

    Options (the ``OPTIONS`` of an entry of ``CEDULA_SOURCES``), each refused by name when wrong:

    - ``url``: the source's page (default: the production page, :attr:`default_url`);
    - ``election``: the value of the page's election selector, ``"-1"`` (the default) being the
      current voting place;
    - ``page_timeout``: seconds for each page action and answer (default 30);
    - ``proxy``: a proxy URL or ``{"server", "username", "password", "bypass"}`` (default none);
    - ``user_agent``: the User-Agent to send (default: the client's own).
    """

    #: The production URL, used when the ``url`` option is not set.
    default_url: str = ""

    def __init__(
        self,
        *,
        url: str | None = None,
        election: str | int = "-1",
        page_timeout: float = 30.0,
        proxy: str | Mapping[str, str] | None = None,
        user_agent: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
            raise ConfigurationError("url must be an http:// or https:// URL", "Give the source page's URL.")
        if isinstance(election, bool) or not isinstance(election, (str, int)) or not _is_election(election):
            raise ConfigurationError(
                'election must be a whole number, as text or not ("-1": the current voting place)',
                'Give the value of the page\'s election selector, e.g. "-1".',
            )
        if isinstance(page_timeout, bool) or not isinstance(page_timeout, (int, float)):
            raise ConfigurationError("page_timeout must be a number of seconds", "For example 30.")
        if not 0 < page_timeout < float("inf"):
            raise ConfigurationError("page_timeout must be more than 0 and finite", "For example 30.")
        if user_agent is not None and (not isinstance(user_agent, str) or not user_agent.strip()):
            raise ConfigurationError("user_agent must be a non-empty string", "Or leave it out.")
        if proxy is not None:
            try:
                parse_proxy_value(proxy)
            except ProxyError as exc:
                raise ConfigurationError(f"proxy: {exc}", PROXY_HINT) from None
        self._url = url
        self.election = str(election).strip()
        self.page_timeout = float(page_timeout)
        self.proxy = proxy
        self.user_agent = user_agent
        # Solves run beside the page work: at most one per lookup, plus one after a reload.
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="cedula-captcha"
        )
        self._last_lookup = 0.0
        self._pace_lock = threading.Lock()

    @property
    def url(self) -> str:
        return self._url or self.default_url

    def scrape_cedula(self, cedula: str) -> ScrapeResult:
        url = self.url
        captcha = self.begin_lookup(url)
        if isinstance(captcha, ScrapeResult):
            return captcha
        result: ScrapeResult | None = None
        try:
            result = self.run_lookup(url, cedula, captcha)
            return result
        finally:
            self.end_lookup(captcha, result)

    @abc.abstractmethod
    def run_lookup(self, url: str, cedula: str, captcha: CaptchaSolve) -> ScrapeResult:
        """Look ``cedula`` up at ``url`` on this scraper's client (from a plain thread), its
        failures turned into results."""

    @abc.abstractmethod
    def probe(self) -> ProbeResult:
        """Load the form page (a GET, as a lookup loads it) and check its shape exactly as a lookup
        does; never solve, never post. From a plain thread (a sweep): no ORM, no event loop of the
        caller's. Not paced and not counted in the pacing: it is no lookup."""

    def begin_lookup(self, url: str) -> CaptchaSolve | ScrapeResult:
        """The lookup's :class:`CaptchaSolve`, after the pause between this worker's lookups; a
        ``captcha_failed`` result instead, at once and without traffic, when no solver is configured.
        No solve starts here: the subclass starts it once the form page has been checked
        (:meth:`CaptchaSolve.begin`). Call from a plain thread."""
        solver = get_captcha_solver()
        if solver is None:
            return ScrapeResult(status=ScrapeStatus.CAPTCHA_FAILED, error="no captcha solver is configured")
        captcha = CaptchaSolve(
            solver,
            self._executor,
            deadline=time.monotonic() + app_settings.LOOKUP_TIMEOUT + self._pace_wait(),
            supply=get_token_supply(),
        )
        self._pace()
        # Pacing counts from the start of this worker's previous lookup: a request every
        # CEDULA_MIN_LOOKUP_INTERVAL seconds, whatever the page took.
        self._last_lookup = time.monotonic()
        return captcha

    @staticmethod
    def end_lookup(captcha: CaptchaSolve, result: ScrapeResult | None) -> None:
        """After the lookup (from a plain thread): an own solve still running goes to the supply or
        is cancelled, and the solver hears how the site took the tokens sent."""
        captcha.cancel()
        if result is not None:
            captcha.report(result)

    def failed_page(
        self, html: str, http_status: int | None, page_name: str, *, retry_after: str | None = None
    ) -> ScrapeResult | None:
        """The result for a loaded page that cannot serve a lookup, by what it shows and what its HTTP
        status says: the firewall's block page, 403 and 429 (its ``Retry-After`` quoted) are
        ``blocked``, 404 and 410 ``page_moved``, a 5xx ``network_error``; ``None`` for any other.
        A 407 raises :meth:`proxy_refused`'s configuration error."""
        if http_status == 407:
            raise self.proxy_refused(page_name)
        if is_block_page(html):
            return ScrapeResult(status=ScrapeStatus.BLOCKED, error="the firewall's block page", raw_html=html)
        if http_status == 403:
            return ScrapeResult(
                status=ScrapeStatus.BLOCKED, error=f"{page_name} answered HTTP 403", raw_html=html[:2000]
            )
        if http_status == 429:
            return ScrapeResult(
                status=ScrapeStatus.BLOCKED,
                error=too_many_requests(page_name, retry_after),
                raw_html=html[:2000],
            )
        if http_status in MOVED_STATUSES:
            return ScrapeResult(
                status=ScrapeStatus.PAGE_MOVED, error=page_moved(page_name, http_status), raw_html=html[:2000]
            )
        if http_status is not None and http_status >= 500:
            return ScrapeResult(
                status=ScrapeStatus.NETWORK_ERROR,
                error=f"{page_name} answered HTTP {http_status}",
                raw_html=html[:2000],
                http_status=http_status,
            )
        return None

    def failed_answer(
        self, result: ScrapeResult, http_status: int, *, retry_after: str | None = None
    ) -> ScrapeResult:
        """``result``, the parser's reading of a lookup's answer, with the answer's HTTP status taken
        at its word unless the body is a final answer: 429 is ``blocked`` (its ``Retry-After``
        quoted), 404 and 410 ``page_moved`` (the lookup's endpoint moved); 407 raises
        :meth:`proxy_refused`'s configuration error."""
        if http_status == 407:
            raise self.proxy_refused("the lookup's answer")
        if result.status.is_final:
            return result
        if http_status == 429:
            error = too_many_requests("the lookup's answer", retry_after)
            return dataclasses.replace(result, status=ScrapeStatus.BLOCKED, error=error)
        if http_status in MOVED_STATUSES:
            error = page_moved("the lookup's answer", http_status)
            return dataclasses.replace(result, status=ScrapeStatus.PAGE_MOVED, error=error)
        return result

    def proxy_refused(self, where: str) -> ConfigurationError:
        """The error for an HTTP 407: a proxy wants credentials it was not given, or refused those
        given. Every retry, and every source behind the same proxy, would meet the same: a
        configuration error ends the row at once. It names the proxy's server, never its username or
        password."""
        try:
            proxy = parse_proxy_value(self.proxy)
        except ProxyError:  # refused when the source was built: not reached
            proxy = None
        if proxy is None:
            return ConfigurationError(
                f"{self.source_name}: {where} answered HTTP 407 (Proxy Authentication Required), but "
                "this source has no proxy option: a proxy on the way asks for credentials",
                "Give this source's entry of CEDULA_SOURCES a proxy option with that proxy and its "
                "username and password, or let the workers reach the source without it.",
            )
        given = (
            "refused the username and password given"
            if proxy.username
            else "asks for a username and password"
        )
        return ConfigurationError(
            f"{self.source_name}: the proxy {proxy.server} {given} (HTTP 407 Proxy Authentication Required)",
            "Fix the username and password of the proxy option of this source's entry of CEDULA_SOURCES. "
            + PROXY_HINT,
        )

    def form_changed(self, problem: str, html: str) -> ScrapeResult:
        """The result for a form page that loaded (no block, no error status) without what the lookup
        needs: ``form_changed``, with the page (bounded) for a maintainer to read."""
        return ScrapeResult(
            status=ScrapeStatus.FORM_CHANGED, error=problem, raw_html=html[:FORM_SAMPLE_CHARS]
        )

    def _pace_wait(self) -> float:
        return max(self._last_lookup + app_settings.MIN_LOOKUP_INTERVAL - time.monotonic(), 0.0)

    def _pace(self) -> None:
        """Keep at least ``CEDULA_MIN_LOOKUP_INTERVAL`` seconds between this worker's lookups."""
        with self._pace_lock:
            wait = self._pace_wait()
            if wait > 0:
                time.sleep(wait)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


# -- what an HTTP status says ----------------------------------------------------------------------

#: The statuses that say the page (or the lookup's endpoint) moved or is gone: the sign that the
#: Registraduría changed its pages, read as :attr:`~django_cedula.results.ScrapeStatus.PAGE_MOVED`.
MOVED_STATUSES = frozenset({404, 410})
#: The longest ``Retry-After`` quoted as given, in seconds (a day): a longer one is quoted as this.
MAX_RETRY_AFTER = 86_400.0


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """The seconds a ``Retry-After`` value asks for (delay-seconds or an HTTP date), at most
    :data:`MAX_RETRY_AFTER`; ``None`` for a missing or unreadable value."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # an HTTP date is GMT
            when = when.replace(tzinfo=datetime.timezone.utc)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def too_many_requests(where: str, retry_after: str | None) -> str:
    """A 429's error text; the ``Retry-After`` it gave is quoted (the pause that follows is
    ``CEDULA_BLOCK_COOLDOWN``: the throttle's pause has one length for every block)."""
    seconds = retry_after_seconds(retry_after)
    wait = f"; Retry-After {seconds:.0f} s" if seconds is not None else ""
    return f"{where} answered HTTP 429 (too many requests{wait})"


def page_moved(where: str, http_status: int) -> str:
    """A 404 or 410's error text."""
    said = "gone" if http_status == 410 else "not found"
    return f"{where} answered HTTP {http_status} ({said}): the source's page moved or changed"


# -- reading an answer's bytes ---------------------------------------------------------------------

#: How far into a document its ``<meta>`` may declare its charset (HTML's prescan: 1024 bytes).
META_PRESCAN_BYTES = 1024
_CHARSET_PARAMETER = re.compile(r';\s*charset\s*=\s*["\']?\s*([^"\';\s]+)', re.IGNORECASE)
_META_CHARSET = re.compile(rb'<meta\s[^>]*?charset\s*=\s*["\']?\s*([A-Za-z0-9._:-]+)', re.IGNORECASE)
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
#: The encodings a browser reads (the WHATWG Encoding Standard's), by Python's codec name. Any other
#: label is read as UTF-8, as a browser does: Python also knows codecs such as ``unicode_escape``
#: (which would turn ``\ud800`` into a lone surrogate), ``base64`` or ``undefined`` (which raises).
_WEB_CODECS = frozenset(
    {"utf-8", "utf-16", "utf-16-le", "utf-16-be", "ascii", "cp866", "koi8-r", "koi8-u", "mac-roman",
     "gbk", "gb2312", "gb18030", "big5", "big5hkscs", "euc_jp", "iso2022_jp", "shift_jis", "euc_kr",
     *(f"cp{number}" for number in range(1250, 1259)),
     *(f"iso8859-{number}" for number in (1, 2, 3, 4, 5, 6, 7, 8, 10, 13, 14, 15, 16))}
)  # fmt: skip
#: The labels a browser reads as Windows-1252 (the Encoding Standard makes ISO-8859-1 and ASCII
#: labels of it): its characters at 0x80-0x9F, a C1 control at the five bytes it leaves undefined.
_WINDOWS_1252_CODECS = frozenset({"iso8859-1", "ascii", "cp1252"})
_WINDOWS_1252 = "".join(bytes([byte]).decode("cp1252", "ignore") or chr(byte) for byte in range(256))


def decode_answer(body: bytes, content_type: str | None) -> str:
    """An answer's bytes as text, in the charset it declares, as a browser reads them: a byte-order
    mark first, then the ``Content-Type``'s ``charset``, then (not for JSON, which is UTF-8 unless
    its header says otherwise) a ``<meta charset>`` or ``http-equiv`` in the first
    :data:`META_PRESCAN_BYTES` bytes, else UTF-8. Bytes the encoding cannot read become U+FFFD."""
    for mark, bom_codec in _BYTE_ORDER_MARKS:
        if body.startswith(mark):
            return body[len(mark) :].decode(bom_codec, "replace")
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    declared = _CHARSET_PARAMETER.search(content_type or "")
    codec = _web_codec(declared.group(1)) if declared else None
    if codec is None and not media_type.endswith(("/json", "+json")):
        meta = _META_CHARSET.search(body[:META_PRESCAN_BYTES])
        codec = _web_codec(meta.group(1).decode("ascii")) if meta else None
        if codec is not None and codec.startswith("utf-16"):
            codec = "utf-8"  # a document whose meta could be read as ASCII is not UTF-16 (HTML's rule)
    if codec in _WINDOWS_1252_CODECS:
        return codecs.charmap_decode(body, "strict", _WINDOWS_1252)[0]
    return body.decode(codec or "utf-8", "replace")


def _web_codec(label: str) -> str | None:
    """Python's codec for a charset label that names an encoding of the web; ``None`` otherwise."""
    try:
        name = codecs.lookup(label.strip()).name
    except (LookupError, ValueError):
        return None
    return name if name in _WEB_CODECS else None
