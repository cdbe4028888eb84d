"""What lookups run in: each lookup's own new, empty context, and its page (a fresh one, a spare
made ahead of time, or one reused and scrubbed between lookups).

Used on the loop thread by the engine (:mod:`.engine`), which contexts and pages reach through
:class:`Host`. Contexts are closed in the background when a lookup is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, CDPSession, Page
from playwright.async_api import Error as PlaywrightError

from ..privacy import redact
from .loop import CLOSE_GRACE, Disconnects, is_disconnect
from .options import BrowserCrashed, BrowserOptions

logger = logging.getLogger("django_cedula.browser")


class Host(Protocol):
    """What contexts and pages need of the engine that owns the browser."""

    options: BrowserOptions
    loop: asyncio.AbstractEventLoop
    disconnects: Disconnects
    #: The current browser, None before the first start and after it was dropped.
    browser: Browser | None
    #: True once the engine shuts down: nothing is prepared for a next lookup any more.
    closing: bool

    async def ensure_browser(self) -> Browser:
        """The running browser, started first if there is none or it went away."""
        ...

    async def drop_if_current(self, browser: Browser) -> None:
        """Forget ``browser``, which went away, unless it was replaced already."""
        ...

    async def browser_answers(self) -> bool:
        """Whether the current browser answers a cheap round trip."""
        ...


class Contexts:
    """The contexts opened on the host's browser, and their closing in the background."""

    def __init__(self, host: Host) -> None:
        self.host = host
        #: Contexts of ours still open (a remote browser's are closed one by one when we leave it).
        self.open: set[BrowserContext] = set()
        self._background: set[asyncio.Task[None]] = set()

    def options(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """``Browser.new_context`` arguments: the configured ones, then ``overrides``."""
        return {**self.host.options.context_options(), **overrides}

    def adopt(self, context: BrowserContext) -> None:
        """Give a new context the configured timeouts and count it as ours."""
        context.set_default_timeout(self.host.options.page_timeout * 1000)
        context.set_default_navigation_timeout(self.host.options.page_timeout * 1000)
        self.open.add(context)

    async def new(self, overrides: Mapping[str, Any]) -> BrowserContext:
        """A fresh context; relaunches the browser once if it turns out to be gone."""
        options = self.options(overrides)
        for attempt in (1, 2):
            browser = await self.host.ensure_browser()
            try:
                context = await self.host.disconnects.guarded(browser, browser.new_context(**options))
            except (PlaywrightError, BrowserCrashed) as exc:
                if attempt == 2 or not is_disconnect(exc, browser):
                    raise
                logger.warning("the browser went away (%s); starting a new one", redact(exc))
                await self.host.drop_if_current(browser)
                continue
            self.adopt(context)
            return context
        raise AssertionError("unreachable")  # pragma: no cover

    async def new_page(self, context: BrowserContext) -> Page:
        """A blank page in ``context``, given up as soon as the browser goes away."""
        browser = context.browser or self.host.browser
        if browser is None:
            return await context.new_page()
        return await self.host.disconnects.guarded(browser, context.new_page())

    @contextlib.asynccontextmanager
    async def context(self, overrides: Mapping[str, Any]) -> AsyncIterator[BrowserContext]:
        context = await self.new(overrides)
        try:
            yield context
        finally:
            self.close_later(context)

    def close_later(self, context: BrowserContext) -> None:
        """Close ``context`` without making the caller wait for it."""
        task = self.host.loop.create_task(self.close(context))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self, context: BrowserContext) -> None:
        """Close ``context`` within :data:`CLOSE_GRACE` seconds; a failure is only logged."""
        try:
            await asyncio.wait_for(context.close(), CLOSE_GRACE)
        except (PlaywrightError, asyncio.TimeoutError) as exc:
            logger.debug("closing a browser context failed: %s", redact(exc))
        finally:
            self.open.discard(context)

    async def settle(self) -> None:
        """Wait (up to :data:`CLOSE_GRACE` seconds) for the closes in the background."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=CLOSE_GRACE)

    async def close_open(self) -> None:
        """Close every context of ours still open, one by one (on a remote browser that stays up)."""
        for context in list(self.open):
            with contextlib.suppress(PlaywrightError, asyncio.TimeoutError):
                await asyncio.wait_for(context.close(), CLOSE_GRACE)


# -- pages ---------------------------------------------------------------------------------------------


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


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


class Pages:
    """Hands out one page per lookup, and prepares or keeps the next one in the background."""

    def __init__(self, host: Host, contexts: Contexts) -> None:
        self.host = host
        self.contexts = contexts
        self._spare: tuple[Browser, asyncio.Task[_Spare | None]] | None = None
        # The reused page, being scrubbed after its last lookup (see ``_reused_page``).
        self._reusable: tuple[Browser, asyncio.Task[_Spare | None]] | None = None

    @contextlib.asynccontextmanager
    async def page(self, overrides: Mapping[str, Any]) -> AsyncIterator[Page]:
        if self.host.options.reuse_pages and not overrides:
            async with self._reused_page() as page:
                yield page
            return
        spare = None if overrides else await self._claim_spare()
        if spare is not None:
            context, page = spare.context, spare.page
        else:
            context = await self.contexts.new(overrides)
            try:
                page = await self.contexts.new_page(context)
            except BaseException:
                self.contexts.close_later(context)
                raise
        try:
            yield page
        finally:
            self.contexts.close_later(context)
            if not overrides:
                # Starting a renderer is most of a new page's cost. Doing it now, between
                # lookups, hides it from the next one; doing it during this lookup was
                # measured to slow the lookup down more than it saved (two cores).
                self._prewarm()

    async def discard(self) -> None:
        """Close the spare and the reused page (the browser is being dropped)."""
        await self._discard_spare()
        await self._discard_reusable()

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
            context = await self.contexts.new({})
            try:
                page = await self.contexts.new_page(context)
            except BaseException:
                self.contexts.close_later(context)
                raise
            slot = _Spare(self.host.browser or context.browser, context, page)  # type: ignore[arg-type]
        clean = False
        try:
            yield slot.page
            clean = True
        finally:
            if clean and not self.host.closing:
                self._reusable = (slot.browser, self.host.loop.create_task(self._scrub(slot)))
            else:
                # A lookup that failed may have left the page anywhere: start afresh next time.
                self.contexts.close_later(slot.context)

    async def _scrub(self, slot: _Spare) -> _Spare | None:
        """Clear everything the last lookup left in ``slot``; None (and closed) if that fails."""
        slot.uses += 1
        if slot.uses >= self.host.options.recycle_after:
            self.contexts.close_later(slot.context)
            return None
        try:
            scrubbed = self.host.disconnects.guarded(slot.browser, self._clear_state(slot))
            await asyncio.wait_for(scrubbed, CLOSE_GRACE)
        except (PlaywrightError, BrowserCrashed, asyncio.TimeoutError) as exc:
            logger.debug("scrubbing a reused page failed (%s); it will be replaced", redact(exc))
            self.contexts.close_later(slot.context)
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
                await self.contexts.close(slot.context)
        else:
            task.cancel()

    # -- pre-warming ----------------------------------------------------------------------------------

    def _prewarm(self) -> None:
        browser = self.host.browser
        if (
            self.host.options.prewarm
            and self._spare is None
            and not self.host.closing
            and browser is not None
            and browser.is_connected()
        ):
            self._spare = (browser, self.host.loop.create_task(self._make_spare(browser)))

    async def _make_spare(self, browser: Browser) -> _Spare | None:
        context: BrowserContext | None = None
        guarded = self.host.disconnects.guarded
        try:
            context = await guarded(browser, browser.new_context(**self.contexts.options({})))
            self.contexts.adopt(context)
            page = await guarded(browser, context.new_page())
        except asyncio.CancelledError:
            if context is not None:
                self.contexts.close_later(context)
            raise
        except (PlaywrightError, BrowserCrashed) as exc:
            logger.debug("pre-warming a browser context failed: %s", redact(exc))
            if context is not None:
                self.contexts.close_later(context)
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
            spare = await self.host.disconnects.guarded(browser, asyncio.shield(task))
        except BrowserCrashed:
            task.cancel()
            return None
        except asyncio.CancelledError:
            task.cancel()
            raise
        if spare is None:
            return None
        usable = (
            spare.browser is self.host.browser and spare.browser.is_connected() and not spare.page.is_closed()
        )
        # A browser killed a moment ago may not have been noticed yet: one cheap round trip
        # tells, where handing out its page would fail the lookup instead.
        if usable and await self.host.browser_answers():
            return spare
        self.contexts.close_later(spare.context)
        return None

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
                await self.contexts.close(spare.context)
