"""The engine: the per-process half of a runtime, which owns its loop thread, Playwright's driver and
the browser.

A :class:`~.runtime.BrowserRuntime` replaces its engine after ``close()`` and after a fork,
so a runtime object stays usable for the life of the process that holds it. The engine starts
Playwright's driver and the browser (launched, or connected to at an endpoint) when a call needs
them, counts calls to close them when idle, drops and relaunches a browser that went away, and
shuts everything down. What it delegates: the loop thread (:mod:`.loop`), the process table and
killing (:mod:`.processes`), contexts and pages (:mod:`.pages`). Methods without a "caller's
side" note run on the loop thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from playwright.async_api import Browser, CDPSession, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from ..privacy import redact
from . import processes
from .loop import CLOSE_GRACE, Disconnects, LoopThread, within
from .options import BrowserError, BrowserLaunchError, BrowserOptions, find_browser_executable
from .pages import Contexts, Pages

logger = logging.getLogger("django_cedula.browser")

T = TypeVar("T")


class Engine:
    """The per-process machinery of a runtime."""

    def __init__(self, options: BrowserOptions) -> None:
        self.options = options
        self.pid = os.getpid()
        self.stopped = False
        self.playwright: Playwright | None = None
        self.browser: Browser | None = None
        self.browser_pid: int | None = None
        self.driver_pid: int | None = None
        self.driver_pipes: frozenset[str] = frozenset()
        self.launch_count = 0
        # What we started and have not seen go away: the last resort of a failed close kills these.
        self.owned_groups: set[int] = set()
        self.owned_drivers: set[int] = set()
        self.closing = False
        self._browser_pgid: int | None = None
        self._cdp: CDPSession | None = None
        self._lock_obj: asyncio.Lock | None = None
        self._active = 0
        self._idle_handle: asyncio.TimerHandle | None = None
        self._idle_task: asyncio.Task[None] | None = None
        self._starting: asyncio.Task[Browser] | None = None
        self.loop_thread = LoopThread("django-cedula-browser")
        self.loop = self.loop_thread.loop
        self.disconnects = Disconnects(self.loop)
        self.contexts = Contexts(self)
        self.pages = Pages(self, self.contexts)

    @property
    def _lock(self) -> asyncio.Lock:
        # Made lazily, so that it is created on (and bound to) the loop thread that uses it.
        if self._lock_obj is None:
            self._lock_obj = asyncio.Lock()
        return self._lock_obj

    # -- calls and the idle timer ---------------------------------------------------------------------

    async def call(self, fn: Callable[[], Awaitable[T]], limit: float | None) -> T:
        """Run ``fn()`` within ``limit`` seconds, counting as activity for the idle timer."""
        self._active += 1
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None
        try:
            return await within(limit, fn)
        finally:
            self._active -= 1
            if self._active == 0:
                self._schedule_idle()

    def _schedule_idle(self) -> None:
        idle = self.options.idle_timeout
        if (
            idle
            and idle > 0
            and not self.closing
            and (self.browser is not None or self.playwright is not None)
        ):
            if self._idle_handle is not None:
                self._idle_handle.cancel()
            self._idle_handle = self.loop.call_later(idle, self._on_idle)

    def _on_idle(self) -> None:
        self._idle_handle = None
        if self._active == 0 and not self.closing and (self._idle_task is None or self._idle_task.done()):
            self._idle_task = self.loop.create_task(self._idle_close())

    async def _idle_close(self) -> None:
        async with self._lock:
            # A call may have come in while we waited for the lock.
            if self._active or self.closing:
                return
            logger.info("closing the idle browser after %g s without lookups", self.options.idle_timeout)
            await self._drop_browser(graceful=True)
            await self._stop_playwright()

    # -- the browser ----------------------------------------------------------------------------------

    async def ensure_browser(self) -> Browser:
        """The running browser, launched (or connected to) first if there is none or it went away."""
        browser = self.browser
        if browser is not None and browser.is_connected():
            return browser
        async with self._lock:
            if self.closing:
                raise BrowserError("the browser runtime is closing")
            browser = self.browser
            if browser is not None and browser.is_connected():
                return browser
            start = self._starting
            if start is None or start.done():
                if browser is not None:
                    logger.warning("the browser disconnected; starting a new one")
                    await self._drop_browser(graceful=False)
                # A task of its own, awaited shielded: a lookup that times out while the browser
                # starts must not leave a half-started driver or Chromium behind. The start
                # finishes, and this call's successors use it.
                start = self._starting = self.loop.create_task(self._start_browser())
                start.add_done_callback(lambda task: task.cancelled() or task.exception())
        return await asyncio.shield(start)

    async def _start_browser(self) -> Browser:
        try:
            if self.playwright is None:
                self.playwright, self.driver_pid = await start_driver()
                if self.driver_pid is not None:
                    self.owned_drivers.add(self.driver_pid)
                    self.driver_pipes = processes.fd_targets(self.driver_pid, (0, 1))
            browser = await open_browser(self.playwright, self.options)
        except Exception as exc:
            # A driver that failed us once is not trusted again: the next call starts afresh.
            await self._stop_playwright()
            if isinstance(exc, BrowserError):
                raise
            raise launch_error(exc, self.options) from None
        self.browser = browser
        self.launch_count += 1
        self.disconnects.watch(browser)
        try:
            self._cdp = await browser.new_browser_cdp_session()
        except PlaywrightError:
            self._cdp = None
        if not self.options.endpoint:
            self.browser_pid = await find_browser_pid(self._cdp, self.driver_pid)
            if self.browser_pid is not None:
                pgid = processes.browser_group(self.browser_pid)
                if pgid is not None:
                    self._browser_pgid = pgid
                    self.owned_groups.add(pgid)
        logger.info(
            "browser %s: %s (pid %s)",
            "connected" if self.options.endpoint else "launched",
            browser.version,
            self.browser_pid,
        )
        return browser

    async def browser_answers(self) -> bool:
        """Whether the browser answers a cheap DevTools round trip (True when there is no session)."""
        if self._cdp is None:
            return True
        try:
            await asyncio.wait_for(self._cdp.send("Browser.getVersion"), 2.0)
        except (PlaywrightError, asyncio.TimeoutError):
            return False
        return True

    async def drop_if_current(self, browser: Browser) -> None:
        """Forget ``browser``, which went away, unless another call replaced it already."""
        async with self._lock:
            if self.browser is browser:
                await self._drop_browser(graceful=False)

    async def _drop_browser(self, *, graceful: bool) -> None:
        """Close (or, if it is gone, forget) the browser; kill its processes if they linger. Under lock."""
        browser, self.browser = self.browser, None
        pgid, self._browser_pgid = self._browser_pgid, None
        if browser is not None:
            self.disconnects.forget(browser)
        self.browser_pid = None
        self._cdp = None
        await self.pages.discard()
        await self.contexts.settle()
        if browser is not None and browser.is_connected():
            if self.options.endpoint:
                # The remote browser is not ours: close only our contexts, then disconnect.
                await self.contexts.close_open()
            # A browser we gave up on still gets a (short) chance to release the connection.
            try:
                await asyncio.wait_for(browser.close(), CLOSE_GRACE if graceful else 1.0)
            except (PlaywrightError, asyncio.TimeoutError) as exc:
                logger.warning("the browser did not close cleanly (%s); killing it", redact(exc))
        self.contexts.open.clear()
        if pgid is not None:
            await processes.reap_group(pgid)
            self.owned_groups.discard(pgid)

    async def _stop_playwright(self) -> None:
        playwright, self.playwright = self.playwright, None
        driver, self.driver_pid = self.driver_pid, None
        self.driver_pipes = frozenset()
        if playwright is None:
            return
        await stop_driver(playwright, driver)
        if driver is not None:
            self.owned_drivers.discard(driver)

    # -- shutting down --------------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Close everything this engine started. Runs on the loop; ``stop()`` is the caller's side."""
        self.closing = True
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None
        if self._idle_task is not None and not self._idle_task.done():
            await asyncio.wait({self._idle_task})
        if self._starting is not None and not self._starting.done():
            # Let a start in progress finish, so that what it launched is known and closed below.
            await asyncio.wait({self._starting}, timeout=self.options.launch_timeout)
        async with self._lock:
            await self._drop_browser(graceful=True)
            await self._stop_playwright()

    def stop(self, timeout: float) -> None:
        """Caller's side of closing: shut down within ``timeout`` s, else kill; then end the thread."""
        if self.loop_thread.is_current():
            raise RuntimeError("BrowserRuntime.close() cannot be called from inside runtime.run()")
        if self.stopped:
            return
        self.stopped = True
        clean = False
        if self.loop_thread.is_alive():
            future = self.loop_thread.submit(self.shutdown())
            try:
                future.result(timeout)
                clean = True
            except Exception as exc:
                logger.warning(
                    "the browser runtime did not shut down cleanly (%s); killing its processes",
                    redact(repr(exc)),
                )
                future.cancel()
            self.loop_thread.stop(CLOSE_GRACE)
        if not clean:
            self.kill()

    def kill(self) -> None:
        """Last resort, from any thread: SIGKILL every browser group and driver we started."""
        for pgid in list(self.owned_groups):
            processes.kill_group(pgid)
        for pid in list(self.owned_drivers):
            processes.kill_child(pid)
        self.owned_groups.clear()
        self.owned_drivers.clear()


