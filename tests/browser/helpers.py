"""Helpers of the browser runtime tests: a local site, process accounting, child-process targets.

Every runtime a test starts runs with a unique ``CEDULA_TEST_TAG`` in its environment, which
Playwright's driver and Chromium's main process inherit. Looking for that tag in
``/proc/*/environ`` finds the processes a runtime started, even while other Chromium instances
run on the same machine. Chromium's zygote, GPU, utility and renderer processes do not carry the
tag (Debian's Chromium 156 starts them with a fresh environment); they share the browser's
process group, which ``tests/reliability/support.py``'s ``ChromiumWatch`` follows as well.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import urlsplit

from playwright.async_api import Page

from django_cedula.browser import processes

TAG_VAR = "CEDULA_TEST_TAG"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>cedula test</title></head>
<body><p id="hello">hola</p></body></html>
"""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("http://"):
            # An absolute URI: the client uses us as its proxy (Playwright proxies loopback too).
            url = urlsplit(self.path)
            host, port = cast("tuple[str, int]", self.server.server_address)[:2]
            if url.netloc != f"{host}:{port}":
                self._send(200, json.dumps({"proxied": self.path}), "application/json")
                return
            self.path = url.path + (f"?{url.query}" if url.query else "")
        if self.path.startswith("/set-cookie"):
            self._send(200, PAGE, "text/html", [("Set-Cookie", "probe=1; Path=/")])
        elif self.path.startswith("/echo"):
            headers = {name.lower(): value for name, value in self.headers.items()}
            self._send(200, json.dumps(headers), "application/json")
        else:
            self._send(200, PAGE, "text/html")

    def _send(self, status: int, body: str, content_type: str, extra: list[tuple[str, str]] = ()) -> None:  # type: ignore[assignment]
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A context closed while its page loads hangs up on us: not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Site:
    """A tiny HTTP site on 127.0.0.1 (also usable as an HTTP proxy)."""

    def __init__(self) -> None:
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Site:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def new_tag() -> str:
    return uuid.uuid4().hex


def tagged_processes(tag: str) -> list[processes.ProcessInfo]:
    """Live browser or driver processes whose environment carries ``CEDULA_TEST_TAG=<tag>``.

    Python processes are left out: the test's own children and ``multiprocessing``'s helpers
    (resource tracker, fork server) are not the runtime's to stop.
    """
    needle = f"{TAG_VAR}={tag}".encode()
    found = []
    for info in processes.iter_processes():
        if info.pid == os.getpid() or not info.alive or info.comm.startswith("python"):
            continue
        try:
            with open(f"/proc/{info.pid}/environ", "rb") as handle:
                entries = handle.read().split(b"\0")
        except OSError:
            continue
        if needle in entries:
            found.append(info)
    return found


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return predicate()
        time.sleep(interval)


def assert_no_tagged_processes(tag: str, timeout: float = 10.0) -> None:
    if not wait_until(lambda: not tagged_processes(tag), timeout):
        left = [(p.pid, p.comm, p.state) for p in tagged_processes(tag)]
        raise AssertionError(f"processes left behind: {left}")


def chromium_alive(pid: int | None) -> bool:
    return pid is not None and processes.is_alive(pid)


@contextmanager
def timer() -> Iterator[list[float]]:
    """``with timer() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    elapsed: list[float] = []
    start = time.perf_counter()
    try:
        yield elapsed
    finally:
        elapsed.append(time.perf_counter() - start)


async def page_title(page: Page, url: str) -> str:
    await page.goto(url)
    return await page.title()


def child_lookup(url: str, queue: Any) -> None:
    """A ``multiprocessing`` target: one lookup with the process-wide runtime, reported on ``queue``."""
    from django_cedula.browser import get_browser_runtime

    try:
        runtime = get_browser_runtime()
        title = runtime.run_page(lambda page: page_title(page, url), timeout=60)
        queue.put(
            {
                "pid": os.getpid(),
                "runtime_pid": runtime.pid,
                "browser_pid": runtime.browser_pid,
                "title": title,
            }
        )
    except BaseException as exc:
        queue.put({"error": repr(exc)})
        raise
