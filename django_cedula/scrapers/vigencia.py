"""The free pre-check: the Registraduría's vigencia service, asked before a paid census lookup.

``CEDULA_PRECHECK`` names the part (``{"BACKEND": ..., "OPTIONS": {...}}``, ``None`` by default).
:class:`Precheck` is what its ``BACKEND`` must be; :func:`precheck` is how the job asks it: never
raising, never for longer than the part's own short timeout, and never counting an attempt. Its
answer ends the validation only when it says the number does not exist or its holder died;
anything else (alive, no data, a failure, a pause) lets the census lookup run as if it were not
there.

:class:`VigenciaPrecheck` is the part that asks the real service (``POST {"nuip": <int>, "ip": ...}``
to ``https://defunciones.registraduria.gov.co:8443/VigenciaCedula/consulta``, no captcha) with the
standard library's HTTP client: its own pace for the cluster (one request a second), its own pause
after an HTTP 429, a 403 or a block page, and its own source health (``"vigencia"``), so that a service
that changed costs nothing but a skipped pre-check.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import os
import socket
import ssl
import time
import urllib.error
import urllib.request
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.core.cache import caches

from .. import health, throttle
from ..conf import Configurable, ConfiguredPart, app_settings, build_part, part_setting
from ..exceptions import ConfigurationError
from ..privacy import mask_cedula, redact
from ..proxies import ProxyError, parse_proxy_value
from ..results import PrecheckResult, ScrapeResult, ScrapeStatus
from .parsing import is_block_page
from .parsing.vigencia import MAX_VIGENCIA_BYTES, read_vigencia_answer

logger = logging.getLogger(__name__)

SETTING = "CEDULA_PRECHECK"


class Precheck(Configurable):
    """What ``CEDULA_PRECHECK["BACKEND"]`` must name. Options are keyword arguments of ``__init__``,
    validated there (a wrong one raises :class:`~django_cedula.exceptions.ConfigurationError`)."""

    #: The name its answers are stored under (``CedulaInfo.source``) and its health is kept by.
    source_name: ClassVar[str] = "vigencia"

    def check(self, cedula: str) -> PrecheckResult:
        """Ask about ``cedula`` (digits only) from a plain thread, no ORM; a failure is a result with
        ``vigencia=None`` and ``error`` set. May raise: :func:`precheck` turns it into a result."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the part holds (connections)."""


def build_precheck() -> Precheck | None:
    config = part_setting("PRECHECK")
    if config is None:
        return None
    return build_part(config, Precheck, SETTING)


_precheck: ConfiguredPart[Precheck | None] = ConfiguredPart(SETTING, build_precheck)


def get_precheck() -> Precheck | None:
    """The configured pre-check, created once per process; ``None`` when ``CEDULA_PRECHECK`` is unset."""
    if part_setting("PRECHECK") is None:
        return None
    return _precheck.get()


def precheck(cedula: str) -> PrecheckResult | None:
    """The configured pre-check's answer about ``cedula``; ``None`` when none is configured. Never
    raises: a part that cannot be built or fails is a result without a ``vigencia``, logged."""
    try:
        part = get_precheck()
    except Exception as exc:
        logger.error("The pre-check could not be built (%s): the census lookup runs without it", redact(exc))
        return PrecheckResult(error=f"not built: {type(exc).__name__}")
    if part is None:
        return None
    try:
        given: Any = part.check(cedula)
        if not isinstance(given, PrecheckResult):
            raise TypeError(f"check() returned {type(given).__name__}, not a PrecheckResult")
        answer = given
    except Exception as exc:
        error = redact(f"{type(exc).__name__}: {exc}", cedula)[:500]
        logger.warning("The pre-check failed (%s): the census lookup runs without it", error)
        return PrecheckResult(error=error, source=part.source_name)
    if not answer.source:
        answer = PrecheckResult(
            vigencia=answer.vigencia,
            fecha=answer.fecha,
            error=answer.error,
            raw=answer.raw,
            source=part.source_name,
        )
    return answer


# -- the real service

