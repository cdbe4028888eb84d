"""One Chromium per process, driven from a private event-loop thread.

See the package docstring (:mod:`django_cedula.browser`) for how to use it. Inside this
module, "engine" is the per-process half of a runtime: its thread, loop, Playwright driver
and browser. A :class:`BrowserRuntime` replaces its engine after ``close()`` and after a
fork, so a runtime object stays usable for the life of the process that holds it.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import dataclasses
import logging
import math
import multiprocessing.util
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, CDPSession, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from ..privacy import redact
from . import procfs
from .discovery import find_browser_executable
from .errors import BrowserCrashed, BrowserError, BrowserLaunchError, BrowserTimeout
from .options import BrowserOptions

logger = logging.getLogger("django_cedula.browser")

T = TypeVar("T")

#: Seconds a graceful close (of a context, the browser, the driver) may take before we kill.
CLOSE_GRACE = 5.0
#: Seconds a caller waits beyond a call's own limit, for the cancellation inside the loop to finish.
SETTLE = 5.0
#: Seconds a caller of ``close()`` waits for the whole shutdown before killing what is left.
CLOSE_TIMEOUT = 3 * CLOSE_GRACE


@dataclasses.dataclass
class _Spare:
    """A fresh context with one blank page, made ahead of the lookup that will use it."""

    browser: Browser
    context: BrowserContext
    page: Page
    #: Lookups this page has served (reused pages are replaced after ``options.recycle_after``).
    uses: int = 0
    #: A DevTools session on the page, kept for scrubbing it between lookups.
    session: CDPSession | None = None


def _is_disconnect(exc: BaseException, browser: Browser) -> bool:
    """Whether ``exc`` means the browser itself is gone (as opposed to a failed action)."""
    # TargetClosedError is not exported by playwright.async_api, so it is recognised by name.
    return (
        isinstance(exc, BrowserCrashed)
        or not browser.is_connected()
        or type(exc).__name__ == "TargetClosedError"
        or "has been closed" in str(exc)
    )


def _attribute_path(obj: Any, *names: str) -> Any:
    for name in names:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj


def _driver_children() -> set[int]:
    """Our live child processes that run a Playwright driver."""
    found = set()
    for info in procfs.descendants(os.getpid()):
        if info.ppid == os.getpid() and b"run-driver" in procfs.cmdline(info.pid):
            found.add(info.pid)
    return found


def _driver_pid(manager: Any, playwright: Playwright, before: set[int]) -> int | None:
    """The PID of the Node.js driver just started, or None if it cannot be told.

    Playwright does not expose it: private attributes (which moved between releases) are
    tried first, then the one new driver among our children.
    """
    for obj, path in (
        (manager, ("_client", "_transport", "_proc", "pid")),
        (playwright, ("_impl_obj", "_connection", "_transport", "_proc", "pid")),
    ):
        pid = _attribute_path(obj, *path)
        if isinstance(pid, int):
            return pid
    new = _driver_children() - before
    return new.pop() if len(new) == 1 else None


def _call_limit(timeout: float | None, options: BrowserOptions) -> float | None:
    """Seconds a call may take, or None for no limit (``math.inf`` or a value <= 0)."""
    limit = options.lookup_timeout if timeout is None else timeout
    if limit is None or math.isinf(limit) or limit <= 0:
        return None
    return float(limit)


class _Engine:
    """The per-process machinery. Methods without a leading "caller" note run on the loop thread."""

    def __init__(self, options: BrowserOptions) -> None:
        self.options = options
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
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
        self._browser_pgid: int | None = None
        self._cdp: CDPSession | None = None
        # Per browser (by id), done when it disconnects: some Playwright calls in flight
        # when Chromium dies never settle, so they are raced against this.
        self._gone: dict[int, asyncio.Future[None]] = {}
        self._lock_obj: asyncio.Lock | None = None
        self._active = 0
        self._idle_handle: asyncio.TimerHandle | None = None
        self._idle_task: asyncio.Task[None] | None = None
        self._spare: tuple[Browser, asyncio.Task[_Spare | None]] | None = None
        self._starting: asyncio.Task[Browser] | None = None
        # The reused page, being scrubbed after its last lookup (see ``_reused_page``).
        self._reusable: tuple[Browser, asyncio.Task[_Spare | None]] | None = None
        self._contexts: set[BrowserContext] = set()
        self._background: set[asyncio.Task[None]] = set()
        self._closing = False
        _register_exit_hook()
        self.thread = threading.Thread(target=self._serve, name="django-cedula-browser", daemon=True)
        self.thread.start()

    # -- the thread ---------------------------------------------------------------------------------

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            # Only reached after stop(): cancel leftovers of a shutdown that did not finish cleanly.
            pending = [task for task in asyncio.all_tasks(self.loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()

    @property
    def _lock(self) -> asyncio.Lock:
        # Made lazily, so that it is created on (and bound to) the loop thread that uses it.
        if self._lock_obj is None:
            self._lock_obj = asyncio.Lock()
        return self._lock_obj

    # -- calls ----------------------------------------------------------------------------------------

    async def call(self, fn: Callable[[], Awaitable[T]], limit: float | None) -> T:
        """Run ``fn()`` within ``limit`` seconds, counting as activity for the idle timer."""
        self._active += 1
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None
        try:
            if limit is None:
                return await fn()
            task = asyncio.current_task()
            assert task is not None
            expired = False

            def expire() -> None:
                nonlocal expired
                expired = True
                task.cancel()

            handle = self.loop.call_later(limit, expire)
            try:
                return await fn()
            except asyncio.CancelledError:
                if not expired:
                    raise
                uncancel = getattr(task, "uncancel", None)
                if uncancel is not None:
                    uncancel()
                raise BrowserTimeout(f"the browser call did not finish within {limit:g} s") from None
            finally:
                handle.cancel()
        finally:
            self._active -= 1
            if self._active == 0:
                self._schedule_idle()

    def _schedule_idle(self) -> None:
        idle = self.options.idle_timeout
        if (
            idle
            and idle > 0
            and not self._closing
            and (self.browser is not None or self.playwright is not None)
        ):
            if self._idle_handle is not None:
                self._idle_handle.cancel()
            self._idle_handle = self.loop.call_later(idle, self._on_idle)

    def _on_idle(self) -> None:
        self._idle_handle = None
        if self._active == 0 and not self._closing and (self._idle_task is None or self._idle_task.done()):
            self._idle_task = self.loop.create_task(self._idle_close())

    async def _idle_close(self) -> None:
        async with self._lock:
            # A call may have come in while we waited for the lock.
            if self._active or self._closing:
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
            if self._closing:
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
                before = _driver_children()
                manager = async_playwright()
                self.playwright = await manager.start()
                self.driver_pid = _driver_pid(manager, self.playwright, before)
                if self.driver_pid is not None:
                    self.owned_drivers.add(self.driver_pid)
                    self.driver_pipes = procfs.fd_targets(self.driver_pid, (0, 1))
            if self.options.endpoint:
                browser = await self._connect(self.playwright, self.options.endpoint)
            else:
                browser = await self._launch(self.playwright)
        except Exception as exc:
            # A driver that failed us once is not trusted again: the next call starts afresh.
            await self._stop_playwright()
            if isinstance(exc, BrowserError):
                raise
            hint = ""
            if not self.options.endpoint and self.options.sandbox:
                hint = (
                    " If Chromium cannot start its sandbox here, add '--no-sandbox' to CEDULA_BROWSER_ARGS."
                )
            # Playwright's message quotes the endpoint it tried, credentials and token included: the
            # cleaned text replaces it, and the original is not chained, where a logged traceback
            # would show it.
            raise BrowserLaunchError(f"could not start the browser: {redact(exc)}{hint}") from None
        self.browser = browser
        self.launch_count += 1
        gone: asyncio.Future[None] = self.loop.create_future()
        self._gone[id(browser)] = gone

        def on_disconnected(_: Browser) -> None:
            if not gone.done():
                gone.set_result(None)

        browser.on("disconnected", on_disconnected)
        try:
            self._cdp = await browser.new_browser_cdp_session()
        except PlaywrightError:
            self._cdp = None
        if not self.options.endpoint:
            self.browser_pid = await self._find_browser_pid()
            if self.browser_pid is not None:
                with contextlib.suppress(OSError):
                    pgid = os.getpgid(self.browser_pid)
                    # Never our own group: killing it would take this process down too.
                    if pgid != os.getpgrp():
                        self._browser_pgid = pgid
                        self.owned_groups.add(pgid)
        logger.info(
            "browser %s: %s (pid %s)",
            "connected" if self.options.endpoint else "launched",
            browser.version,
            self.browser_pid,
        )
        return browser

    async def _launch(self, playwright: Playwright) -> Browser:
        options = self.options
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

    async def _connect(self, playwright: Playwright, endpoint: str) -> Browser:
        url = urlsplit(endpoint)
        scheme = url.scheme.lower()
        headers = dict(self.options.endpoint_headers) if self.options.endpoint_headers else None
        timeout = self.options.launch_timeout * 1000
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

    async def _find_browser_pid(self) -> int | None:
        if self._cdp is not None:
            with contextlib.suppress(PlaywrightError, KeyError, TypeError, ValueError):
                info = await self._cdp.send("SystemInfo.getProcessInfo")
                for process in info.get("processInfo", []):
                    if process.get("type") == "browser":
                        return int(process["id"])
        # Playwright starts the browser as a child of its driver, leading a group of its own.
        if self.driver_pid is not None:
            leaders = [
                info
                for info in procfs.descendants(self.driver_pid)
                if info.ppid == self.driver_pid and info.pgid == info.pid
            ]
            if len(leaders) == 1:
                return leaders[0].pid
        return None

    async def _drop_browser(self, *, graceful: bool) -> None:
        """Close (or, if it is gone, forget) the browser; kill its processes if they linger. Under lock."""
        browser, self.browser = self.browser, None
        pgid, self._browser_pgid = self._browser_pgid, None
        if browser is not None:
            gone = self._gone.pop(id(browser), None)
            if gone is not None and not gone.done():
                gone.set_result(None)
        self.browser_pid = None
        self._cdp = None
        await self._discard_spare()
        await self._discard_reusable()
        if self._background:
            await asyncio.wait(set(self._background), timeout=CLOSE_GRACE)
        if browser is not None and browser.is_connected():
            if self.options.endpoint:
                # The remote browser is not ours: close only our contexts, then disconnect.
                for context in list(self._contexts):
                    with contextlib.suppress(PlaywrightError, asyncio.TimeoutError):
                        await asyncio.wait_for(context.close(), CLOSE_GRACE)
            # A browser we gave up on still gets a (short) chance to release the connection.
            try:
                await asyncio.wait_for(browser.close(), CLOSE_GRACE if graceful else 1.0)
            except (PlaywrightError, asyncio.TimeoutError) as exc:
                logger.warning("the browser did not close cleanly (%s); killing it", redact(exc))
        self._contexts.clear()
        if pgid is not None:
            await self._reap_group(pgid)

    async def _reap_group(self, pgid: int) -> None:
        # Playwright waits for the browser process itself; its helpers may need a moment more.
        deadline = time.monotonic() + 1.0
        while procfs.group_members(pgid) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if procfs.kill_group(pgid):
            logger.warning("killed leftover browser processes of group %s", pgid)
        self.owned_groups.discard(pgid)

    async def _stop_playwright(self) -> None:
        playwright, self.playwright = self.playwright, None
        driver, self.driver_pid = self.driver_pid, None
        self.driver_pipes = frozenset()
        if playwright is None:
            return
        try:
            await asyncio.wait_for(playwright.stop(), CLOSE_GRACE)
        except Exception as exc:
            logger.warning("the Playwright driver did not stop cleanly (%s); killing it", redact(exc))
        if driver is not None:
            _kill_child(driver)
            self.owned_drivers.discard(driver)

    async def shutdown(self) -> None:
        """Close everything this engine started. Runs on the loop; ``stop()`` is the caller's side."""
        self._closing = True
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
        if threading.current_thread() is self.thread:
            raise RuntimeError("BrowserRuntime.close() cannot be called from inside runtime.run()")
        if self.stopped:
            return
        self.stopped = True
        clean = False
        if self.thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self.shutdown(), self.loop)
            try:
                future.result(timeout)
                clean = True
            except Exception as exc:
                logger.warning(
                    "the browser runtime did not shut down cleanly (%s); killing its processes",
                    redact(repr(exc)),
                )
                future.cancel()
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(CLOSE_GRACE)
        if not clean:
            self.kill()

    def kill(self) -> None:
        """Last resort, from any thread: SIGKILL every browser group and driver we started."""
        for pgid in list(self.owned_groups):
            procfs.kill_group(pgid)
        for pid in list(self.owned_drivers):
            _kill_child(pid)
        self.owned_groups.clear()
        self.owned_drivers.clear()

    # -- contexts and pages ---------------------------------------------------------------------------

    def _context_options(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        return {**self.options.context_options(), **overrides}

    def browser_gone(self, browser: Browser) -> asyncio.Future[None]:
        """Done once ``browser`` has disconnected (at once for a browser already dropped)."""
        gone = self._gone.get(id(browser))
        if gone is None:
            gone = self.loop.create_future()
            gone.set_result(None)
        return gone

    async def guarded(self, browser: Browser, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable``, but raise :class:`BrowserCrashed` as soon as ``browser`` disconnects."""
        task = asyncio.ensure_future(awaitable)
        waiters: set[asyncio.Future[Any]] = {task, self.browser_gone(browser)}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task.done():
            return task.result()
        task.cancel()
        # Retrieve whatever the abandoned call ends with, so asyncio does not log it.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        raise BrowserCrashed("the browser went away during the call")

    def _adopt(self, context: BrowserContext) -> None:
        context.set_default_timeout(self.options.page_timeout * 1000)
        context.set_default_navigation_timeout(self.options.page_timeout * 1000)
        self._contexts.add(context)

    async def new_context(self, overrides: Mapping[str, Any]) -> BrowserContext:
        """A fresh context; relaunches the browser once if it turns out to be gone."""
        options = self._context_options(overrides)
        for attempt in (1, 2):
            browser = await self.ensure_browser()
            try:
                context = await self.guarded(browser, browser.new_context(**options))
            except (PlaywrightError, BrowserCrashed) as exc:
                if attempt == 2 or not _is_disconnect(exc, browser):
                    raise
                logger.warning("the browser went away (%s); starting a new one", redact(exc))
                async with self._lock:
                    if self.browser is browser:
                        await self._drop_browser(graceful=False)
                continue
            self._adopt(context)
            return context
        raise AssertionError("unreachable")  # pragma: no cover

    def close_later(self, context: BrowserContext) -> None:
        """Close ``context`` without making the caller wait for it."""
        task = self.loop.create_task(self._close_context(context))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _close_context(self, context: BrowserContext) -> None:
        try:
            await asyncio.wait_for(context.close(), CLOSE_GRACE)
        except (PlaywrightError, asyncio.TimeoutError) as exc:
            logger.debug("closing a browser context failed: %s", redact(exc))
        finally:
            self._contexts.discard(context)

    async def _new_page(self, context: BrowserContext) -> Page:
        browser = context.browser or self.browser
        if browser is None:
            return await context.new_page()
        return await self.guarded(browser, context.new_page())

    @contextlib.asynccontextmanager
    async def context(self, overrides: Mapping[str, Any]) -> AsyncIterator[BrowserContext]:
        context = await self.new_context(overrides)
        try:
            yield context
        finally:
            self.close_later(context)

    @contextlib.asynccontextmanager
    async def page(self, overrides: Mapping[str, Any]) -> AsyncIterator[Page]:
        if self.options.reuse_pages and not overrides:
            async with self._reused_page() as page:
                yield page
            return
        spare = None if overrides else await self._claim_spare()
        if spare is not None:
            context, page = spare.context, spare.page
        else:
            context = await self.new_context(overrides)
            try:
                page = await self._new_page(context)
            except BaseException:
                self.close_later(context)
                raise
        try:
            yield page
        finally:
            self.close_later(context)
            if not overrides:
                # Starting a renderer is most of a new page's cost. Doing it now, between
                # lookups, hides it from the next one; doing it during this lookup was
                # measured to slow the lookup down more than it saved (two cores).
                self._prewarm()

    # -- reused pages ---------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _reused_page(self) -> AsyncIterator[Page]:
        """One page kept across lookups, its state scrubbed between them.

        A new context per lookup costs a renderer process each time (most of a lookup on a
        small machine). Keeping the page and clearing what a site can leave behind (cookies,
        local and session storage, IndexedDB, service workers, cache storage) gives the same
        clean state per lookup; only the HTTP cache of static files is kept. The scrub runs
        in the background after the lookup, and the next lookup waits for it.
        """
        slot = await self._claim_reusable() or await self._claim_spare()
        if slot is None:
            context = await self.new_context({})
            try:
                page = await self._new_page(context)
            except BaseException:
                self.close_later(context)
                raise
            slot = _Spare(self.browser or context.browser, context, page)  # type: ignore[arg-type]
        clean = False
        try:
            yield slot.page
            clean = True
        finally:
            if clean and not self._closing:
                self._reusable = (slot.browser, self.loop.create_task(self._scrub(slot)))
            else:
                # A lookup that failed may have left the page anywhere: start afresh next time.
                self.close_later(slot.context)

    async def _scrub(self, slot: _Spare) -> _Spare | None:
        """Clear everything the last lookup left in ``slot``; None (and closed) if that fails."""
        slot.uses += 1
        if slot.uses >= self.options.recycle_after:
            self.close_later(slot.context)
            return None
        try:
            await asyncio.wait_for(self.guarded(slot.browser, self._clear_state(slot)), CLOSE_GRACE)
        except (PlaywrightError, BrowserCrashed, asyncio.TimeoutError) as exc:
            logger.debug("scrubbing a reused page failed (%s); it will be replaced", redact(exc))
            self.close_later(slot.context)
            return None
        return slot

    async def _clear_state(self, slot: _Spare) -> None:
        page, context = slot.page, slot.context
        origins = {_origin(frame.url) for frame in page.frames} - {""}
        # Session storage belongs to the tab, so it is cleared from inside the page.
        with contextlib.suppress(PlaywrightError):
            await page.evaluate(
                "() => { try { sessionStorage.clear(); localStorage.clear(); } catch (e) {} }"
            )
        if slot.session is None:
            slot.session = await context.new_cdp_session(page)
        session = slot.session
        # Independent steps, so they go out together: this runs between two lookups.
        await asyncio.gather(
            page.goto("about:blank"),
            context.clear_cookies(),
            *(
                session.send("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"})
                for origin in origins
            ),
        )

    async def _claim_reusable(self) -> _Spare | None:
        """The page of the last lookup, scrubbed, if there is one and its browser still answers."""
        claimed, self._reusable = self._reusable, None
        return await self._claim(claimed)

    async def _discard_reusable(self) -> None:
        claimed, self._reusable = self._reusable, None
        if claimed is None:
            return
        task = claimed[1]
        await asyncio.wait({task}, timeout=CLOSE_GRACE)
        if task.done() and not task.cancelled() and task.exception() is None:
            slot = task.result()
            if slot is not None:
                await self._close_context(slot.context)
        else:
            task.cancel()

    # -- pre-warming ----------------------------------------------------------------------------------

    def _prewarm(self) -> None:
        browser = self.browser
        if (
            self.options.prewarm
            and self._spare is None
            and not self._closing
            and browser is not None
            and browser.is_connected()
        ):
            self._spare = (browser, self.loop.create_task(self._make_spare(browser)))

    async def _make_spare(self, browser: Browser) -> _Spare | None:
        context: BrowserContext | None = None
        try:
            context = await self.guarded(browser, browser.new_context(**self._context_options({})))
            self._adopt(context)
            page = await self.guarded(browser, context.new_page())
        except asyncio.CancelledError:
            if context is not None:
                self.close_later(context)
            raise
        except (PlaywrightError, BrowserCrashed) as exc:
            logger.debug("pre-warming a browser context failed: %s", redact(exc))
            if context is not None:
                self.close_later(context)
            return None
        return _Spare(browser, context, page)

    async def _claim_spare(self) -> _Spare | None:
        """The pre-warmed context and page, if there is one and its browser still answers."""
        claimed, self._spare = self._spare, None
        return await self._claim(claimed)

    async def _claim(self, claimed: tuple[Browser, asyncio.Task[_Spare | None]] | None) -> _Spare | None:
        """Wait for a page being prepared in the background; None unless it can serve a lookup."""
        if claimed is None:
            return None
        browser, task = claimed
        try:
            # Shielded: only this wait is given up when the browser dies, never the lookup.
            spare = await self.guarded(browser, asyncio.shield(task))
        except BrowserCrashed:
            task.cancel()
            return None
        except asyncio.CancelledError:
            task.cancel()
            raise
        if spare is None:
            return None
        usable = spare.browser is self.browser and spare.browser.is_connected() and not spare.page.is_closed()
        # A browser killed a moment ago may not have been noticed yet: one cheap round trip
        # tells, where handing out its page would fail the lookup instead.
        if usable and await self._browser_answers():
            return spare
        self.close_later(spare.context)
        return None

    async def _browser_answers(self) -> bool:
        if self._cdp is None:
            return True
        try:
            await asyncio.wait_for(self._cdp.send("Browser.getVersion"), 2.0)
        except (PlaywrightError, asyncio.TimeoutError):
            return False
        return True

    async def _discard_spare(self) -> None:
        claimed, self._spare = self._spare, None
        if claimed is None:
            return
        task = claimed[1]
        task.cancel()
        await asyncio.wait({task})
        if not task.cancelled() and task.exception() is None:
            spare = task.result()
            if spare is not None:
                await self._close_context(spare.context)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def _kill_child(pid: int) -> None:
    """SIGKILL ``pid`` if it is still alive and still our child (so a reused PID is never hit)."""
    info = procfs.read_process(pid)
    if info is not None and info.alive and info.ppid == os.getpid():
        procfs.kill_process(pid)


class BrowserRuntime:
    """A Chromium shared by all lookups of this process, driven from a private event-loop thread.

    Synchronous code hands it coroutine factories with :meth:`run` (or :meth:`run_page`) and
    blocks until they finish; the coroutines run on the runtime's own thread and use
    :meth:`page`, :meth:`context` and :meth:`get_browser`. The caller's thread never runs an
    event loop, so Django ORM calls around :meth:`run` need no ``DJANGO_ALLOW_ASYNC_UNSAFE``.

    The browser starts on first use, is reused by later calls, relaunched if it died, and
    closed after ``options.idle_timeout`` seconds without calls, on :meth:`close`, at
    interpreter exit and at the exit of a ``multiprocessing`` child. Use
    :func:`get_browser_runtime` for the process-wide instance.
    """

    def __init__(self, options: BrowserOptions | None = None) -> None:
        """``options`` defaults to :meth:`BrowserOptions.from_settings`, read when the browser starts."""
        self._given_options = options
        self._lock = threading.Lock()
        self._lock_pid = os.getpid()
        self._engine: _Engine | None = None
        #: The process this runtime was created in.
        self.pid = os.getpid()
        _runtimes.add(self)

    def __repr__(self) -> str:
        return f"<BrowserRuntime pid={self.pid} browser_pid={self.browser_pid}>"

    # -- the engine -----------------------------------------------------------------------------------

    def _engine_for_call(self) -> _Engine:
        if self._lock_pid != os.getpid():
            # Forked with the lock possibly held by a thread that does not exist here.
            self._after_fork()
        with self._lock:
            engine = self._engine
            if engine is not None and engine.pid != os.getpid():
                _abandon(engine)
                engine = None
            if engine is None or engine.stopped:
                engine = self._engine = _Engine(self._given_options or BrowserOptions.from_settings())
            return engine

    def _engine_on_loop(self) -> _Engine:
        engine = self._engine
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if engine is None or loop is not engine.loop:
            raise RuntimeError(
                "BrowserRuntime.page(), context() and get_browser() work only inside a coroutine "
                "passed to runtime.run() or runtime.run_page()"
            )
        return engine

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._lock_pid = os.getpid()
        engine, self._engine = self._engine, None
        if engine is not None and engine.pid != os.getpid():
            _abandon(engine)

    # -- the caller's side ----------------------------------------------------------------------------

    @property
    def options(self) -> BrowserOptions:
        """The options of the current browser, or those the next start will use."""
        engine = self._engine
        if engine is not None and engine.pid == os.getpid() and not engine.stopped:
            return engine.options
        return self._given_options or BrowserOptions.from_settings()

    def run(self, fn: Callable[[], Awaitable[T]], *, timeout: float | None = None) -> T:
        """Run the coroutine ``fn()`` on the runtime's thread and return its result (or raise its error).

        Blocks the calling thread, which must not be the runtime's own. ``timeout`` is the limit
        in seconds for the whole call, browser start included (None: ``options.lookup_timeout``;
        ``math.inf`` or <= 0: no limit); when it passes, the coroutine is cancelled, so its
        ``async with`` blocks close what they opened, and :class:`BrowserTimeout` is raised.

        From a thread that runs an event loop this works but blocks that loop; use :meth:`arun`
        there instead.
        """
        engine = self._engine_for_call()
        if threading.current_thread() is engine.thread:
            raise RuntimeError("runtime.run() called from inside the runtime: await the coroutine instead")
        limit = _call_limit(timeout, engine.options)
        future = asyncio.run_coroutine_threadsafe(engine.call(fn, limit), engine.loop)
        wait = None if limit is None else limit + SETTLE
        try:
            return future.result(wait)
        except concurrent.futures.TimeoutError:
            if future.done():
                raise
            future.cancel()
            raise BrowserTimeout(f"the browser runtime did not answer within {wait:g} s") from None
        except concurrent.futures.CancelledError:
            # Our own timer can win a race with a call finishing, or close() ended the loop.
            raise BrowserError("the browser call was cancelled (timeout or runtime closed)") from None
        except BaseException:
            # KeyboardInterrupt and the like: do not leave the lookup running unattended.
            future.cancel()
            raise

    async def arun(self, fn: Callable[[], Awaitable[T]], *, timeout: float | None = None) -> T:
        """Like :meth:`run`, for callers that are coroutines on another event loop."""
        engine = self._engine_for_call()
        if asyncio.get_running_loop() is engine.loop:
            raise RuntimeError("runtime.arun() called from inside the runtime: await the coroutine instead")
        limit = _call_limit(timeout, engine.options)
        inner = asyncio.run_coroutine_threadsafe(engine.call(fn, limit), engine.loop)
        future = asyncio.wrap_future(inner)
        wait = None if limit is None else limit + SETTLE
        try:
            return await asyncio.wait_for(future, wait)
        except asyncio.TimeoutError as exc:
            if isinstance(exc, BrowserTimeout):
                raise
            raise BrowserTimeout(f"the browser runtime did not answer within {wait:g} s") from None
        except asyncio.CancelledError:
            if not inner.cancelled():
                raise  # our caller was cancelled (and the call with it)
            raise BrowserError("the browser call was cancelled (timeout or runtime closed)") from None

    def run_page(self, fn: Callable[[Page], Awaitable[T]], *, timeout: float | None = None) -> T:
        """Run ``fn(page)`` with a fresh page in a fresh context (see :meth:`page`); the usual lookup call."""

        async def with_page() -> T:
            async with self.page() as page:
                browser = page.context.browser
                if browser is None:
                    return await fn(page)
                # A lookup whose browser dies fails at once, not when its timeout runs out.
                return await self._engine_on_loop().guarded(browser, fn(page))

        return self.run(with_page, timeout=timeout)

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Close the browser (a remote one: only our contexts and connection) and the runtime's thread.

        Waits up to ``timeout`` seconds, then kills whatever the runtime started. The runtime
        may be used again afterwards: the next call starts everything anew.
        """
        if self._lock_pid != os.getpid():
            self._after_fork()
        with self._lock:
            engine, self._engine = self._engine, None
        if engine is None:
            return
        if engine.pid != os.getpid():
            _abandon(engine)
            return
        engine.stop(timeout)

    # -- inside run() ---------------------------------------------------------------------------------

    async def get_browser(self) -> Browser:
        """The shared browser, started if needed. Only inside :meth:`run`; never close it yourself."""
        return await self._engine_on_loop().ensure_browser()

    def context(self, **overrides: Any) -> contextlib.AbstractAsyncContextManager[BrowserContext]:
        """``async with runtime.context() as ctx``: a new, empty browser context, closed on exit.

        Only inside :meth:`run`. The context has locale ``es-CO``, time zone America/Bogota,
        the configured user agent and proxy, and ``options.page_timeout`` as default timeout;
        ``overrides`` are further ``Browser.new_context`` arguments. No cookies, storage or
        cache are shared with any other context. Closing happens in the background, so the
        call returns without waiting for it.
        """
        return self._engine_on_loop().context(overrides)

    def page(self, **overrides: Any) -> contextlib.AbstractAsyncContextManager[Page]:
        """``async with runtime.page() as page``: a blank page alone in a new context (see :meth:`context`).

        Without ``overrides`` the page may come pre-warmed: made, with its context, in the
        background after the previous call, so that a lookup does not wait for a renderer to
        start. It is still a context nobody has used.
        """
        return self._engine_on_loop().page(overrides)

    # -- introspection --------------------------------------------------------------------------------

    def _live_engine(self) -> _Engine | None:
        engine = self._engine
        if engine is None or engine.pid != os.getpid() or engine.stopped:
            return None
        return engine

    @property
    def browser_pid(self) -> int | None:
        """PID of the launched browser's main process; None before launch, after close, or when connected."""
        engine = self._live_engine()
        return None if engine is None else engine.browser_pid

    @property
    def driver_pid(self) -> int | None:
        """PID of Playwright's Node.js driver process, if running and known."""
        engine = self._live_engine()
        return None if engine is None else engine.driver_pid

    @property
    def launch_count(self) -> int:
        """Browsers launched or connected to by the current engine (relaunches included)."""
        engine = self._live_engine()
        return 0 if engine is None else engine.launch_count

    def is_browser_running(self) -> bool:
        """Whether a browser is started and connected right now (False after idle close)."""
        engine = self._live_engine()
        browser = None if engine is None else engine.browser
        return browser is not None and browser.is_connected()

    def memory_rss(self) -> int:
        """Resident memory in bytes of this process plus all its descendants (driver and Chromium).

        Sums ``VmRSS`` from ``/proc``, so pages shared between Chromium's processes count once
        per process: an upper bound, comparable between runs. A remote browser is not included.
        """
        return procfs.tree_rss_bytes(os.getpid())


# -- process-wide bookkeeping -------------------------------------------------------------------------

_runtimes: weakref.WeakSet[BrowserRuntime] = weakref.WeakSet()
# Engines inherited through fork: kept referenced so that no finaliser ever touches the
# parent's loop, pipes or processes from this process.
_abandoned: list[_Engine] = []
_singleton: BrowserRuntime | None = None
_singleton_lock = threading.Lock()
_exit_hook_pid: int | None = None


def _abandon(engine: _Engine) -> None:
    """Forget an engine inherited from a parent process, without touching the parent's browser."""
    engine.stopped = True
    # Our copies of the driver's pipes would keep the parent's driver (and so its Chromium)
    # alive after the parent dies; with them pointed at /dev/null the parent's exit is seen.
    procfs.detach_fds(engine.driver_pipes)
    engine.driver_pipes = frozenset()
    _abandoned.append(engine)


def _after_fork_in_child() -> None:
    global _singleton_lock
    _singleton_lock = threading.Lock()
    for runtime in list(_runtimes):
        runtime._after_fork()


def _close_all_at_exit() -> None:
    for runtime in list(_runtimes):
        engine = runtime._engine
        if engine is not None and engine.pid == os.getpid():
            try:
                runtime.close(timeout=2 * CLOSE_GRACE)
            except Exception:
                logger.exception("closing the browser runtime at exit failed")


def _register_exit_hook() -> None:
    """Close runtimes at the exit of this process, including a ``multiprocessing`` child.

    ``multiprocessing`` children end with ``os._exit``, which skips ``atexit``; they do run
    ``multiprocessing.util`` finalisers, whose registry is emptied when a child starts, so the
    hook is registered once per process, when the first engine starts there.
    """
    global _exit_hook_pid
    if _exit_hook_pid != os.getpid():
        _exit_hook_pid = os.getpid()
        multiprocessing.util.Finalize(None, _close_all_at_exit, exitpriority=100)


atexit.register(_close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def get_browser_runtime() -> BrowserRuntime:
    """The process-wide runtime, created on first use with the options of the Django settings.

    Fork-safe: in a process forked from one that had a runtime (Django-Q2 forks its workers),
    the inherited instance is dropped, without touching the parent's browser, and a new one
    is created here.
    """
    global _singleton
    runtime = _singleton
    if runtime is not None and runtime.pid == os.getpid():
        return runtime
    with _singleton_lock:
        if _singleton is None or _singleton.pid != os.getpid():
            if _singleton is not None:
                _singleton._after_fork()
            _singleton = BrowserRuntime()
        return _singleton


def reset_browser_runtime() -> None:
    """Close the process-wide runtime and forget it; the next :func:`get_browser_runtime` makes a new one.

    For settings changes (the new one reads them afresh) and tests.
    """
    global _singleton
    with _singleton_lock:
        runtime, _singleton = _singleton, None
    if runtime is not None:
        runtime.close()
