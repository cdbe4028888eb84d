"""The HTTP plumbing: the threaded server and the request handler's base (dispatch, logging each
request, sending, dropping, cookies, bodies, the firewall's block page, sleeps that ``reset`` cuts).

Also the paths both sources are served under and the sources' names. Which path goes to which
endpoint is :mod:`.routes` (with the replica's own endpoints); the sources' endpoints are in
:mod:`.wsp_endpoints` and :mod:`.censo_endpoints`, on top of :mod:`.shared_steps`.
"""

from __future__ import annotations

import contextlib
import http.cookies
import secrets
import threading
import time
import traceback
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .faults import Fault
from .records import Answer, RequestRecord
from .site_pages import block_page

if TYPE_CHECKING:
    from .control import Replica

#: Paths of the two sources, keeping the real sites' relative structure under one local host.
WSP_PATH = "/censo/consultar/"
CENSO_PATH = "/consultacenso/"
CENSO_ALT_PATH = "/consultacenso/consultar/"
CENSO_API_PATH = "/consultacenso/back/api/"
RECAPTCHA_PATH = "/recaptcha/"
#: The replica's control endpoint (:class:`~.routes.ControlEndpoints`), for loopback clients.
CONTROL_PATH = "/__replica__/"

#: The two sources' names, as :attr:`RequestRecord.source <.records.RequestRecord.source>` and
#: ``Replica.django_settings(source)`` spell them: Source A ("wsp") and Source B ("consultacenso").
WSP = "wsp"
CENSO = "censo"

#: Content types of the sources' answers.
HTML = "text/html; charset=UTF-8"
JSON = "application/json; charset=utf-8"
#: Request bodies larger than this get 413.
MAX_BODY = 1 << 20


class Drop(Exception):
    """Raised inside a handler to close the connection without answering."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


class ReplicaServer(ThreadingHTTPServer):
    """One thread per request, serving both sources for ``replica`` with ``handler`` (:mod:`.routes`)."""

    daemon_threads = True
    allow_reuse_address = True
    # The default backlog (5) makes concurrent clients wait a second for a SYN retry.
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], replica: Replica, handler: type[BaseHTTPRequestHandler]
    ) -> None:
        self.replica = replica
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Keep failures of the replica itself visible to tests instead of printing them only.
        self.replica._log.error(traceback.format_exc())


class HandlerBase(BaseHTTPRequestHandler):
    """What every endpoint stands on: each request is logged, routed (``_route``) and answered once."""

    server: ReplicaServer
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
        record = replica._log.arrived(self.command, path)
        # A request that arrived before a reset() or stop() belongs to the old state: its sleeps end then.
        self._interrupt = replica._generation()
        self._started = started = time.monotonic()
        try:
            self._route(record, path)
        except Drop as drop:
            self._drop(record, drop.detail)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout on its side); nothing to answer.
            record.detail = record.detail or "client disconnected"
        except Exception:
            replica._log.error(traceback.format_exc())
            record.answer = Answer.REPLICA_ERROR.value
            with contextlib.suppress(OSError):
                self._send(record, 500, b"replica error", "text/plain", Answer.REPLICA_ERROR)
        finally:
            replica._log.finished(record, started)

    def _route(self, record: RequestRecord, path: str) -> None:
        """Answer the request: the handler class of :mod:`.routes` maps paths to endpoints."""
        raise NotImplementedError

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
        if length > MAX_BODY:
            self._send(record, 413, b"", HTML, Answer.HTTP_413)
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _block(self, record: RequestRecord, fault: Fault | None, detail: str = "", status: int = 200) -> None:
        support_id = str(10**18 + secrets.randbelow(9 * 10**18))
        record.fault = fault.mode.value if fault else record.fault
        record.detail = f"{detail} support ID {support_id}".strip()
        self._send(record, status, block_page(support_id).encode(), HTML, Answer.BLOCK)

    def _sleep_or_drop(self, seconds: float) -> None:
        if not self.server.replica._sleep(seconds, self._interrupt):
            raise Drop("interrupted")
