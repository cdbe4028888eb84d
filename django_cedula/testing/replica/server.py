"""The replica's HTTP server and its Python API (:class:`Replica`).

One ``ThreadingHTTPServer`` serves both sources under one local address:

* Source A, the "wsp" page: ``{url}censo/consultar/`` (GET form, POST lookup);
* Source B, the "consultacenso" app: ``{url}consultacenso/`` with its API under
  ``{url}consultacenso/back/api/`` (``elecciones``, ``consulta``);
* the stand-in for Google's reCAPTCHA script: ``{url}recaptcha/api.js``.

State (sessions, faults, the request log) lives on the :class:`Replica` and is guarded by one
lock, so tests may change knobs and read the log while requests are in flight.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import http.cookies
import itertools
import json
import re
import secrets
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ...captcha.replica_tokens import TOKEN_MAX_AGE, TokenCheck, TokenVerifier, issue_token
from . import pages
from .constants import (
    CENSO_ALT_PATH,
    CENSO_API_PATH,
    CENSO_PATH,
    DEFAULT_BOMB_BYTES,
    DEFAULT_DEEP_JSON_DEPTH,
    DEFAULT_HUGE_BYTES,
    DEFAULT_SITE_KEY,
    DEFAULT_SLOW_SECONDS,
    RECAPTCHA_PATH,
    WSP_PATH,
)
from .outcomes import FaultMode, Outcome, OutcomeKind, derived_place, outcome_for, outcome_table_markdown

_VALID_NUMBER = re.compile(r"[1-9][0-9]{2,9}")
_SEPARATORS = re.compile(r"[.\s\-]")
_MAX_BODY = 1 << 20
_SESSION_ALPHABET = "0123456789abcdefghijklmnopqrstuv"  # PHP's default session id characters
_HTML = "text/html; charset=UTF-8"
_JSON = "application/json; charset=utf-8"

WSP = "wsp"
CENSO = "censo"

# The application's own failures (answered after the captcha check), as faults and as table kinds.
_APP_FAULTS = (
    FaultMode.GARBAGE,
    FaultMode.CURL_ERROR,
    FaultMode.UPDATING,
    FaultMode.HUGE,
    FaultMode.GZIP_BOMB,
    FaultMode.DEEP_JSON,
)
_APP_KINDS = frozenset(
    {
        OutcomeKind.GARBAGE,
        OutcomeKind.CURL_ERROR,
        OutcomeKind.UPDATING,
        OutcomeKind.HUGE,
        OutcomeKind.GZIP_BOMB,
        OutcomeKind.DEEP_JSON,
    }
)


class Answer(str, enum.Enum):
    """What the replica answered to one request (:attr:`RequestRecord.answer`)."""

    PENDING = "pending"
    INDEX = "index"
    PAGE = "page"
    ERROR_500 = "error_500"
    BLOCK = "block"
    FOUND = "found"
    NOT_FOUND = "not_found"
    CANCELLED = "cancelled"
    UPDATING = "updating"
    CURL_ERROR = "curl_error"
    RELOAD = "reload"
    CAPTCHA = "captcha"
    INVALID = "invalid"
    GARBAGE = "garbage"
    HUGE = "huge"
    GZIP_BOMB = "gzip_bomb"
    DEEP_JSON = "deep_json"
    DROPPED = "dropped"
    ELECCIONES = "elecciones"
    SCRIPT = "script"
    CAPTCHA_TOKEN = "captcha_token"
    NO_CONTENT = "no_content"
    HEAD_500 = "head_500"
    HTTP_404 = "http_404"
    HTTP_405 = "http_405"
    HTTP_413 = "http_413"
    REPLICA_ERROR = "replica_error"

    def __str__(self) -> str:
        return self.value


_OVERSIZED = frozenset({Answer.HUGE, Answer.GZIP_BOMB, Answer.DEEP_JSON})


@dataclasses.dataclass
class RequestRecord:
    """One request the replica received. Fields other than ``answer``/``status`` are set on arrival."""

    id: int
    time: float
    method: str
    path: str
    #: ``"wsp"`` (Source A), ``"censo"`` (Source B), ``"recaptcha"`` or ``""``.
    source: str = ""
    #: ``"page"``, ``"lookup"``, ``"elecciones"``, ``"script"``, ``"captcha_token"``, ``"index"``,
    #: ``"head"`` or ``"other"``.
    kind: str = "other"
    #: The number a lookup asked for, as sent (``None`` for other requests).
    cedula: str | None = None
    #: The election a lookup asked for (``tipo`` on A, ``eleccionId`` on B).
    election: str | None = None
    #: The session id the request carried (``PHPSESSID``), if any.
    session: str | None = None
    #: Source A: the form token a lookup sent.
    token: str | None = None
    #: The captcha response a lookup sent.
    captcha: str | None = None
    #: The token check's verdict on ``captcha``: ``accepted``, ``reused``, ``expired``,
    #: ``foreign_site_key`` or ``unknown`` (``""``: the lookup did not reach the captcha check).
    captcha_check: str = ""
    #: The fault (set with :meth:`Replica.set_fault`) that shaped the answer, if any.
    fault: str | None = None
    answer: str = Answer.PENDING.value
    #: Why, where it is not obvious: ``stale_token``, ``no_session``, ``reload_once``, ``get500_armed``,
    #: ``table:<kind>``, ``interrupted``, the block page's support ID...
    detail: str = ""
    #: The HTTP status sent; 0 when the connection was dropped.
    status: int = 0
    #: Seconds from arrival to answer.
    duration: float = 0.0


@dataclasses.dataclass
class Fault:
    """An active fault: ``mode`` for ``cedula`` (``None``: every request) for ``remaining`` more firings."""

    mode: FaultMode
    cedula: str | None = None
    #: Firings left; ``None`` means until cleared.
    remaining: int | None = None
    fired: int = 0


@dataclasses.dataclass
class _Session:
    id: str
    #: Source A: the one token the session's last page load issued; ``None`` once used.
    token: str | None = None
    #: Numbers whose once-per-session outcome (reload once, 500 on GET) already happened here.
    reloaded: set[str] = dataclasses.field(default_factory=set)
    get500_done: set[str] = dataclasses.field(default_factory=set)
    #: The next page GET of this session answers 500 (set by a lookup of a "500 on GET" number).
    get500_pending: bool = False


class _Drop(Exception):
    """Raised inside a handler to close the connection without answering."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


