"""Lookups without a browser: the sources' pages and forms over plain HTTP (opt-in, issue #15).

A worker with Chromium holds about 1.3 GB and spends about 200 ms of CPU per lookup; the same form
over HTTP takes a few milliseconds and a few MiB. Public evidence says HTTP-only clients worked on
the wsp page in early 2026, but the Registraduría's firewall may fingerprint clients (another of its
pages refused plain Python clients with 403): so the browser scrapers stay the default and these are
chosen on purpose (``docs/scraper.rst``, "HTTP-only scrapers").

What they do is what the browser scrapers do, request for request: load the page (a navigation),
read what the lookup needs from its HTML (:func:`~.parsing.read_form_page`), post as the page's
script posts, and read the answer with the same parsers, results and error kinds. The client is
`curl_cffi <https://github.com/lexiforest/curl_cffi>`_ with ``impersonate="chrome"``: libcurl built
to make Chrome's TLS handshake and HTTP/2 settings, the maintained choice for that. Each lookup has
a fresh session (cookie jar, connections) of its own. ``curl_cffi`` is imported only where a lookup
uses it, so this module imports without the ``http`` extra.

The headers are Chrome's (:class:`ChromeHeaders`): a firewall that tells browsers from scripts looks
at the headers too, which ones, their values, whether they agree with one another, and their order.
They are written for the three kinds of request a lookup page makes, as Chrome writes them:

* a navigation (the form page typed in or reloaded): ``Sec-Fetch-Mode: navigate``, ``document``;
* a ``fetch()`` from the page: the wsp form's multipart POST (with ``X-Requested-With``, as the
  page's script sends), the consultacenso app's JSON POST and its election list GET;
* Chrome's User-Agent client hints (``sec-ch-ua``, with the "GREASE" brand Chrome derives from its
  major version), agreeing with the User-Agent.

The order is Chrome's for HTTP/1.1 as captured from Chromium 156 (``Host``, ``Connection``,
``Content-Length`` and ``Cookie`` are placed by curl). The replica's fingerprint fault
(:mod:`django_cedula.testing.replica.fingerprint`) uses the same GREASE rule to judge what it
receives.

Answers are read through a callback that stops the transfer past
:data:`~.parsing.MAX_ANSWER_BYTES` of *decoded* body: a 20 MiB answer or a gzip bomb is cut
after 1 MiB, and curl stops decompressing there. The bytes are read as text in the charset the answer
declares (:func:`~.solving.decode_answer`, as a browser reads them), and an HTTP status means what it
says, as on the browser scrapers (:meth:`~.solving.SolvingScraper.failed_page`).

The lookup runs on an event loop this scraper owns for the call (``asyncio.run``), because the token
supply's logic (:class:`~.solving.CaptchaSolve`, shared with the browser scrapers) is asynchronous;
nothing in that loop touches the database (the supply's cache is read on a plain thread).
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import dataclasses
import importlib.util
import logging
import re
import secrets
import string
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..conf import app_settings
from ..exceptions import CaptchaError, ConfigurationError
from ..privacy import REDACTED, redact, redact_urls
from ..proxies import parse_proxy_value
from ..results import ProbeResult, ScrapeResult, ScrapeStatus
from .parsing import MAX_ANSWER_BYTES, FormPage
from .solving import CaptchaSolve, SolvingScraper, decode_answer, probe_result

if TYPE_CHECKING:
    from curl_cffi.requests import AsyncSession

logger = logging.getLogger(__name__)

#: The ``pip`` extra that brings ``curl_cffi``.
EXTRA = "django-cedula[http]"
#: The Chrome version assumed when ``curl_cffi`` does not say which one ``"chrome"`` means.
FALLBACK_CHROME = 124
_TARGET_RE = re.compile(r"chrome(\d+)")
IMPERSONATE_RULE = "impersonate must be 'chrome' or a Chrome target such as 'chrome131' (or None)"
_BOUNDARY_CHARS = string.ascii_letters + string.digits
#: curl's error when an HTTP proxy answers its CONNECT with 407 (curl 7.x and 8.x word it so).
_TUNNEL_407 = re.compile(r"CONNECT tunnel failed, response 407\b")


# The request headers desktop Chrome sends.
#: Chrome's accept header for a document navigation.
NAVIGATION_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
    "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
ACCEPT_ENCODING = "gzip, deflate, br, zstd"
#: A Colombian visitor's Chrome (the browser scrapers' locale is es-CO too).
ACCEPT_LANGUAGE = "es-CO,es;q=0.9"

# https://wicg.github.io/ua-client-hints/#grease, as Chromium implements it
# (components/embedder_support/user_agent_utils.cc): characters, versions and orders picked by the
# major version.
_GREASE_CHARS = (" ", "(", ":", "-", ".", "/", ")", ";", "=", "?", "_")
_GREASE_VERSIONS = ("8", "99", "24")
_ORDERS_OF_3 = ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))
_CHROME_VERSION_RE = re.compile(r"\b(?:Headless)?Chrome/(\d+)\.")


def grease_brand(major: int) -> tuple[str, str]:
    """The made-up brand and version Chrome ``major`` puts in its ``sec-ch-ua`` list."""
    brand = f"Not{_GREASE_CHARS[major % 11]}A{_GREASE_CHARS[(major + 1) % 11]}Brand"
    return brand, _GREASE_VERSIONS[major % 3]


def sec_ch_ua(major: int, brands: Sequence[str] = ("Chromium", "Google Chrome")) -> str:
    """The ``sec-ch-ua`` value of Chrome ``major`` with ``brands`` (one or two), GREASE included, in
    the order Chrome permutes them by its major version."""
    grease, grease_version = grease_brand(major)
    entries = [(grease, grease_version), *((brand, str(major)) for brand in brands)]
    order: tuple[int, ...]
    if len(entries) == 3:
        order = _ORDERS_OF_3[major % 6]
    elif len(entries) == 2:
        order = (0, 1) if major % 2 == 0 else (1, 0)
    else:
        raise ValueError("Chrome lists one or two brands besides the GREASE one")
    slots: list[tuple[str, str]] = [("", "")] * len(entries)
    for entry, slot in zip(entries, order, strict=True):
        slots[slot] = entry
    return ", ".join(f'"{brand}";v="{version}"' for brand, version in slots)


def chrome_major(user_agent: str) -> int | None:
    """The major version a Chrome User-Agent claims (``None``: not a Chrome one)."""
    match = _CHROME_VERSION_RE.search(user_agent)
    return int(match.group(1)) if match else None


def _platform(user_agent: str) -> str:
    if "Windows" in user_agent:
        return "Windows"
    if "Macintosh" in user_agent:
        return "macOS"
    if "Android" in user_agent:
        return "Android"
    if "CrOS" in user_agent:
        return "Chrome OS"
    return "Linux"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclasses.dataclass(frozen=True)
class ChromeHeaders:
    """The headers of one Chrome version, for each kind of request a lookup makes.

    ``major`` is the Chrome version (that of the TLS fingerprint impersonated); ``user_agent``
    replaces the default Windows one (its ``Chrome/NN`` then gives the client hints' version, so
    that they agree).
    """

    major: int
    user_agent: str = ""
    accept_language: str = ACCEPT_LANGUAGE

    def __post_init__(self) -> None:
        if not self.user_agent:
            object.__setattr__(
                self,
                "user_agent",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{self.major}.0.0.0 Safari/537.36",
            )
        else:
            object.__setattr__(self, "major", chrome_major(self.user_agent) or self.major)

    @property
    def hints(self) -> tuple[str, str, str]:
        """``sec-ch-ua``, ``sec-ch-ua-mobile``, ``sec-ch-ua-platform``."""
        mobile = "?1" if "Mobile" in self.user_agent else "?0"
        return sec_ch_ua(self.major), mobile, f'"{_platform(self.user_agent)}"'

    def navigation(self, *, reload: str = "") -> list[tuple[str, str]]:
        """A top-level load of a page: typed in (``reload=""``), reloaded by the user (``"user"``,
        after an error page), or by the page's own script (``"script"``)."""
        ua, mobile, platform = self.hints
        headers = [("Cache-Control", "max-age=0")] if reload else []
        headers += [
            ("sec-ch-ua", ua),
            ("sec-ch-ua-mobile", mobile),
            ("sec-ch-ua-platform", platform),
            ("Upgrade-Insecure-Requests", "1"),
            ("User-Agent", self.user_agent),
            ("Accept", NAVIGATION_ACCEPT),
            ("Sec-Fetch-Site", "same-origin" if reload == "script" else "none"),
            ("Sec-Fetch-Mode", "navigate"),
        ]
        if reload != "script":
            headers.append(("Sec-Fetch-User", "?1"))  # a user's action, not the page's
        headers += [
            ("Sec-Fetch-Dest", "document"),
            ("Accept-Encoding", ACCEPT_ENCODING),
            ("Accept-Language", self.accept_language),
        ]
        return headers

    def fetch(
        self,
        page_url: str,
        *,
        method: str = "GET",
        content_type: str = "",
        accept: str = "*/*",
        requested_with: bool = False,
    ) -> list[tuple[str, str]]:
        """A same-origin ``fetch()`` from the page at ``page_url`` (Chrome sends ``Origin`` on a POST)."""
        ua, mobile, platform = self.hints
        headers = [("sec-ch-ua-platform", platform)]
        if requested_with:
            headers.append(("X-Requested-With", "XMLHttpRequest"))
        headers += [("User-Agent", self.user_agent), ("sec-ch-ua", ua)]
        if content_type:
            headers.append(("Content-Type", content_type))
        headers += [("sec-ch-ua-mobile", mobile), ("Accept", accept)]
        if method != "GET":
            headers.append(("Origin", _origin(page_url)))
        headers += [
            ("Sec-Fetch-Site", "same-origin"),
            ("Sec-Fetch-Mode", "cors"),
            ("Sec-Fetch-Dest", "empty"),
            ("Referer", page_url),
            ("Accept-Encoding", ACCEPT_ENCODING),
            ("Accept-Language", self.accept_language),
        ]
        return headers


