"""The request log: what the replica answered (:class:`Answer`), one logged request
(:class:`RequestRecord`) and :class:`RequestLog`, which keeps them, the replica's own errors, and
wakes those waiting for a request (``Replica.wait_for``)."""

from __future__ import annotations

import dataclasses
import enum
import itertools
import threading
import time


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
    HTTP_407 = "http_407"
    HTTP_410 = "http_410"
    HTTP_429 = "http_429"
    HTTP_405 = "http_405"
    HTTP_413 = "http_413"
    HTTP_403 = "http_403"
    #: A lookup answered in the shape of the ``new_markup`` fault.
    NEW_MARKUP = "new_markup"
    #: The vigencia service's JSON answer, and its empty Angular page instead (``vigencia_shell``).
    VIGENCIA = "vigencia"
    SHELL = "shell"
    #: The replica's control endpoint (``/__replica__/...``) answered.
    CONTROL = "control"
    REPLICA_ERROR = "replica_error"

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass
class RequestRecord:
    """One request the replica received. Fields other than ``answer``/``status`` are set on arrival."""

    id: int
    time: float
    method: str
    path: str
    #: ``"wsp"`` (Source A), ``"censo"`` (Source B), ``"vigencia"``, ``"recaptcha"`` or ``""``.
    source: str = ""
    #: ``"page"``, ``"lookup"``, ``"elecciones"``, ``"script"``, ``"captcha_token"``, ``"index"``,
    #: ``"head"``, ``"vigencia"`` (a question to the vigencia service: not a census lookup) or ``"other"``.
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


class RequestLog:
    """The logged requests and the replica's own errors, guarded by the replica's lock.

    Records are logged on arrival and filled in as the request is answered; every change wakes
    :meth:`wait_for` (the condition shares the replica's lock, so ``reset`` is one step).
    """

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._changed = threading.Condition(lock)
        self._ids = itertools.count(1)
        self._records: list[RequestRecord] = []
        self._errors: list[str] = []

    def select(self, **filters: object) -> list[RequestRecord]:
        """Copies of the records whose fields equal ``filters`` (see ``Replica.requests``)."""
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

    def wait_for(self, count: int, timeout: float, filters: dict[str, object]) -> list[RequestRecord]:
        """Wait until at least ``count`` records match ``filters``; ``TimeoutError`` otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matches = self.select(**filters)
                if len(matches) >= count:
                    return matches
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{len(matches)} of {count} requests matching {filters} after {timeout}s"
                    )
                self._changed.wait(remaining)

    def arrived(self, method: str, path: str) -> RequestRecord:
        """Log a request on arrival; the handler fills the record in as it answers."""
        with self._lock:
            record = RequestRecord(id=next(self._ids), time=time.time(), method=method, path=path)
            self._records.append(record)
            self._changed.notify_all()
            return record

    def finished(self, record: RequestRecord, started: float) -> None:
        """The request is over (answered, dropped or abandoned)."""
        with self._lock:
            if record.status == 0:
                # Dropped or abandoned: no answer went out, so the duration was not taken on sending.
                record.duration = time.monotonic() - started
            self._changed.notify_all()

    def notify(self) -> None:
        """Wake :meth:`wait_for` callers to look again (a request reached a sleep, a reset)."""
        with self._lock:
            self._changed.notify_all()

    def error(self, text: str) -> None:
        """Keep a traceback of the replica's own failure, for tests to see."""
        with self._lock:
            self._errors.append(text)

    def errors(self) -> list[str]:
        """The tracebacks kept (a copy)."""
        with self._lock:
            return list(self._errors)

    def clear(self) -> None:
        """Forget the records and errors (record ids keep counting)."""
        with self._lock:
            self._records = []
            self._errors = []


def _plain(value: object) -> object:
    # Let callers filter with enum members (Answer.FOUND, FaultMode.SLOW) as well as strings.
    return value.value if isinstance(value, enum.Enum) else value
