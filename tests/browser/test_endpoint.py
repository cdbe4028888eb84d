"""Endpoint mode: connecting to a browser someone else runs, over CDP or to a Playwright server."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from playwright.async_api import Page

from django_cedula.browser import BASE_ARGS, BrowserRuntime, reset_browser_runtime

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
    with pytest.raises(BrowserError, match='browser\'s "endpoint" must be'):
        runtime.run_page(lambda page: page_title(page, "about:blank"))


def closed_port() -> int:
    """A local port nothing listens on (taken from the system, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


SECRETS = ("hunter2", "SECRET-TOKEN")


@pytest.mark.parametrize("scheme", ["http", "ws"])
def test_an_unreachable_endpoint_s_error_quotes_no_credentials_or_token(
    make_runtime: Callable[..., BrowserRuntime], scheme: str
) -> None:
    from django_cedula.browser import BrowserLaunchError

    endpoint = f"{scheme}://agent:hunter2@127.0.0.1:{closed_port()}/devtools/browser/x?token=SECRET-TOKEN"
    runtime = make_runtime(endpoint=endpoint, launch_timeout=10)
    with pytest.raises(BrowserLaunchError) as excinfo:
        runtime.run_page(lambda page: page_title(page, "about:blank"))
    message = str(excinfo.value)
    assert "ECONNREFUSED" in message  # still says what went wrong
    assert not [secret for secret in SECRETS if secret in message]
    # Nor in a traceback: the original error, which quotes the endpoint, is not chained.
    assert excinfo.value.__cause__ is None


def test_an_unknown_endpoint_scheme_is_refused_without_its_secrets(
    make_runtime: Callable[..., BrowserRuntime],
) -> None:
    from django_cedula.browser import BrowserError

    runtime = make_runtime(endpoint="ftp://agent:hunter2@browser:21/?token=SECRET-TOKEN")
    with pytest.raises(BrowserError, match='browser\'s "endpoint" must be') as excinfo:
        runtime.run_page(lambda page: page_title(page, "about:blank"))
    assert "ftp://***@browser:21/?***" in str(excinfo.value)


def test_a_lookup_s_stored_error_quotes_no_endpoint_secret(
    settings: Any, process_runtime: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole path to the stored ``error_message``: a real scraper, the process's runtime."""
    from django_cedula.results import ScrapeStatus
    from django_cedula.scrapers.wsp import WspScraper

    from .helpers import TAG_VAR, assert_no_tagged_processes, new_tag

    tag = new_tag()
    monkeypatch.setenv(TAG_VAR, tag)
    settings.CEDULA_CAPTCHA_SOLVER = {"BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver"}
    endpoint = f"http://agent:hunter2@127.0.0.1:{closed_port()}/?token=SECRET-TOKEN&cedula=1020304050"
    scraper = WspScraper(browser={"endpoint": endpoint})
    try:
        result = scraper.scrape_cedula("1020304050")
    finally:
        scraper.close()
        reset_browser_runtime()
    assert result.status is ScrapeStatus.NETWORK_ERROR
    assert result.error.startswith("browser failure: could not start the browser")
    assert "127.0.0.1" in result.error
    assert not [secret for secret in (*SECRETS, "1020304050") if secret in result.error]
    assert_no_tagged_processes(tag)
