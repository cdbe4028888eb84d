"""Endpoint mode: connecting to a browser someone else runs, over CDP or to a Playwright server."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from playwright.async_api import Page

from django_cedula.browser import BASE_ARGS, BrowserRuntime

from .conftest import CHROMIUM
from .helpers import Site, page_title

pytestmark = pytest.mark.browser


def read_line_matching(stream: IO[str], pattern: str, timeout: float) -> re.Match[str]:
    """The first line of ``stream`` that matches; read in a thread, so a silent process cannot hang us."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    while True:
        line = lines.get(timeout=timeout)
        if line is None:
            raise AssertionError(f"no line matching {pattern!r} in: {''.join(seen)[-2000:]}")
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match


def stop_group(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


@pytest.fixture(scope="module")
def devtools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A Chromium started by hand with remote debugging; yields it and its browser's ws URL."""
    profile = tmp_path_factory.mktemp("cdp-profile")
    args = [
        CHROMIUM,
        "--headless",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        *BASE_ARGS,
        "--no-sandbox",
        "about:blank",
    ]
    proc = subprocess.Popen(
        args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, start_new_session=True
    )
    try:
        assert proc.stderr is not None
        match = read_line_matching(proc.stderr, r"DevTools listening on (ws://\S+)", 30)
        yield proc, match.group(1)
    finally:
        stop_group(proc)


def http_endpoint(ws_url: str) -> str:
    port = re.search(r":(\d+)/", ws_url)
    assert port
    return f"http://127.0.0.1:{port.group(1)}"


@pytest.mark.parametrize("form", ["http", "ws-devtools"])
def test_cdp_endpoint(
    devtools: tuple[subprocess.Popen[str], str],
    make_runtime: Callable[..., BrowserRuntime],
    site: Site,
    form: str,
) -> None:
    proc, ws_url = devtools
    endpoint = http_endpoint(ws_url) if form == "http" else ws_url
    runtime = make_runtime(endpoint=endpoint)

    async def set_cookie(page: Page) -> str:
        await page.goto(f"{site.url}/set-cookie")
        return str(await page.evaluate("document.cookie"))

    async def cookies(page: Page) -> int:
        await page.goto(site.url)
        return len(await page.context.cookies())

    assert runtime.run_page(set_cookie) == "probe=1"
    assert runtime.run_page(cookies) == 0
    assert runtime.run_page(lambda page: page_title(page, site.url)) == "cedula test"
    assert runtime.browser_pid is None  # not ours to know, nor to kill
    assert runtime.launch_count == 1
    if form != "http":
        return

    runtime.close()
    assert proc.poll() is None, "closing the runtime closed the remote browser"
    # The remote browser still serves a new connection, and holds none of our contexts:
    # only its own default one.
    again = make_runtime(endpoint=endpoint)

    async def contexts() -> int:
        return len((await again.get_browser()).contexts)

    assert again.run(contexts) == 1
    assert again.run_page(lambda page: page_title(page, site.url)) == "cedula test"
    again.close()
    assert proc.poll() is None


@pytest.fixture(scope="module")
def playwright_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``playwright launch-server`` driving the system Chromium; yields it and its ws endpoint."""
    config = tmp_path_factory.mktemp("pw-server") / "server.json"
    config.write_text(
        json.dumps(
            {
                "executablePath": CHROMIUM,
                "headless": True,
                "host": "127.0.0.1",
                "port": 0,
                "args": [*BASE_ARGS, "--no-sandbox"],
            }
        )
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "playwright",
            "launch-server",
            "--browser",
            "chromium",
            "--config",
            str(config),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        # `python -m playwright` runs Node in a child: signal the whole group to stop both.
        start_new_session=True,
        cwd=Path(config).parent,
    )
    try:
        assert proc.stdout is not None
        match = read_line_matching(proc.stdout, r"(ws://\S+)", 30)
        yield proc, match.group(1)
    finally:
        stop_group(proc)


def test_playwright_server_endpoint(
    playwright_server: tuple[subprocess.Popen[str], str],
    make_runtime: Callable[..., BrowserRuntime],
    site: Site,
) -> None:
    proc, endpoint = playwright_server
    runtime = make_runtime(endpoint=endpoint)

    async def set_cookie(page: Page) -> str:
        await page.goto(f"{site.url}/set-cookie")
        return str(await page.evaluate("document.cookie"))

    async def cookies(page: Page) -> int:
        await page.goto(site.url)
        return len(await page.context.cookies())

    assert runtime.run_page(set_cookie) == "probe=1"
    assert runtime.run_page(cookies) == 0
    runtime.close()
    assert proc.poll() is None, "closing the runtime stopped the browser server"
    again = make_runtime(endpoint=endpoint)
    assert again.run_page(lambda page: page_title(page, site.url)) == "cedula test"


def test_an_unknown_endpoint_scheme_is_an_error(make_runtime: Callable[..., BrowserRuntime]) -> None:
    from django_cedula.browser import BrowserError

    runtime = make_runtime(endpoint="ftp://browser:21")
    with pytest.raises(BrowserError, match="CEDULA_BROWSER_ENDPOINT"):
        runtime.run_page(lambda page: page_title(page, "about:blank"))