# -- Playwright's driver -------------------------------------------------------------------------------

# One driver start at a time in this process, across all engines: a start's driver is told by
# being the one new Playwright driver among our children, which two starts at once would blur.
_driver_start = threading.Lock()


def _new_driver_start_lock() -> None:
    # A fork child inherits the lock in whatever state another thread left it.
    global _driver_start
    _driver_start = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_driver_start_lock)


@contextlib.asynccontextmanager
async def _driver_start_turn() -> AsyncIterator[None]:
    """Hold :data:`_driver_start` without blocking the loop (a cancelled wait holds nothing)."""
    lock = _driver_start
    while not lock.acquire(blocking=False):
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        lock.release()


async def start_driver() -> tuple[Playwright, int | None]:
    """Start Playwright's Node.js driver: the Playwright object, and the driver's PID if it can be told.

    Playwright has no public way to tell its driver's process, which the runtime needs to kill a
    driver that would not stop, to find the browser it launched and to detach a forked child
    from its pipes. It starts the driver as a child of this process; the one Playwright driver
    among our children that was not there before the start is it.
    """
    async with _driver_start_turn():
        before = processes.driver_children()
        playwright = await async_playwright().start()
        new = processes.driver_children() - before
    return playwright, (new.pop() if len(new) == 1 else None)


async def stop_driver(playwright: Playwright, pid: int | None) -> None:
    """Stop the driver within :data:`CLOSE_GRACE` seconds; then kill it if it is still our child."""
    try:
        await asyncio.wait_for(playwright.stop(), CLOSE_GRACE)
    except Exception as exc:
        logger.warning("the Playwright driver did not stop cleanly (%s); killing it", redact(exc))
    if pid is not None:
        processes.kill_child(pid)


# -- the browser: launched, or connected to ------------------------------------------------------------


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
        'the browser\'s "endpoint" must be a ws://, wss://, http:// or https:// URL, '
        f"not {redact(repr(endpoint))}"
    )


def launch_error(exc: Exception, options: BrowserOptions) -> BrowserLaunchError:
    """What a failed start is reported as: Playwright's message, cleaned, and a hint if there is one.

    Raise it ``from None``: Playwright's message quotes the endpoint it tried, credentials and
    token included, and a chained original would show it in a logged traceback.
    """
    hint = ""
    if not options.endpoint and options.sandbox:
        hint = " If Chromium cannot start its sandbox here, add '--no-sandbox' to the browser's \"args\"."
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
    return None if driver_pid is None else processes.browser_under_driver(driver_pid)