def normalize_number(value: str | int) -> str:
    """``"1.000.000-001"`` -> ``"1000000001"``: how fault keys are stored and matched."""
    return _SEPARATORS.sub("", str(value))


class Replica:
    """A local replica of the Registraduría's census lookup (Source A and Source B).

    ``Replica(port=0)`` picks a free port; :meth:`start` serves from a background thread and
    :meth:`stop` shuts down (also as a context manager). Knobs are plain attributes that tests
    may change at any time: :attr:`form_delay`, :attr:`token_max_age`, :attr:`valid_token`,
    :attr:`slow_seconds`, :attr:`site_key`, :attr:`huge_bytes`, :attr:`bomb_bytes`,
    :attr:`deep_json_depth`. Faults are switched with :meth:`set_fault`; :meth:`reset` restores the
    state of a fresh replica (knobs back to the constructor's values).

    Captcha tokens are checked as Google's verification checks them
    (:mod:`django_cedula.captcha.replica_tokens`): a token must come from one of the replica's solver
    stand-ins, be for :attr:`site_key`, be at most :attr:`token_max_age` seconds old and not have been
    accepted before; otherwise the lookup gets the page's captcha answer. :meth:`captcha_counts` counts
    the verdicts and each lookup's :attr:`RequestRecord.captcha_check` says which it got.
    """

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        form_delay: float = 0.0,
        token_max_age: float = TOKEN_MAX_AGE,
        valid_token: str | None = None,
        slow_seconds: float = DEFAULT_SLOW_SECONDS,
        site_key: str = DEFAULT_SITE_KEY,
        verbose: bool = False,
        max_sessions: int = 10_000,
        huge_bytes: int = DEFAULT_HUGE_BYTES,
        bomb_bytes: int = DEFAULT_BOMB_BYTES,
        deep_json_depth: int = DEFAULT_DEEP_JSON_DEPTH,
    ) -> None:
        self.host = host
        self.requested_port = port
        #: Seconds every GET of a source's page takes before it answers.
        self.form_delay = form_delay
        #: Seconds a captcha token is accepted after its solve (Google: 120).
        self.token_max_age = token_max_age
        #: A fixed captcha response accepted on every use, besides the stand-ins' tokens; ``None``
        #: (the default) accepts only tokens issued by the stand-ins, once each, as Google does.
        self.valid_token = valid_token
        #: Seconds a slow answer takes.
        self.slow_seconds = slow_seconds
        #: The ``data-sitekey`` of both pages.
        self.site_key = site_key
        #: Log every request to stderr (the CLI turns this on).
        self.verbose = verbose
        self.max_sessions = max_sessions
        #: Bytes of a ``huge`` answer (fault or table number 1000000055).
        self.huge_bytes = huge_bytes
        #: Bytes a ``gzip_bomb`` answer expands to (fault or table number 1000000056).
        self.bomb_bytes = bomb_bytes
        #: Levels of nesting of a ``deep_json`` answer (fault or table number 1000000057).
        self.deep_json_depth = deep_json_depth
        self._defaults = (
            form_delay,
            token_max_age,
            valid_token,
            slow_seconds,
            site_key,
            huge_bytes,
            bomb_bytes,
            deep_json_depth,
        )
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._ids = itertools.count(1)
        self._faults: list[Fault] = []
        self._records: list[RequestRecord] = []
        self._sessions: dict[str, OrderedDict[str, _Session]] = {WSP: OrderedDict(), CENSO: OrderedDict()}
        self._once_fired: set[str] = set()
        self._tokens = TokenVerifier()
        self._interrupt = threading.Event()
        self._errors: list[str] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Replica:
        """Bind and serve from a daemon thread. Returns ``self``."""
        with self._lock:
            if self._server is not None:
                raise RuntimeError("the replica is already running")
            server = _Server((self.host, self.requested_port), self)
            self._server = server
            self._interrupt = threading.Event()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="cedula-replica", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Requests still sleeping (slow, form delay) are dropped."""
        with self._lock:
            server, self._server = self._server, None
            self._interrupt.set()
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Replica:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._server is not None

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (known once started)."""
        server = self._server
        if server is None:
            raise RuntimeError("the replica is not running; call start() first")
        return int(server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL, with a trailing slash: ``http://127.0.0.1:PORT/``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def wsp_url(self) -> str:
        """Source A's page: ``{url}censo/consultar/`` (GET the form, POST lookups)."""
        return self.url.rstrip("/") + WSP_PATH

    @property
    def censo_url(self) -> str:
        """Source B's page: ``{url}consultacenso/`` (also served at ``{url}consultacenso/consultar/``)."""
        return self.url.rstrip("/") + CENSO_PATH

    @property
    def censo_api_url(self) -> str:
        """Source B's API base: ``{url}consultacenso/back/api/`` (``elecciones``, ``consulta``)."""
        return self.url.rstrip("/") + CENSO_API_PATH

    @property
    def recaptcha_script_url(self) -> str:
        """The stand-in for ``https://www.google.com/recaptcha/api.js``."""
        return self.url.rstrip("/") + RECAPTCHA_PATH + "api.js"

    def django_settings(self, source: str = WSP) -> dict[str, Any]:
        """Settings that point the package at this replica and its solver (for ``override_settings``)."""
        return {
            "CEDULA_SCRAPER": (
                "django_cedula.scrapers.wsp.WspScraper"
                if source == WSP
                else "django_cedula.scrapers.consultacenso.ConsultaCensoScraper"
            ),
            "CEDULA_SOURCE_URL": self.wsp_url if source == WSP else self.censo_url,
            "CEDULA_CAPTCHA_SOLVER": "django_cedula.captcha.replica.ReplicaCaptchaSolver",
            # The solver issues a fresh token for the page's site key: the replica accepts each once.
            "CEDULA_CAPTCHA_SOLVER_OPTIONS": {},
        }

    # -- captcha tokens ----------------------------------------------------------------------

    def issue_token(self, site_key: str | None = None) -> str:
        """A fresh token for :attr:`site_key` (or ``site_key``), as the solver stand-ins issue them."""
        return issue_token(site_key or self.site_key)

    def captcha_counts(self) -> dict[str, int]:
        """The token checks' verdicts since the last :meth:`reset`.

        ``{"accepted": n, "reused": n, "expired": n, "foreign_site_key": n, "unknown": n}``; a lookup
        counts once it reaches the captcha check (after the network faults and, on Source A, the form
        token), whatever a ``captcha_reject`` fault then answers.
        """
        return self._tokens.counts()

    def _check_captcha(self, captcha: str | None) -> TokenCheck:
        with self._lock:
            fixed, site_key, max_age = self.valid_token, self.site_key, self.token_max_age
        if fixed is not None and captcha == fixed:
            self._tokens.count(TokenCheck.ACCEPTED)
            return TokenCheck.ACCEPTED
        return self._tokens.verify(captcha or "", site_key, max_age=max_age)

    # -- faults ------------------------------------------------------------------------------

    def set_fault(
        self, mode: FaultMode | str, cedula: str | int | None = None, times: int | None = None
    ) -> None:
        """Switch fault ``mode`` on for ``cedula`` (``None``: every request) for ``times`` firings.

        ``times=None`` keeps it on until :meth:`clear_fault`/:meth:`reset`; ``times=N`` lets it fire
        for the next N requests it applies to, then it switches itself off. Setting the same mode for
        the same number again replaces the earlier setting. A fault set for a number wins over one
        set for every request, which wins over the outcome table.
        """
        fault_mode = FaultMode(mode)
        if times is not None and times < 1:
            raise ValueError("times must be a positive number of firings, or None")
        key = None if cedula is None else normalize_number(cedula)
        with self._lock:
            self._faults = [f for f in self._faults if not (f.mode is fault_mode and f.cedula == key)]
            self._faults.append(Fault(fault_mode, key, times))

    def clear_fault(self, mode: FaultMode | str, cedula: str | int | None = None) -> None:
        """Switch off fault ``mode`` for ``cedula`` (``None``: the one set for every request)."""
        fault_mode = FaultMode(mode)
        key = None if cedula is None else normalize_number(cedula)
        with self._lock:
            self._faults = [f for f in self._faults if not (f.mode is fault_mode and f.cedula == key)]

    def clear_faults(self) -> None:
        """Switch off every fault."""
        with self._lock:
            self._faults = []

    @property
    def faults(self) -> list[Fault]:
        """The active faults (copies)."""
        with self._lock:
            return [dataclasses.replace(f) for f in self._faults]

    def _take_fault(
        self, modes: Iterable[FaultMode], cedula: str | None, *, run_modes: Iterable[FaultMode] | None = None
    ) -> Fault | None:
        # Called where a fault would apply; a fault is used up only when it actually fires.
        # ``run_modes`` narrows which faults set for every request apply here (default: ``modes``).
        wanted = frozenset(modes)
        wanted_run = wanted if run_modes is None else frozenset(run_modes)
        with self._lock:
            candidates = [f for f in self._faults if f.cedula is not None and f.cedula == cedula]
            candidates += [f for f in self._faults if f.cedula is None]
            for fault in candidates:
                if fault.mode not in (wanted if fault.cedula is not None else wanted_run):
                    continue
                fault.fired += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return dataclasses.replace(fault)
        return None

    # -- state -------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget faults, sessions, the request log and errors; restore the constructor's knobs.

        Requests still sleeping (slow answers, form delay) are woken and dropped.
        """
        with self._lock:
            (
                self.form_delay,
                self.token_max_age,
                self.valid_token,
                self.slow_seconds,
                self.site_key,
                self.huge_bytes,
                self.bomb_bytes,
                self.deep_json_depth,
            ) = self._defaults
            self._faults = []
            self._records = []
            self._errors = []
            for sessions in self._sessions.values():
                sessions.clear()
            self._once_fired.clear()
            self._tokens.reset()
            self._interrupt.set()
            self._interrupt = threading.Event()
            self._changed.notify_all()

    def expire_sessions(self) -> None:
        """Forget every session, as if the site had restarted: each client's next lookup answers reload."""
        with self._lock:
            for sessions in self._sessions.values():
                sessions.clear()

    def outcome(self, cedula: str | int) -> Outcome:
        """What the outcome table says about ``cedula`` (faults aside)."""
        return outcome_for(normalize_number(cedula))

    @property
    def errors(self) -> list[str]:
        """Tracebacks of exceptions the replica raised while serving (should stay empty)."""
        with self._lock:
            return list(self._errors)

    # -- the request log ---------------------------------------------------------------------

    def requests(self, **filters: object) -> list[RequestRecord]:
        """Copies of the logged requests whose fields equal ``filters`` (``kind="lookup", cedula="1..."``)."""
        unknown = set(filters) - {field.name for field in dataclasses.fields(RequestRecord)}
        if unknown:
            raise TypeError(f"RequestRecord has no field(s) {sorted(unknown)}")
        wanted = {name: _plain(value) for name, value in filters.items()}
        with self._lock:
            return [
                dataclasses.replace(record)
                for record in self._records
                if all(getattr(record, name) == value for name, value in wanted.items())
            ]

    def count(self, **filters: object) -> int:
        """How many logged requests match ``filters`` (see :meth:`requests`)."""
        return len(self.requests(**filters))

    def lookups(self, cedula: str | int | None = None, source: str | None = None) -> list[RequestRecord]:
        """Logged lookups (A's POST, B's ``consulta``), optionally for one number and/or one source."""
        filters: dict[str, object] = {"kind": "lookup"}
        if cedula is not None:
            filters["cedula"] = normalize_number(cedula)
        if source is not None:
            filters["source"] = source
        return self.requests(**filters)

    def wait_for(self, count: int = 1, timeout: float = 5.0, **filters: object) -> list[RequestRecord]:
        """Wait until at least ``count`` logged requests match ``filters``; raise ``TimeoutError`` otherwise.

        Records are logged on arrival with ``answer="pending"``, so ``wait_for(kind="lookup")`` returns as
        soon as a lookup arrives and ``wait_for(kind="lookup", answer="found")`` once it has been answered.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matches = self.requests(**filters)
                if len(matches) >= count:
                    return matches
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{len(matches)} of {count} requests matching {filters} after {timeout}s"
                    )
                self._changed.wait(remaining)

    def _log(self, method: str, path: str) -> RequestRecord:
        with self._lock:
            record = RequestRecord(id=next(self._ids), time=time.time(), method=method, path=path)
            self._records.append(record)
            self._changed.notify_all()
            return record

    def _finish(self, record: RequestRecord, started: float) -> None:
        with self._lock:
            if record.status == 0:
                # Dropped or abandoned: no answer went out, so the duration was not taken on sending.
                record.duration = time.monotonic() - started
            self._changed.notify_all()

    def _error(self, text: str) -> None:
        with self._lock:
            self._errors.append(text)

    def _generation(self) -> threading.Event:
        """The event that :meth:`stop` and the next :meth:`reset` set: requests take it on arrival."""
        with self._lock:
            return self._interrupt

    def _sleep(self, seconds: float, interrupt: threading.Event) -> bool:
        """Sleep ``seconds``; ``False`` when :meth:`stop` or :meth:`reset` cut the sleep short."""
        if seconds <= 0:
            return True
        with self._lock:
            # Let wait_for() callers see that the request has reached its sleep.
            self._changed.notify_all()
        return not interrupt.wait(seconds)

    # -- sessions ----------------------------------------------------------------------------

    def _session(self, source: str, session_id: str | None) -> _Session | None:
        with self._lock:
            if session_id is None:
                return None
            sessions = self._sessions[source]
            session = sessions.get(session_id)
            if session is not None:
                sessions.move_to_end(session_id)
            return session

    def _new_session(self, source: str) -> _Session:
        with self._lock:
            sessions = self._sessions[source]
            session = _Session("".join(secrets.choice(_SESSION_ALPHABET) for _ in range(26)))
            sessions[session.id] = session
            # Bounded, oldest first out: benchmarks may create many sessions.
            while len(sessions) > self.max_sessions:
                sessions.popitem(last=False)
            return session

    def _anonymous_session(self, source: str) -> _Session:
        # Source B clients that keep no cookies still get once-per-client behaviour, shared among them.
        with self._lock:
            sessions = self._sessions[source]
            session = sessions.get("")
            if session is None:
                session = sessions[""] = _Session("")
            return session

    def _once(self, cedula: str) -> bool:
        """Whether the once-per-run outcome of ``cedula`` is still due (and mark it done)."""
        with self._lock:
            if cedula in self._once_fired:
                return False
            self._once_fired.add(cedula)
            return True


def _plain(value: object) -> object:
    # Let callers filter with enum members (Answer.FOUND, FaultMode.SLOW) as well as strings.
    return value.value if isinstance(value, enum.Enum) else value


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The default backlog (5) makes concurrent clients wait a second for a SYN retry.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], replica: Replica) -> None:
        self.replica = replica
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Keep failures of the replica itself visible to tests instead of printing them only.
        self.replica._error(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    _interrupt: threading.Event
    _started: float
    # The real answers come from Apache/PHP behind an F5 balancer.
    server_version = "Apache"
    sys_version = ""
    # One request per connection: a dropped answer then looks the same to every client.
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.replica.verbose:
            super().log_message(format, *args)

    # -- dispatch ----------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        replica = self.server.replica
        path = urlsplit(self.path).path
        record = replica._log(self.command, path)
        # A request that arrived before a reset() or stop() belongs to the old state: its sleeps end then.
        self._interrupt = replica._generation()
        self._started = started = time.monotonic()
        try:
            self._route(record, path)
        except _Drop as drop:
            self._drop(record, drop.detail)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout on its side); nothing to answer.
            record.detail = record.detail or "client disconnected"
        except Exception:
            replica._error(traceback.format_exc())
            record.answer = Answer.REPLICA_ERROR.value
            with contextlib.suppress(OSError):
                self._send(record, 500, b"replica error", "text/plain", Answer.REPLICA_ERROR)
        finally:
            replica._finish(record, started)

    def _route(self, record: RequestRecord, path: str) -> None:
        method = self.command
        if method == "HEAD":
            # The real site answers HEAD with 500, whatever the path.
            record.kind = "head"
            self._send(record, 500, b"", _HTML, Answer.HEAD_500)
            return
        routes = {
            "/": ("", "index", {"GET": self._index}),
            WSP_PATH: (WSP, "page", {"GET": self._wsp_page, "POST": self._wsp_lookup}),
            WSP_PATH.rstrip("/"): (WSP, "page", {"GET": self._wsp_page, "POST": self._wsp_lookup}),
            CENSO_PATH: (CENSO, "page", {"GET": self._censo_page}),
            CENSO_ALT_PATH: (CENSO, "page", {"GET": self._censo_page}),
            CENSO_API_PATH + "elecciones": (CENSO, "elecciones", {"GET": self._censo_elections}),
            CENSO_API_PATH + "consulta": (CENSO, "lookup", {"POST": self._censo_lookup}),
            RECAPTCHA_PATH + "api.js": ("recaptcha", "script", {"GET": self._recaptcha_script}),
            RECAPTCHA_PATH + "replica/solve": ("recaptcha", "captcha_token", {"GET": self._recaptcha_token}),
            "/favicon.ico": ("", "other", {"GET": self._no_content}),
        }
        route = routes.get(path)
        if route is None:
            self._send(record, 404, pages.not_found_page(path).encode(), _HTML, Answer.HTTP_404)
            return
        source, kind, handlers = route
        record.source, record.kind = source, kind
        handler = handlers.get(method)
        if handler is None:
            self._send(record, 405, b"", _HTML, Answer.HTTP_405, [("Allow", ", ".join(handlers))])
            return
        handler(record)

    # -- plumbing ----------------------------------------------------------------------------

    def _send(
        self,
        record: RequestRecord,
        status: int,
        body: bytes,
        content_type: str,
        answer: Answer,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        # Filled in before the first byte goes out: a client that has its answer sees a complete record.
        record.status = status
        record.answer = answer.value
        record.duration = time.monotonic() - self._started
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store, no-cache, must-revalidate")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _drop(self, record: RequestRecord, detail: str = "") -> None:
        # Close without writing a byte: the client sees an empty reply / connection reset.
        record.answer = Answer.DROPPED.value
        record.status = 0
        if detail:
            record.detail = detail
        self.close_connection = True

    def _cookies(self) -> dict[str, str]:
        cookie = http.cookies.SimpleCookie()
        try:
            cookie.load(self.headers.get("Cookie", ""))
        except http.cookies.CookieError:
            return {}
        return {name: morsel.value for name, morsel in cookie.items()}

    def _body(self, record: RequestRecord) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length", "0") or "0")
        except ValueError:
            length = 0
        if length > _MAX_BODY:
            self._send(record, 413, b"", _HTML, Answer.HTTP_413)
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _block(self, record: RequestRecord, fault: Fault | None, detail: str = "") -> None:
        support_id = str(10**18 + secrets.randbelow(9 * 10**18))
        record.fault = fault.mode.value if fault else record.fault
        record.detail = f"{detail} support ID {support_id}".strip()
        self._send(record, 200, pages.block_page(support_id).encode(), _HTML, Answer.BLOCK)

    def _sleep_or_drop(self, seconds: float) -> None:
        if not self.server.replica._sleep(seconds, self._interrupt):
            raise _Drop("interrupted")

    # -- pages shared by both sources ----------------------------------------------------------

    def _index(self, record: RequestRecord) -> None:
        replica = self.server.replica
        body = pages.index_page(
            wsp_url=replica.wsp_url, censo_url=replica.censo_url, table_markdown=outcome_table_markdown()
        )
        self._send(record, 200, body.encode(), _HTML, Answer.INDEX)

    def _no_content(self, record: RequestRecord) -> None:
        # Browsers ask for it on every page; a 404 would put an error in their console.
        self._send(record, 204, b"", _HTML, Answer.NO_CONTENT)

    def _recaptcha_script(self, record: RequestRecord) -> None:
        self._send(record, 200, _recaptcha_script(), "text/javascript; charset=utf-8", Answer.SCRIPT)

    def _recaptcha_token(self, record: RequestRecord) -> None:
        # The widget's checkbox asks here: each click "solves" the captcha with a fresh token, for the
        # site key the widget was rendered with (``k``, as Google's own frame sends it).
        site_key = parse_qs(urlsplit(self.path).query).get("k", [""])[0]
        token = self.server.replica.issue_token(site_key or None)
        body = json.dumps({"success": True, "token": token}).encode()
        self._send(record, 200, body, _JSON, Answer.CAPTCHA_TOKEN)

    def _page_get(
        self, record: RequestRecord, source: str, cookie_name: str, cookie_path: str
    ) -> tuple[_Session, list[tuple[str, str]]] | None:
        """What both pages do first: delay, block, 500. Returns the session and its cookie headers to
        serve the page with, or ``None`` when the request has been answered already."""
        replica = self.server.replica
        self._sleep_or_drop(replica.form_delay)
        fault = replica._take_fault([FaultMode.BLOCK], None)
        if fault is not None:
            self._block(record, fault)
            return None
        cookies = self._cookies()
        record.session = cookies.get(cookie_name)
        session = replica._session(source, record.session)
        # Source B clients without cookies share one anonymous session; a new session has nothing armed.
        armed = replica._anonymous_session(CENSO) if session is None and source == CENSO else session
        created = session is None
        if session is None:
            session = replica._new_session(source)
        headers = self._set_cookies(source, session, created, cookies, cookie_name, cookie_path)
        error_fault: Fault | None = None
        with replica._lock:
            pending = armed is not None and armed.get500_pending
            if armed is not None:
                armed.get500_pending = False
        if not pending:
            error_fault = replica._take_fault([FaultMode.GET500], None)
        if pending or error_fault is not None:
            record.fault = error_fault.mode.value if error_fault else None
            record.detail = "get500_armed" if pending else ""
            body = pages.error_500_page(self.headers.get("Host", replica.host)).encode()
            self._send(record, 500, body, _HTML, Answer.ERROR_500, headers)
            return None
        return session, headers

    def _set_cookies(
        self,
        source: str,
        session: _Session,
        created: bool,
        cookies: Mapping[str, str],
        cookie_name: str,
        cookie_path: str,
    ) -> list[tuple[str, str]]:
        headers = []
        if created:
            headers.append(("Set-Cookie", f"{cookie_name}={session.id}; path={cookie_path}; HttpOnly"))
        # The load balancer's own cookie, as the real sites set it; clients need not send it back.
        balancer = "BIGipServerpool_wsp_censo" if source == WSP else "TS01c3a7e1"
        if balancer not in cookies:
            value = "1427415232.20480.0000" if source == WSP else secrets.token_hex(24)
            headers.append(("Set-Cookie", f"{balancer}={value}; path=/; HttpOnly"))
        return headers

    # -- Source A ------------------------------------------------------------------------------

    def _wsp_page(self, record: RequestRecord) -> None:
        replica = self.server.replica
        served = self._page_get(record, WSP, "PHPSESSID", "/censo/")
        if served is None:
            return
        session, headers = served
        token = secrets.token_hex(16)
        with replica._lock:
            # A new page load issues a new token; the previous one is dead.
            session.token = token
            record.session = session.id
        body = pages.wsp_form_page(
            token=token, site_key=replica.site_key, recaptcha_src=RECAPTCHA_PATH + "api.js?hl=es"
        ).encode()
        self._send(record, 200, body, _HTML, Answer.PAGE, headers)

    def _wsp_send(self, record: RequestRecord, payload: Mapping[str, Any], answer: Answer) -> None:
        self._send(record, 200, pages.wsp_json(payload), _JSON, answer)

    def _wsp_lookup(self, record: RequestRecord) -> None:
        replica = self.server.replica
        record.kind = "lookup"
        body = self._body(record)
        if body is None:
            return
        fields = _parse_form(self.headers.get("Content-Type", ""), body)
        nuip = fields.get("nuip", "").strip()
        record.cedula = nuip
        record.election = fields.get("tipo")
        record.token = fields.get("token")
        record.captcha = fields.get("g-recaptcha-response")
        record.session = self._cookies().get("PHPSESSID")
        outcome = outcome_for(nuip) if _VALID_NUMBER.fullmatch(nuip) else None
        if self._network_faults(record, nuip, outcome):
            return

        # The form token: single use, bound to the session that loaded the page.
        session = replica._session(WSP, record.session)
        with replica._lock:
            if session is None:
                reason = "no_session"
            elif not record.token or session.token != record.token:
                reason = "stale_token"
            else:
                reason = ""
                session.token = None
        if session is None or reason:
            record.detail = reason
            self._wsp_send(record, pages.WSP_RELOAD, Answer.RELOAD)
            return

        if self._reload_faults(record, session, nuip, outcome):
            self._wsp_send(record, pages.WSP_RELOAD, Answer.RELOAD)
            return
        if self._captcha_rejected(record, nuip, outcome):
            self._wsp_send(record, pages.wsp_answer(False, pages.CAPTCHA_TEXT), Answer.CAPTCHA)
            return
        if outcome is None:
            self._wsp_send(record, pages.wsp_answer(False, pages.INVALID_NUIP_TEXT), Answer.INVALID)
            return
        app = self._app_fault(record, nuip, outcome)
        if app in _OVERSIZED:
            self._oversized(record, WSP, app, nuip, outcome)
        elif app is Answer.GARBAGE:
            self._wsp_send(record, pages.wsp_answer(True, pages.wsp_garbage_message(nuip)), app)
        elif app is Answer.CURL_ERROR:
            self._wsp_send(record, pages.wsp_answer(False, pages.CURL_ERROR_TEXT), app)
        elif app is Answer.UPDATING:
            self._wsp_send(record, pages.wsp_answer(True, pages.UPDATING_TEXT), app)
        elif outcome.kind is OutcomeKind.NOT_FOUND:
            self._wsp_send(record, pages.wsp_answer(True, pages.wsp_not_found_message()), Answer.NOT_FOUND)
        elif outcome.kind is OutcomeKind.CANCELLED:
            assert outcome.novedad is not None
            message = pages.wsp_novedad_message(nuip, outcome.novedad)
            self._wsp_send(record, pages.wsp_answer(True, message), Answer.CANCELLED)
        else:
            assert outcome.place is not None
            message = pages.wsp_found_message(nuip, outcome.place, swap_columns=outcome.swap_columns)
            self._wsp_send(record, pages.wsp_answer(True, message), Answer.FOUND)

    # -- the lookup pipeline shared by both sources ------------------------------------------------

    def _network_faults(self, record: RequestRecord, cedula: str, outcome: Outcome | None) -> bool:
        """Block, drop and slow: they happen before the application sees the request. True if answered."""
        replica = self.server.replica
        fault = replica._take_fault([FaultMode.BLOCK, FaultMode.DROP, FaultMode.SLOW], cedula or None)
        kind = outcome.kind if outcome is not None else None
        mode = fault.mode if fault is not None else None
        if fault is not None:
            record.fault = fault.mode.value
        elif kind in (OutcomeKind.BLOCK, OutcomeKind.DROP, OutcomeKind.SLOW):
            mode = FaultMode(str(kind))
            record.detail = f"table:{mode}"
        if mode is FaultMode.BLOCK:
            self._block(record, fault, record.detail)
            return True
        if mode is FaultMode.DROP:
            raise _Drop(record.detail)
        if mode is FaultMode.SLOW:
            # The answer comes after the sleep (usually to nobody: the client has given up).
            self._sleep_or_drop(replica.slow_seconds)
        return False

    def _reload_faults(
        self, record: RequestRecord, session: _Session, cedula: str, outcome: Outcome | None
    ) -> bool:
        """Reload and 500-on-GET answers (the latter arms the session's next page GET). True: reload."""
        replica = self.server.replica
        # A get500 set for every request concerns page GETs only, not lookups.
        fault = replica._take_fault(
            [FaultMode.RELOAD, FaultMode.GET500], cedula or None, run_modes=[FaultMode.RELOAD]
        )
        with replica._lock:
            if fault is not None:
                record.fault = fault.mode.value
                if fault.mode is FaultMode.GET500:
                    session.get500_pending = True
                    record.detail = "get500_armed"
                return True
            kind = outcome.kind if outcome is not None else None
            if kind is OutcomeKind.RELOAD_ONCE and cedula not in session.reloaded:
                session.reloaded.add(cedula)
                record.detail = "reload_once"
                return True
            if kind is OutcomeKind.GET500 and cedula not in session.get500_done:
                session.get500_done.add(cedula)
                session.get500_pending = True
                record.detail = "get500_armed"
                return True
        return False

    def _captcha_rejected(self, record: RequestRecord, cedula: str, outcome: Outcome | None) -> bool:
        replica = self.server.replica
        # The site verifies the token first (which uses it up), then may refuse for its own reasons.
        check = replica._check_captcha(record.captcha)
        record.captcha_check = check.value
        fault = replica._take_fault([FaultMode.CAPTCHA_REJECT], cedula or None)
        if fault is not None:
            record.fault = fault.mode.value
            return True
        if outcome is not None and outcome.kind is OutcomeKind.CAPTCHA_REJECT:
            record.detail = "table:captcha_reject"
            return True
        if check is not TokenCheck.ACCEPTED:
            record.detail = check.value if record.captcha else "no token"
            return True
        return False

    def _app_fault(self, record: RequestRecord, cedula: str, outcome: Outcome) -> Answer | None:
        """Garbage, curl error, "en actualización": the application's own failures, if one applies."""
        replica = self.server.replica
        fault = replica._take_fault(_APP_FAULTS, cedula)
        if fault is not None:
            record.fault = fault.mode.value
            return Answer(fault.mode.value)
        kind = outcome.kind
        if kind is OutcomeKind.CURL_ERROR_ONCE:
            if replica._once(cedula):
                record.detail = "table:curl_error_once"
                return Answer.CURL_ERROR
            return None
        if kind in _APP_KINDS:
            record.detail = f"table:{kind}"
            return Answer(kind.value)
        return None

    def _oversized(
        self, record: RequestRecord, source: str, answer: Answer, cedula: str, outcome: Outcome
    ) -> None:
        """A huge body, a gzip bomb or JSON nested very deep, as sized by the replica's knobs."""
        replica = self.server.replica
        place = outcome.place or derived_place(cedula)
        headers: list[tuple[str, str]] = []
        if answer is Answer.DEEP_JSON:
            depth = replica.deep_json_depth
            body = pages.wsp_deep_json(depth) if source == WSP else pages.censo_deep_json(depth)
            record.detail = f"{record.detail} depth {depth}".strip()
        else:
            size = replica.huge_bytes if answer is Answer.HUGE else replica.bomb_bytes
            padded = pages.wsp_huge_answer if source == WSP else pages.censo_huge_answer
            body = padded(cedula, place, size, blank=answer is Answer.GZIP_BOMB)
            if answer is Answer.GZIP_BOMB:
                body = pages.gzip_bomb(body)
                headers.append(("Content-Encoding", "gzip"))
            record.detail = f"{record.detail} {size} bytes".strip()
        self._send(record, 200, body, _JSON, answer, headers)

    # -- Source B ------------------------------------------------------------------------------

    def _censo_page(self, record: RequestRecord) -> None:
        replica = self.server.replica
        served = self._page_get(record, CENSO, "PHPSESSID", CENSO_PATH)
        if served is None:
            return
        session, headers = served
        record.session = session.id
        body = pages.censo_page(
            site_key=replica.site_key, recaptcha_src=RECAPTCHA_PATH + "api.js?hl=es", api_base=CENSO_API_PATH
        ).encode()
        self._send(record, 200, body, _HTML, Answer.PAGE, headers)

    def _censo_elections(self, record: RequestRecord) -> None:
        fault = self.server.replica._take_fault([FaultMode.BLOCK], None)
        if fault is not None:
            self._block(record, fault)
            return
        self._send(record, 200, pages.censo_json(pages.censo_elections()), _JSON, Answer.ELECCIONES)

    def _censo_send(
        self, record: RequestRecord, status: int, payload: Mapping[str, Any], answer: Answer
    ) -> None:
        self._send(record, status, pages.censo_json(payload), _JSON, answer)

    def _censo_lookup(self, record: RequestRecord) -> None:
        replica = self.server.replica
        body = self._body(record)
        if body is None:
            return
        record.session = self._cookies().get("PHPSESSID")
        try:
            request = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            request = None
        if not isinstance(request, dict):
            record.cedula = ""
            self._censo_send(record, 400, pages.censo_error(pages.CENSO_BAD_REQUEST_TEXT), Answer.INVALID)
            return
        documento = request.get("documento")
        cedula = str(documento).strip() if isinstance(documento, (str, int)) else ""
        record.cedula = cedula
        election = request.get("eleccionId")
        record.election = None if election is None else str(election)
        captcha = request.get("captchaToken")
        record.captcha = captcha if isinstance(captcha, str) else None
        outcome = outcome_for(cedula) if _VALID_NUMBER.fullmatch(cedula) else None
        if self._network_faults(record, cedula, outcome):
            return
        session = replica._session(CENSO, record.session) or replica._anonymous_session(CENSO)
        if self._reload_faults(record, session, cedula, outcome):
            payload = pages.censo_error(pages.CENSO_RELOAD_TEXT, reload=True)
            self._censo_send(record, 200, payload, Answer.RELOAD)
            return
        if self._captcha_rejected(record, cedula, outcome):
            self._censo_send(record, 400, pages.censo_error(pages.CENSO_CAPTCHA_TEXT), Answer.CAPTCHA)
            return
        if outcome is None:
            self._censo_send(record, 400, pages.censo_error(pages.CENSO_INVALID_TEXT), Answer.INVALID)
            return
        app = self._app_fault(record, cedula, outcome)
        if app in _OVERSIZED:
            self._oversized(record, CENSO, app, cedula, outcome)
        elif app is Answer.GARBAGE:
            self._send(record, 200, pages.CENSO_GARBAGE, _JSON, app)
        elif app is Answer.CURL_ERROR:
            self._censo_send(record, 502, pages.censo_curl_error(), app)
        elif app is Answer.UPDATING:
            self._censo_send(record, 200, pages.censo_updating(), app)
        elif outcome.kind is OutcomeKind.NOT_FOUND:
            self._censo_send(record, 200, pages.censo_not_found(), Answer.NOT_FOUND)
        elif outcome.kind is OutcomeKind.CANCELLED:
            assert outcome.novedad is not None
            self._censo_send(record, 200, pages.censo_novedad(cedula, outcome.novedad), Answer.CANCELLED)
        else:
            assert outcome.place is not None
            payload = pages.censo_found(cedula, outcome.place, upper_keys=outcome.upper_keys)
            self._censo_send(record, 200, payload, Answer.FOUND)


@functools.lru_cache(maxsize=1)
def _recaptcha_script() -> bytes:
    return resources.files("django_cedula.testing.replica").joinpath("static/recaptcha_api.js").read_bytes()


def _parse_form(content_type: str, body: bytes) -> dict[str, str]:
    """The fields of a multipart or url-encoded form (first value of each name)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data":
        # The email parser reads MIME multipart bodies; it needs the header that carries the boundary.
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        fields: dict[str, str] = {}
        if isinstance(message, EmailMessage) and message.is_multipart():
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if not isinstance(name, str) or name in fields:
                    continue
                payload = part.get_payload(decode=True)
                fields[name] = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        return fields
    if media_type in ("application/x-www-form-urlencoded", ""):
        parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {name: values[0] for name, values in parsed.items()}
    return {}