#: The vigencia service of the Registraduría's deaths registry.
VIGENCIA_URL = "https://defunciones.registraduria.gov.co:8443/VigenciaCedula/consulta"
#: Cache keys of the pre-check's own pace and pause (shared by every worker of the cluster).
TURN_KEY = "django_cedula:precheck:next_at"
PAUSE_KEY = "django_cedula:precheck:paused_until"
#: Failures to answer in a row (a reset, a refused connection; a timeout pauses at once) across the
#: cluster, and the pauses they led to in a row: a slow or down service is left alone, for longer
#: each time.
FAILURES_KEY = "django_cedula:precheck:failures"
BACKOFF_KEY = "django_cedula:precheck:backoff"
#: Failures in a row that pause the pre-check, and the longest such pause (seconds).
FAILURES_BEFORE_PAUSE = 3
MAX_FAILURE_PAUSE = 900.0
#: The longest ``timeout`` accepted (seconds): the pre-check must stay cheaper than what it saves.
MAX_TIMEOUT = 30.0
#: Headers the service's own page (an Angular app) sends with its ``fetch``.
_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


class VigenciaPrecheck(Precheck):
    """The Registraduría's vigencia service as the pre-check (``CEDULA_PRECHECK["BACKEND"]`` =
    ``"django_cedula.scrapers.vigencia.VigenciaPrecheck"``).

    Options:

    ``url``
        The service (default :data:`VIGENCIA_URL`).
    ``timeout``
        Seconds a check may take in all, its wait for a turn included (default 3): the pre-check never
        delays a lookup by more. More than 0, at most 30.
    ``rate``
        The pace for the whole cluster (default ``"1/s"``, as peers pace themselves), through the
        shared cache (``CEDULA_CACHE_ALIAS``); ``None``: no pace. A check whose turn is further away
        than the timeout allows is skipped.
    ``pause_after_429``
        Seconds no worker asks after an HTTP 429, a 403 or a block page (default 60; 0: no pause).
    ``verify``
        ``True`` (the system's CA store), ``False`` (no certificate check), or the path of a CA bundle
        (a PEM file): the real service on port 8443 has been seen with an incomplete chain.
    ``proxy``
        An ``http://`` proxy URL or mapping, as a source's ``proxy`` option
        (:mod:`django_cedula.proxies`); the standard library's client speaks to HTTP proxies only.
        Without it, no proxy (the environment's proxy variables are not read).
    ``ip``
        The ``ip`` field of the request. The service's page sends the visitor's address; peers send a
        fixed dotted address. Default ``""``: sent empty (no address is made up).
    """

    def __init__(
        self,
        *,
        url: str = VIGENCIA_URL,
        timeout: float = 3.0,
        rate: str | None = "1/s",
        pause_after_429: float = 60.0,
        verify: bool | str = True,
        proxy: Any = None,
        ip: str = "",
        **options: Any,
    ) -> None:
        super().__init__(**options)
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError("url must be an http:// or https:// URL")
        if not _is_number(timeout) or not 0 < timeout <= MAX_TIMEOUT:
            raise ConfigurationError(
                f"timeout must be a number of seconds, more than 0 and at most {MAX_TIMEOUT:g}"
            )
        if rate is None or rate == "":
            self.spacing = 0.0
        else:
            try:
                self.spacing = throttle.parse_rate(rate) if isinstance(rate, str) else -1.0
            except ValueError:
                self.spacing = -1.0
            if self.spacing < 0:
                raise ConfigurationError("rate must be a rate such as '1/s' or '30/m', or None")
        if not _is_number(pause_after_429) or not 0 <= pause_after_429 <= 86_400:
            raise ConfigurationError("pause_after_429 must be a number of seconds, from 0 to 86400")
        if not isinstance(ip, str) or len(ip) > 64:
            raise ConfigurationError("ip must be text (an address), at most 64 characters")
        self.url = url
        self.timeout = float(timeout)
        self.pause_after_429 = float(pause_after_429)
        self.ip = ip
        self.verify = verify
        handlers: list[urllib.request.BaseHandler] = [
            urllib.request.ProxyHandler(_proxies(proxy, parts.hostname)),
            urllib.request.HTTPSHandler(context=_tls_context(verify)),
        ]
        self._opener = urllib.request.build_opener(*handlers)
        self.keep_options(url=url, timeout=self.timeout, rate=rate, pause_after_429=self.pause_after_429)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r}, timeout={self.timeout:g})"

    def check(self, cedula: str) -> PrecheckResult:
        started = time.monotonic()
        if not cedula.isdigit() or len(cedula) > 15:
            return self._failed("not a number")
        try:
            left = throttle.paused(PAUSE_KEY, self.pause_after_429)
        except Exception as exc:  # a cache that is down: the cluster's pace is unknown, so do not ask
            return self._failed(f"cache: {type(exc).__name__}")
        if left > 0:
            return self._failed(f"paused for {math.ceil(left)} s after a refusal")
        admission = health.admit(self.source_name)
        if not admission.allowed:
            return self._failed(
                "out of service" if admission.reason == "out_of_service" else admission.reason
            )
        if self.spacing:
            try:
                # Half the budget at most for the turn: the other half is the request's.
                wait = throttle.take_turn(TURN_KEY, self.spacing, max_wait=self.timeout / 2)
            except Exception as exc:
                wait, error = None, f"cache: {type(exc).__name__}"
            else:
                error = "no turn within the timeout (rate)"
            if wait is None:
                self._report(ScrapeResult(status=ScrapeStatus.TIMEOUT), cedula, admission)
                return self._failed(error)
            time.sleep(wait)
        deadline = started + self.timeout
        result, answer = self._ask(cedula, deadline)
        self._report(result, cedula, admission)
        self._count_failure(result, answered=answer is not None)
        if answer is not None:
            return answer
        if result.status is ScrapeStatus.BLOCKED:
            try:
                throttle.pause(PAUSE_KEY, self.pause_after_429)
            except Exception as exc:
                logger.error("The pre-check's pause could not be stored (%s)", type(exc).__name__)
        logger.info("Pre-check of %s: no answer (%s)", mask_cedula(cedula), result.error)
        return self._failed(result.error, raw=result.raw_html)

    def _count_failure(self, result: ScrapeResult, *, answered: bool) -> None:
        """A service that does not answer costs every validation its timeout: after a timeout, or
        :data:`FAILURES_BEFORE_PAUSE` quick failures in a row across the cluster, pause the
        pre-check (``pause_after_429`` seconds, doubling while it keeps failing, at most
        :data:`MAX_FAILURE_PAUSE`); an answer ends the run. A cache that fails is logged."""
        try:
            cache = caches[app_settings.CACHE_ALIAS]
            if answered:
                cache.delete_many([FAILURES_KEY, BACKOFF_KEY])
                return
            if result.status not in (ScrapeStatus.TIMEOUT, ScrapeStatus.NETWORK_ERROR):
                return
            failures = throttle.count(cache, FAILURES_KEY, int(MAX_FAILURE_PAUSE))
            # A timeout cost its validation the whole timeout: one is enough. A quick failure (a
            # reset, a refused connection) costs little, and may be a blip: three in a row.
            if result.status is not ScrapeStatus.TIMEOUT and failures < FAILURES_BEFORE_PAUSE:
                return
            cache.delete(FAILURES_KEY)
            pauses = throttle.count(cache, BACKOFF_KEY, 3600) - 1
            seconds = min(self.pause_after_429 * 2 ** min(pauses, 10), MAX_FAILURE_PAUSE)
            throttle.pause(PAUSE_KEY, seconds)
            logger.warning(
                "The pre-check failed to answer %s times in a row: paused for %.0f s (the census "
                "lookups go on without it)",
                FAILURES_BEFORE_PAUSE,
                seconds,
            )
        except Exception as exc:
            logger.error("The pre-check's failures could not be counted (%s)", type(exc).__name__)

    def _failed(self, error: str, raw: str = "") -> PrecheckResult:
        return PrecheckResult(error=error[:500], raw=raw, source=self.source_name)

    def _report(self, result: ScrapeResult, cedula: str, admission: health.Admission) -> None:
        health.report(
            self.source_name,
            result,
            cedula=cedula,
            trial=admission.trial,
            counted=admission.counted,
        )

    def _ask(self, cedula: str, deadline: float) -> tuple[ScrapeResult, PrecheckResult | None]:
        """POST the number; the result for the source's health and, when readable, the answer."""
        body = json.dumps({"nuip": int(cedula), "ip": self.ip}).encode()
        parts = urlsplit(self.url)
        origin = f"{parts.scheme}://{parts.netloc}"
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Accept": "application/json, text/plain, */*",
                "Accept-Language": "es-CO,es;q=0.9",
                "Content-Type": "application/json",
                "Origin": origin,
                "Referer": origin + parts.path,
                "User-Agent": _USER_AGENT,
            },
        )
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            return _failure(ScrapeStatus.TIMEOUT, "timeout before the request"), None
        status = 200
        try:
            with self._opener.open(request, timeout=remaining) as response:
                raw = _read_bounded(response, deadline)
        except urllib.error.HTTPError as exc:
            status = exc.code
            try:
                raw = _read_bounded(exc, deadline)
            except Exception:
                raw = b""
            finally:
                exc.close()
        except Exception as exc:
            return _failure_of(exc, cedula), None
        text = raw.decode("utf-8", errors="replace")
        if status in (403, 429) or (status == 200 and text.lstrip().startswith("<") and is_block_page(text)):
            what = "a block page" if status == 200 else f"HTTP {status}"
            return _failure(ScrapeStatus.BLOCKED, f"{what}: paused {self.pause_after_429:g} s", text), None
        if status in (404, 410):
            return _failure(ScrapeStatus.PAGE_MOVED, f"HTTP {status}", text, status), None
        if status != 200:
            return _failure(ScrapeStatus.NETWORK_ERROR, f"HTTP {status}", text, status), None
        if len(raw) > MAX_VIGENCIA_BYTES:
            return _failure(ScrapeStatus.PARSE_ERROR, f"an answer over {MAX_VIGENCIA_BYTES} bytes"), None
        read = read_vigencia_answer(text, cedula)
        if read.vigencia is None:
            return _failure(ScrapeStatus.PARSE_ERROR, read.error, text), None
        answer = PrecheckResult(vigencia=read.vigencia, fecha=read.fecha, raw=text, source=self.source_name)
        return ScrapeResult(status=ScrapeStatus.FOUND), answer


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _proxies(value: Any, host: str) -> dict[str, str]:
    """The ``ProxyHandler`` mapping of a ``proxy`` option (``{}``: none, and no environment)."""
    try:
        proxy = parse_proxy_value(value)
    except ProxyError as exc:
        raise ConfigurationError(f"proxy {exc}") from None
    if proxy is None:
        return {}
    if not proxy.server.startswith("http://"):
        raise ConfigurationError("proxy must be an http:// proxy (the pre-check's client speaks to no other)")
    if proxy.bypass and _bypassed(host, proxy.bypass):
        return {}
    return {"http": proxy.url(), "https": proxy.url()}


def _bypassed(host: str, bypass: str) -> bool:
    """Whether ``host`` matches an entry of a comma-separated bypass list (``.gov.co``, ``*.gov.co``,
    a host name)."""
    host = host.lower()
    for entry in (item.strip().lower().lstrip("*") for item in bypass.split(",")):
        if entry and (host == entry.lstrip(".") or host.endswith("." + entry.lstrip("."))):
            return True
    return False


def _tls_context(verify: object) -> ssl.SSLContext:
    if verify is True:
        return ssl.create_default_context()
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str) and verify:
        if not os.path.isfile(verify):
            raise ConfigurationError("verify names no file (give True, False or the path of a CA bundle)")
        try:
            return ssl.create_default_context(cafile=verify)
        except (ssl.SSLError, OSError, ValueError):
            raise ConfigurationError("verify is not a CA bundle (PEM) that could be loaded") from None
    raise ConfigurationError("verify must be True, False or the path of a CA bundle")


def _read_bounded(response: Any, deadline: float) -> bytes:
    """At most one byte more than :data:`MAX_VIGENCIA_BYTES` of ``response``, read by the deadline."""
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_VIGENCIA_BYTES:
        if time.monotonic() > deadline:
            raise TimeoutError("the answer did not arrive within the timeout")
        chunk = response.read(min(16_384, MAX_VIGENCIA_BYTES + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _failure(status: ScrapeStatus, error: str, raw: str = "", http_status: int = 0) -> ScrapeResult:
    return ScrapeResult(status=status, error=error, raw_html=raw, http_status=http_status)


def _failure_of(exc: BaseException, cedula: str) -> ScrapeResult:
    """The failure an exception of the client stands for (its text masked)."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    detail = redact(f"{type(reason).__name__}: {reason}", cedula)[:300]
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return _failure(ScrapeStatus.TIMEOUT, f"timeout: {detail}")
    if isinstance(reason, ssl.SSLError):
        return _failure(ScrapeStatus.NETWORK_ERROR, f"TLS: {detail}")
    if isinstance(reason, (OSError, http.client.HTTPException)):
        return _failure(ScrapeStatus.NETWORK_ERROR, f"network: {detail}")
    return _failure(ScrapeStatus.NETWORK_ERROR, detail)
