"""The engine: the per-process half of a runtime, which owns its thread, driver and browser.

A :class:`~.runtime.BrowserRuntime` replaces its engine after ``close()`` and after a fork,
so a runtime object stays usable for the life of the process that holds it. The engine starts
the browser when a call needs it, counts calls to close it when idle, drops and relaunches it
when it went away, and shuts everything down; the work it delegates: the loop thread
(:mod:`.loop_thread`), the driver (:mod:`.driver`), launching (:mod:`.launch`), reaping
(:mod:`.reaping`), contexts and pages (:mod:`.contexts`, :mod:`.pages`). Methods without a
"caller's side" note run on the loop thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

from playwright.async_api import Browser, CDPSession, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from ..privacy import redact
from . import processes
from .contexts import Contexts
from .descriptors import fd_targets
from .disconnects import Disconnects
from .driver import driver_children, find_driver_pid, stop_driver
from .errors import BrowserError
from .launch import browser_group, find_browser_pid, launch_error, open_browser
from .loop_thread import LoopThread, within
from .options import BrowserOptions
from .pages import Pages
from .reaping import CLOSE_GRACE, kill_child, reap_group

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
                before = driver_children()
                manager = async_playwright()
                self.playwright = await manager.start()
                self.driver_pid = find_driver_pid(manager, self.playwright, before)
                if self.driver_pid is not None:
                    self.owned_drivers.add(self.driver_pid)
                    self.driver_pipes = fd_targets(self.driver_pid, (0, 1))
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
                pgid = browser_group(self.browser_pid)
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
            await reap_group(pgid)
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
            kill_child(pid)
        self.owned_groups.clear()
        self.owned_drivers.clear()