def multipart_body(fields: Sequence[tuple[str, str]], boundary: str) -> bytes:
    """A ``FormData`` body as Chrome writes it (``boundary`` from :func:`webkit_boundary`)."""
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode()
        for name, value in fields
    ]
    return b"\r\n".join(parts) + f"\r\n--{boundary}--\r\n".encode()


def webkit_boundary(random_chars: str) -> str:
    """Chrome's multipart boundary: ``----WebKitFormBoundary`` and 16 letters or digits."""
    return f"----WebKitFormBoundary{random_chars[:16]}"


def curl_cffi_missing() -> bool:
    """Whether ``curl_cffi`` cannot be imported (the ``http`` extra is not installed)."""
    return importlib.util.find_spec("curl_cffi") is None


def missing_message(scraper: str) -> str:
    return f"{scraper} needs curl_cffi, which is not installed: pip install '{EXTRA}'"


def impersonation_target(impersonate: str) -> int:
    """The Chrome major version an ``impersonate`` value stands for (``"chrome"``: curl_cffi's latest)."""
    if impersonate == "chrome":
        try:
            from curl_cffi.requests import impersonate as targets

            impersonate = str(getattr(targets, "DEFAULT_CHROME", f"chrome{FALLBACK_CHROME}"))
        except ImportError:
            impersonate = f"chrome{FALLBACK_CHROME}"
    match = _TARGET_RE.fullmatch(impersonate)
    if not match:
        raise ValueError(IMPERSONATE_RULE)
    return int(match.group(1))


