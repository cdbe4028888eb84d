"""Starting a browser: launching Chromium or connecting to an endpoint, and which process it is.

These run on the runtime's loop thread, called by the engine (:mod:`.engine`), which keeps
what they return. Closing and killing are in :mod:`.reaping`.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, CDPSession, Playwright
from playwright.async_api import Error as PlaywrightError

from ..privacy import redact
from . import processes
from .discovery import find_browser_executable
from .errors import BrowserError, BrowserLaunchError
from .options import BrowserOptions


async def open_browser(playwright: Playwright, options: BrowserOptions) -> Browser:
    """Connect to ``options.endpoint`` if there is one, else launch Chromium."""
    if options.endpoint:
        return await connect(playwright, options)
    return await launch(playwright, options)


async def launch(playwright: Playwright, options: BrowserOptions) -> Browser:
    executable = find_browser_executable(
        options.executable,
        headless=options.headless,
        bundled=lambda: playwright.chromium.executable_path,
    )
    kwargs: dict[str, Any] = {
        "headless": options.headless,
        "args": options.launch_args(),
        "chromium_sandbox": options.sandbox,
        "timeout": options.launch_timeout * 1000,
    }
    if executable is not None:
        kwargs["executable_path"] = executable
    return await playwright.chromium.launch(**kwargs)


async def connect(playwright: Playwright, options: BrowserOptions) -> Browser:
    endpoint = options.endpoint
    assert endpoint
    url = urlsplit(endpoint)
    scheme = url.scheme.lower()
    headers = dict(options.endpoint_headers) if options.endpoint_headers else None
    timeout = options.launch_timeout * 1000
    # A DevTools URL (http(s), or ws(s) ending in /devtools/browser/<id>) speaks CDP; any
    # other ws(s) URL is a Playwright browser server.
    if scheme in ("http", "https") or (scheme in ("ws", "wss") and "/devtools/browser/" in url.path):
        return await playwright.chromium.connect_over_cdp(endpoint, headers=headers, timeout=timeout)
    if scheme in ("ws", "wss"):
        return await playwright.chromium.connect(endpoint, headers=headers, timeout=timeout)
    raise BrowserError(
        "CEDULA_BROWSER_ENDPOINT must be a ws://, wss://, http:// or https:// URL, "
        f"not {redact(repr(endpoint))}"
    )


def launch_error(exc: Exception, options: BrowserOptions) -> BrowserLaunchError:
    """What a failed start is reported as: Playwright's message, cleaned, and a hint if there is one.

    Raise it ``from None``: Playwright's message quotes the endpoint it tried, credentials and
    token included, and a chained original would show it in a logged traceback.
    """
    hint = ""
    if not options.endpoint and options.sandbox:
        hint = " If Chromium cannot start its sandbox here, add '--no-sandbox' to CEDULA_BROWSER_ARGS."
    return BrowserLaunchError(f"could not start the browser: {redact(exc)}{hint}")


async def find_browser_pid(cdp: CDPSession | None, driver_pid: int | None) -> int | None:
    """The PID of the launched browser's main process: asked over CDP, else found under the driver."""
    if cdp is not None:
        with contextlib.suppress(PlaywrightError, KeyError, TypeError, ValueError):
            info = await cdp.send("SystemInfo.getProcessInfo")
            for process in info.get("processInfo", []):
                if process.get("type") == "browser":
                    return int(process["id"])
    # Playwright starts the browser as a child of its driver, leading a group of its own.
    if driver_pid is not None:
        leaders = [
            info
            for info in processes.descendants(driver_pid)
            if info.ppid == driver_pid and info.pgid == info.pid
        ]
        if len(leaders) == 1:
            return leaders[0].pid
    return None


def browser_group(browser_pid: int) -> int | None:
    """The process group to reap when the browser closes; None if unknown or our own."""
    with contextlib.suppress(OSError):
        pgid = os.getpgid(browser_pid)
        # Never our own group: killing it would take this process down too.
        if pgid != os.getpgrp():
            return pgid
    return None
