"""The replica's Python API: :class:`Replica`, the control object tests hold.

It owns the knobs (plain attributes, with their defaults here), starts and stops the server
(:mod:`.http_server`), gives the addresses and settings of both sources, and fronts the state the
handlers share: the faults (:mod:`.faults`), the request log (:mod:`.records`), the sessions
(:mod:`.sessions`) and the captcha verifier with its counts (:mod:`.tokens`). One lock guards all
of it, so tests may change knobs and read the log while requests are in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .elecciones_endpoints import ELECCIONES, ELECCIONES_API_PATH, ELECCIONES_PATH
from .elecciones_pages import ELECCIONES_CODES
from .faults import Fault, FaultMode, FaultSwitch, normalize_number
from .http_server import CENSO, CENSO_API_PATH, CENSO_PATH, RECAPTCHA_PATH, WSP, WSP_PATH, ReplicaServer
from .outcomes import Outcome, outcome_for
from .records import RequestLog, RequestRecord
from .routes import Handler
from .sessions import SessionStore
from .tokens import TOKEN_MAX_AGE, TokenCheck, TokenVerifier, issue_token
from .vigencia_endpoints import VIGENCIA_PATH

if TYPE_CHECKING:
    from .tls import TlsEndpoint

#: A fixed string for ``Replica(valid_token=DEFAULT_VALID_TOKEN)`` / ``--valid-token``: only when so
#: configured does the replica accept a fixed token (on every use). By default it accepts only the tokens
#: its solver stand-ins issue, once each (:mod:`django_cedula.testing.replica.tokens`).
DEFAULT_VALID_TOKEN = "replica-valid-token"

#: The reCAPTCHA site key the replica's pages carry. Shaped like a real v2 key (40 characters, ``6L...``)
#: so that clients reading ``data-sitekey`` see something plausible; it means nothing to Google.
DEFAULT_SITE_KEY = "6LdReplicaLocalSiteKeyForTestsOnly000000"

#: Seconds a "slow" answer takes unless told otherwise: longer than a typical client timeout.
DEFAULT_SLOW_SECONDS = 30.0

#: Bytes of a "huge" answer unless told otherwise (``Replica(huge_bytes=...)``).
DEFAULT_HUGE_BYTES = 20 * 1024 * 1024

#: Bytes a "gzip bomb" answer expands to unless told otherwise (``Replica(bomb_bytes=...)``); about a
#: thousandth of it goes over the wire.
DEFAULT_BOMB_BYTES = 100 * 1024 * 1024

#: How deep a "deep JSON" answer nests unless told otherwise (``Replica(deep_json_depth=...)``).
DEFAULT_DEEP_JSON_DEPTH = 50_000


class Replica:
    """A local replica of the Registraduría's census lookup (Source A and Source B).

    ``Replica(port=0)`` picks a free port; :meth:`start` serves from a background thread and
    :meth:`stop` shuts down (also as a context manager). Knobs are plain attributes that tests
    may change at any time: :attr:`form_delay`, :attr:`token_max_age`, :attr:`valid_token`,
    :attr:`slow_seconds`, :attr:`site_key`, :attr:`huge_bytes`, :attr:`bomb_bytes`,
    :attr:`deep_json_depth`. Faults are switched with :meth:`set_fault`; :meth:`reset` restores the
    state of a fresh replica (knobs back to the constructor's values).

    Captcha tokens are checked as Google's verification checks them
    (:mod:`django_cedula.testing.replica.tokens`): a token must come from one of the replica's solver
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
        source_options: Mapping[str, Any] | None = None,
        tls: bool = False,
    ) -> None:
        self.host = host
        #: Serve over HTTPS too, from :meth:`start` (:meth:`start_tls`).
        self.tls = tls
        self._tls: TlsEndpoint | None = None
        #: Options every entry of :meth:`source` gets unless given (a test suite's short page timeout).
        self.source_options = dict(source_options or {})
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
        self._faults = FaultSwitch(self._lock)
        self._log = RequestLog(self._lock)
        self._sessions = SessionStore(self._lock)
        #: Numbers whose once-per-run outcome (curl error once) already happened since start or reset.
        self._once_fired: set[str] = set()
        self._tokens = TokenVerifier()
        #: Tokens issued by the solve endpoint since start or reset (``solves()``).
        self._solves = 0
        self._interrupt = threading.Event()
        self._server: ReplicaServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Replica:
        """Bind and serve from a daemon thread. Returns ``self``."""
        with self._lock:
            if self._server is not None:
                raise RuntimeError("the replica is already running")
            server = ReplicaServer((self.host, self.requested_port), self, Handler)
            self._server = server
            self._interrupt = threading.Event()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="cedula-replica", daemon=True
        )
        self._thread.start()
        if self.tls:
            self.start_tls()
        return self

    def start_tls(self) -> Replica:
        """Serve the same paths over HTTPS as well, on a port of its own, with a certificate issued by
        a CA made for this replica (:mod:`.tls`, needs ``trustme``): :attr:`vigencia_url_tls`,
        :attr:`tls_ca_file`. Returns ``self``."""
        from .routes import Handler as _Handler
        from .tls import TlsEndpoint

        with self._lock:
            if self._tls is None:
                self._tls = TlsEndpoint(self, _Handler)
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Requests still sleeping (slow, form delay) are dropped."""
        with self._lock:
            server, self._server = self._server, None
            tls, self._tls = self._tls, None
            self._interrupt.set()
        if tls is not None:
            tls.stop()
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

    @property
    def vigencia_url(self) -> str:
        """The vigencia service (the pre-check's): ``{url}VigenciaCedula/consulta``."""
        return self.url.rstrip("/") + VIGENCIA_PATH

    @property
    def vigencia_url_tls(self) -> str:
        """The vigencia service over HTTPS (:meth:`start_tls` first)."""
        return f"https://127.0.0.1:{self._tls_endpoint().port}{VIGENCIA_PATH}"

    @property
    def tls_ca_file(self) -> str:
        """The PEM file of the CA behind the HTTPS endpoint's certificate (the ``verify`` option)."""
        return self._tls_endpoint().ca_file

    def _tls_endpoint(self) -> TlsEndpoint:
        if self._tls is None:
            raise RuntimeError("the replica serves no HTTPS; call start_tls() first, or Replica(tls=True)")
        return self._tls

    def precheck_settings(self, *, tls: bool = False, **options: Any) -> dict[str, Any]:
        """``CEDULA_PRECHECK`` pointing at this replica's vigencia service (``tls``: over HTTPS, trusting
        the replica's CA), with ``options`` besides (``timeout``, ``rate``...)."""
        url = (
            {"url": self.vigencia_url_tls, "verify": self.tls_ca_file} if tls else {"url": self.vigencia_url}
        )
        return {
            "BACKEND": "django_cedula.scrapers.vigencia.VigenciaPrecheck",
            "OPTIONS": {**url, **options},
        }

    @property
    def elecciones_url(self) -> str:
        """The election-season site's page: ``{url}elecciones/identificacion``."""
        return self.url.rstrip("/") + ELECCIONES_PATH

    @property
    def elecciones_api_url(self) -> str:
        """The election-season API: ``{url}elecciones/api/v1/citizen/get-information``."""
        return self.url.rstrip("/") + ELECCIONES_API_PATH

    def source(self, source: str = WSP, **options: Any) -> dict[str, Any]:
        """An entry of ``CEDULA_SOURCES`` for ``source`` of this replica: the browser scraper of that
        source at its URL here, with ``options`` besides (``page_timeout``, ``browser``, ...).
        ``"elecciones"`` is the election-season source, with its API here and the season's first
        election code."""
        if source == ELECCIONES:
            season = {"url": self.elecciones_url, "api_url": self.elecciones_api_url}
            season["election_code"] = ELECCIONES_CODES[0][0]
            return {
                "BACKEND": "django_cedula.scrapers.elecciones.EleccionesScraper",
                "OPTIONS": {**season, **self.source_options, **options},
            }
        backend = (
            "django_cedula.scrapers.wsp.WspScraper"
            if source == WSP
            else "django_cedula.scrapers.consultacenso.ConsultaCensoScraper"
        )
        url = self.wsp_url if source == WSP else self.censo_url
        return {"BACKEND": backend, "OPTIONS": {"url": url, **self.source_options, **options}}

    def django_settings(self, source: str = WSP, **options: Any) -> dict[str, Any]:
        """Settings that point the package at this replica and its solver (for ``override_settings``):
        ``source`` (:meth:`source`, with ``options``) the one source."""
        return {
            "CEDULA_SOURCES": [self.source(source, **options)],
            # The solver issues a fresh token for the page's site key: the replica accepts each once.
            "CEDULA_CAPTCHA_SOLVER": {"BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver"},
        }

    def chain_settings(self, *sources: str, **options: Any) -> dict[str, Any]:
        """Settings for a fallback chain over ``sources`` of this replica, in order (default: Source A,
        then Source B), each entry with its own ``url`` and ``options``."""
        return {
            **self.django_settings(),
            "CEDULA_SOURCES": [self.source(source, **options) for source in sources or (WSP, CENSO)],
        }

    # -- captcha tokens ----------------------------------------------------------------------

    def issue_token(self, site_key: str | None = None) -> str:
        """A fresh token for :attr:`site_key` (or ``site_key``), as the solver stand-ins issue them."""
        return issue_token(site_key or self.site_key)

    def _issue_solve(self, site_key: str | None) -> str:
        """A token issued by the solve endpoint, counted as one solve."""
        with self._lock:
            self._solves += 1
        return self.issue_token(site_key)

    def solves(self) -> int:
        """Solves of the solver stand-ins given this replica's URL (``replica_url``, as
        :meth:`solver_settings` gives it) and of the widget's checkbox, since start or :meth:`reset`:
        what a cluster spent, whatever process its workers run in."""
        with self._lock:
            return self._solves

    def solver_settings(self, **options: Any) -> dict[str, Any]:
        """``CEDULA_CAPTCHA_SOLVER`` for a :class:`~django_cedula.testing.captcha.ReplicaCaptchaSolver`
        that gets its tokens from this replica, so that :meth:`solves` counts them (``options``: the
        solver's own, ``delay`` say)."""
        return {
            "BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver",
            "OPTIONS": {"replica_url": self.url, **options},
        }

    def state(self) -> dict[str, Any]:
        """The active faults, the captcha verdicts and the solves (``GET /__replica__/state``)."""
        return {
            "faults": [
                {"mode": f.mode.value, "cedula": f.cedula, "remaining": f.remaining, "fired": f.fired}
                for f in self.faults
            ],
            "captcha_counts": self.captcha_counts(),
            "solves": self.solves(),
        }

    def captcha_counts(self) -> dict[str, int]:
        """The token checks' verdicts since the last :meth:`reset`.

        ``{"accepted": n, "reused": n, "expired": n, "foreign_site_key": n, "unknown": n}``; a lookup
        counts once it reaches the captcha check (after the network faults and, on Source A, the form
        token), whatever a ``captcha_reject`` fault then answers.
        """
        return self._tokens.counts()

    def _check_captcha(self, captcha: str | None) -> TokenCheck:
        """The verdict on a lookup's captcha response (counted in :meth:`captcha_counts`)."""
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
        self._faults.set(mode, cedula, times)

    def clear_fault(self, mode: FaultMode | str, cedula: str | int | None = None) -> None:
        """Switch off fault ``mode`` for ``cedula`` (``None``: the one set for every request)."""
        self._faults.clear(mode, cedula)

    def clear_faults(self) -> None:
        """Switch off every fault."""
        self._faults.clear_all()

    @property
    def faults(self) -> list[Fault]:
        """The active faults (copies)."""
        return self._faults.active()

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
            self._faults.clear_all()
            self._log.clear()
            self._sessions.clear()
            self._once_fired.clear()
            self._tokens.reset()
            self._solves = 0
            self._interrupt.set()
            self._interrupt = threading.Event()
            self._log.notify()

    def expire_sessions(self) -> None:
        """Forget every session, as if the site had restarted: each client's next lookup answers reload."""
        self._sessions.clear()

    def outcome(self, cedula: str | int) -> Outcome:
        """What the outcome table says about ``cedula`` (faults aside)."""
        return outcome_for(normalize_number(cedula))

    @property
    def errors(self) -> list[str]:
        """Tracebacks of exceptions the replica raised while serving (should stay empty)."""
        return self._log.errors()

    def _once(self, cedula: str) -> bool:
        """Whether the once-per-run outcome of ``cedula`` is still due (and mark it done)."""
        with self._lock:
            if cedula in self._once_fired:
                return False
            self._once_fired.add(cedula)
            return True

    # -- the request log ---------------------------------------------------------------------

    def requests(self, **filters: object) -> list[RequestRecord]:
        """Copies of the logged requests whose fields equal ``filters`` (``kind="lookup", cedula="1..."``)."""
        return self._log.select(**filters)

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
        return self._log.wait_for(count, timeout, filters)

    # -- sleeps --------------------------------------------------------------------------------

    def _generation(self) -> threading.Event:
        """The event that :meth:`stop` and the next :meth:`reset` set: requests take it on arrival."""
        with self._lock:
            return self._interrupt

    def _sleep(self, seconds: float, interrupt: threading.Event) -> bool:
        """Sleep ``seconds``; ``False`` when :meth:`stop` or :meth:`reset` cut the sleep short."""
        if seconds <= 0:
            return True
        # Let wait_for() callers see that the request has reached its sleep.
        self._log.notify()
        return not interrupt.wait(seconds)