def proxy_url(value: str | Mapping[str, str] | None) -> tuple[str | None, str | None]:
    """curl's proxy URL (credentials in it) and no-proxy list from a source's ``proxy`` option (read
    by :func:`django_cedula.proxies.parse_proxy_value`, as the browser reads it).
    Raises :class:`~django_cedula.proxies.ProxyError`, a ``ValueError`` that quotes no password."""
    proxy = parse_proxy_value(value)
    if proxy is None:
        return None, None
    return proxy.url(), proxy.bypass


@dataclasses.dataclass(frozen=True)
class Fetched:
    """One answer: its status, content type, final URL and body (at most ``MAX_ANSWER_BYTES``, read
    in the charset it declares: :func:`~.solving.decode_answer`)."""

    status: int
    content_type: str
    url: str
    text: str
    #: The body went on past the limit; ``text`` is its first ``MAX_ANSWER_BYTES`` bytes.
    truncated: bool = False
    #: The ``Retry-After`` header, if any (a 429 quotes it).
    retry_after: str | None = None


class SourceTimeout(Exception):
    """A request got no (complete) answer within the source's ``page_timeout``."""


class SourceUnreachable(Exception):
    """A request failed below HTTP: refused, reset, dropped, a proxy or TLS failure."""


class BrowserLikeClient:
    """One lookup's HTTP client: a fresh ``curl_cffi`` session that asks as Chrome asks.

    ``headers`` is ``None`` for a deliberately plain client (tests: what a firewall refuses).
    """

    def __init__(self, session: AsyncSession[Any], headers: ChromeHeaders | None, timeout: float) -> None:
        self.session = session
        self.headers = headers
        self.timeout = timeout

    async def navigate(self, url: str, *, reload: str = "") -> Fetched:
        """Load a page as a top-level navigation (see :meth:`.ChromeHeaders.navigation`)."""
        headers = self.headers.navigation(reload=reload) if self.headers else []
        return await self.request("GET", url, headers)

    async def fetch(
        self,
        url: str,
        page_url: str,
        *,
        method: str = "GET",
        body: bytes = b"",
        content_type: str = "",
        accept: str = "*/*",
        requested_with: bool = False,
    ) -> Fetched:
        """A ``fetch()`` from the page at ``page_url``."""
        if self.headers is None:
            headers = [("Content-Type", content_type)] if content_type else []
        else:
            headers = self.headers.fetch(
                page_url,
                method=method,
                content_type=content_type,
                accept=accept,
                requested_with=requested_with,
            )
        return await self.request(method, url, headers, body)

    async def request(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes = b""
    ) -> Fetched:
        """Send one request; the body is read up to :data:`MAX_ANSWER_BYTES` decoded bytes."""
        from curl_cffi.curl import CURL_WRITEFUNC_ERROR
        from curl_cffi.requests.exceptions import RequestException, Timeout

        received = bytearray()
        cut = False

        def keep(chunk: bytes) -> int:
            nonlocal cut
            room = MAX_ANSWER_BYTES - len(received)
            if len(chunk) > room:
                received.extend(chunk[:room])
                cut = True
                return int(CURL_WRITEFUNC_ERROR)  # curl stops the transfer (and the decompression) here
            received.extend(chunk)
            return len(chunk)

        try:
            response = await asyncio.wait_for(
                self.session.request(
                    method,  # type: ignore[arg-type]
                    url,
                    headers=list(headers),
                    data=body or None,
                    content_callback=keep,
                    timeout=self.timeout,
                    accept_encoding=ACCEPT_ENCODING,  # curl undoes every encoding Chrome accepts
                ),
                # curl keeps its own time; this is only the backstop.
                timeout=self.timeout + 1,
            )
        except RequestException as exc:
            partial = getattr(exc, "response", None)
            if cut and partial is not None:
                response = partial
            elif isinstance(exc, Timeout) or getattr(exc, "code", None) == 28:
                raise SourceTimeout(str(exc)) from exc
            elif _TUNNEL_407.search(str(exc)):
                # An https:// source through an HTTP proxy: the proxy's 407 answers the CONNECT, and
                # curl reports it as an error rather than a response. It means what a 407 means.
                return Fetched(status=407, content_type="", url=url, text="")
            else:
                raise SourceUnreachable(str(exc)) from exc
        except asyncio.TimeoutError as exc:
            raise SourceTimeout("no answer") from exc
        content_type = str(response.headers.get("content-type") or "")
        return Fetched(
            status=int(response.status_code),
            content_type=content_type,
            url=str(response.url or url),
            text=decode_answer(bytes(received), content_type),
            truncated=cut,
            retry_after=response.headers.get("retry-after"),
        )


