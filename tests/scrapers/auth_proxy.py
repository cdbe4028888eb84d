"""A forward HTTP proxy that asks for a username and password (Basic), for the tests of a source's
``proxy`` option: with the right credentials it relays plain ``http://`` requests, whatever the
method; with wrong or missing ones it answers 407, as Squid does."""

from __future__ import annotations

import base64
import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

#: Headers that concern one connection only: never relayed.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
     "transfer-encoding", "upgrade", "proxy-connection"}
)  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    server: _ProxyServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _authorised(self) -> bool:
        proxy = self.server.proxy
        wanted = "Basic " + base64.b64encode(f"{proxy.username}:{proxy.password}".encode()).decode()
        given = self.headers.get("Proxy-Authorization")
        with proxy.lock:
            proxy.seen.append(given)
        if given == wanted:
            return True
        body = b"<html><body><h1>407 Proxy Authentication Required</h1></body></html>" if proxy.page else b""
        self.send_response(407)
        self.send_header("Proxy-Authenticate", 'Basic realm="tests"')
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return False

    def _relay(self) -> None:
        if not self._authorised():
            return
        target = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
        upstream = http.client.HTTPConnection(target.hostname or "", target.port or 80, timeout=30)
        try:
            path = target.path + (f"?{target.query}" if target.query else "")
            upstream.request(self.command, path or "/", body=body, headers=headers)
            answer = upstream.getresponse()
            content = answer.read()
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        finally:
            upstream.close()

    do_GET = do_POST = do_HEAD = _relay

    def do_CONNECT(self) -> None:
        if self._authorised():  # only plain http:// is relayed: the replica speaks nothing else
            self.send_response(501)
            self.end_headers()


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, proxy: AuthProxy) -> None:
        self.proxy = proxy
        super().__init__(("127.0.0.1", 0), _Handler)


class AuthProxy:
    """``with AuthProxy("user", "secret") as proxy``: a proxy on ``proxy.server`` (``http://127.0.0.1:N``).

    Its 407 comes with a short page, or with no body at all (``page=False``: Chromium then shows its
    own error page instead). ``seen`` holds the ``Proxy-Authorization`` of every request it received
    (``None`` if absent).
    """

    def __init__(self, username: str, password: str, *, page: bool = True) -> None:
        self.username = username
        self.password = password
        self.page = page
        self.lock = threading.Lock()
        self.seen: list[str | None] = []
        self._server = _ProxyServer(self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="auth-proxy", daemon=True)

    @property
    def server(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, username: str, password: str) -> str:
        """The proxy's URL with these credentials in it."""
        return f"http://{username}:{password}@127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> AuthProxy:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