class HttpScraper(SolvingScraper, abc.ABC):
    """A scraper that asks the source over HTTP as Chrome would, without a browser.

    Options (the ``OPTIONS`` of its entry of ``CEDULA_SOURCES``), each refused by name when wrong:
    those of every captcha-solving source (:class:`~.solving.SolvingScraper`), read as the browser
    scrapers read them, and two of its own:

    ``url``
        The page; default the source's production URL.
    ``election``, ``page_timeout``
        The election selector's value (default ``"-1"``) and the seconds each request may take
        (default 30).
    ``proxy``
        A proxy URL (``http://user:secret@host:3128``, ``socks5://host:1080``) or a mapping of
        ``server``, ``bypass``, ``username``, ``password`` (give a browser source of the same site
        the same value, so that both leave through the same address). Never logged nor shown.
    ``user_agent``
        A Chrome User-Agent to send instead of the default (Windows, the impersonated version);
        the client hints follow its ``Chrome/NN``.
    ``impersonate``
        ``"chrome"`` (curl_cffi's latest Chrome) or a target such as ``"chrome131"``; ``None`` turns
        the TLS impersonation off, which only tests want (a client the firewall refuses).
    ``browser_headers``
        ``False`` sends curl's own headers instead of Chrome's (tests only, as above).

    A lookup may take ``CEDULA_LOOKUP_TIMEOUT`` seconds in all; pacing is ``CEDULA_MIN_LOOKUP_INTERVAL``.
    """

    def __init__(
        self,
        *,
        impersonate: str | None = "chrome",
        browser_headers: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(**options)  # url, proxy, user_agent, ...: SolvingScraper's
        if curl_cffi_missing():
            raise ConfigurationError(
                missing_message(type(self).__name__),
                f"Install the extra ({EXTRA}) on every worker, or use a browser scraper.",
            )
        if self.user_agent is not None and chrome_major(self.user_agent) is None:
            raise ConfigurationError(
                "user_agent must be a Chrome User-Agent (the client hints sent must agree with it)",
                "Give a desktop Chrome User-Agent, or leave it out.",
            )
        if impersonate is not None and not isinstance(impersonate, str):
            raise ConfigurationError(IMPERSONATE_RULE, "For example 'chrome', or leave it out.")
        if not isinstance(browser_headers, bool):
            raise ConfigurationError("browser_headers must be True or False", "Leave it out: True.")
        try:
            self.chrome_major = impersonation_target(impersonate) if impersonate else FALLBACK_CHROME
        except ValueError:
            raise ConfigurationError(IMPERSONATE_RULE, "For example 'chrome', or leave it out.") from None
        self.impersonate = impersonate
        self.browser_headers = browser_headers

    def __repr__(self) -> str:
        proxy = "None" if self.proxy is None else repr(REDACTED if isinstance(self.proxy, Mapping) else
                                                       redact_urls(str(self.proxy)))  # fmt: skip
        return (
            f"{type(self).__name__}(url={self.url!r}, proxy={proxy}, impersonate={self.impersonate!r}, "
            f"browser_headers={self.browser_headers!r})"
        )

    def run_lookup(self, url: str, cedula: str, captcha: CaptchaSolve) -> ScrapeResult:
        return _run_own_loop(
            lambda: self._guarded(lambda client: self.lookup(client, url, cedula, captcha), cedula)
        )

    def probe(self) -> ProbeResult:
        """A GET of the form page in a fresh session, checked as a lookup checks it (:meth:`open_form`);
        no solve, no post. From a plain thread: the request runs on an event loop of its own."""
        url = self.url
        seen: list[str] = []

        async def look(client: BrowserLikeClient) -> ScrapeResult:
            opened = await self.open_form(client, url, reload="")
            if isinstance(opened, ScrapeResult):
                return opened
            seen.append(opened.html)
            return ScrapeResult(status=ScrapeStatus.FOUND)  # the shape is right: nothing to say

        try:
            result = _run_own_loop(lambda: self._guarded(look, None))
        except ConfigurationError as exc:  # a proxy's 407: the probe cannot tell anything of the source
            return ProbeResult(ok=False, status=ScrapeStatus.NETWORK_ERROR, detail=str(exc))
        if result.status is ScrapeStatus.FOUND:
            return probe_result(None, seen[0] if seen else "")
        return probe_result(result)

    def _client_settings(self) -> tuple[dict[str, Any], ChromeHeaders | None]:
        from curl_cffi import CurlHttpVersion, CurlOpt

        proxy, bypass = proxy_url(self.proxy)
        user_agent = self.user_agent
        session: dict[str, Any] = {"proxy": proxy, "allow_redirects": True}
        if bypass:
            session["curl_options"] = {CurlOpt.NOPROXY: bypass}
        if self.impersonate:
            # TLS and HTTP/2 as Chrome makes them; the headers are ours (Chrome's, per request kind).
            session.update(impersonate=self.impersonate, default_headers=False)
        if urlsplit(self.url).scheme == "http":
            # Without TLS Chrome speaks HTTP/1.1 and never asks to upgrade to cleartext HTTP/2 (h2c).
            session["http_version"] = CurlHttpVersion.V1_1
        headers = ChromeHeaders(self.chrome_major, user_agent or "") if self.browser_headers else None
        return session, headers

    async def _guarded(
        self, work: Callable[[BrowserLikeClient], Awaitable[ScrapeResult]], cedula: str | None
    ) -> ScrapeResult:
        """Run ``work`` (a lookup, or a probe's look at the form) in a fresh session, turning failures
        into results."""
        from curl_cffi.requests import AsyncSession

        try:
            options, headers = self._client_settings()
        except ValueError as exc:
            return ScrapeResult(status=ScrapeStatus.NETWORK_ERROR, error=f"proxy: {redact(exc, cedula)}")
        try:
            async with AsyncSession(**options) as session:
                client = BrowserLikeClient(session, headers, self.page_timeout)
                return await asyncio.wait_for(work(client), timeout=app_settings.LOOKUP_TIMEOUT)
        except asyncio.TimeoutError:
            return ScrapeResult(
                status=ScrapeStatus.TIMEOUT,
                error=f"the lookup took longer than {app_settings.LOOKUP_TIMEOUT:g} s",
            )
        except SourceTimeout:
            return ScrapeResult(
                status=ScrapeStatus.TIMEOUT,
                error=f"the source did not answer within {self.page_timeout:g} s",
            )
        except SourceUnreachable as exc:
            return ScrapeResult(status=ScrapeStatus.NETWORK_ERROR, error=_first_line(exc, cedula))
        except CaptchaError as exc:
            return ScrapeResult(
                status=ScrapeStatus.CAPTCHA_FAILED, error=f"captcha not solved: {redact(exc, cedula)}"
            )

    @abc.abstractmethod
    async def open_form(
        self, client: BrowserLikeClient, url: str, *, reload: str
    ) -> OpenedForm | ScrapeResult:
        """Load the form page at ``url`` and check its shape: what the lookup needs from it, or the
        result that ends the lookup (blocked, page moved, ``form_changed``...). No solve: a lookup
        starts its solve after this, and :meth:`probe` stops here."""

    @abc.abstractmethod
    async def lookup(
        self, client: BrowserLikeClient, url: str, cedula: str, captcha: CaptchaSolve
    ) -> ScrapeResult:
        """Look ``cedula`` up with ``client`` (a fresh session). Runs on this call's event loop: no ORM."""


@dataclasses.dataclass(frozen=True)
class OpenedForm:
    """A form page that has what a lookup needs (:meth:`HttpScraper.open_form`)."""

    #: The page's final URL (after redirects): the lookup posts from it.
    url: str
    form: FormPage
    html: str


def new_boundary() -> str:
    return "".join(secrets.choice(_BOUNDARY_CHARS) for _ in range(16))


def _run_own_loop(make: Callable[[], Coroutine[Any, Any, ScrapeResult]]) -> ScrapeResult:
    """Run the coroutine ``make()`` gives on a new event loop, closed afterwards.

    ``scrape_cedula`` is called from plain threads (a worker); should a caller already run an event
    loop on this thread, the lookup runs on a thread of its own instead of failing.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="cedula-http") as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


_CURL_NOISE = re.compile(r"^Failed to perform, |\s*See https://curl\.se/\S+ first for more details\.?$")


def _first_line(exc: BaseException, cedula: str | None = None) -> str:
    """The first line of ``exc``'s text without curl's boilerplate, cleaned
    (:func:`~django_cedula.privacy.redact`) before it is cut."""
    line = (redact(exc, cedula).strip().splitlines() or [type(exc).__name__])[0]
    return _CURL_NOISE.sub("", line)[:300] or type(exc).__name__
