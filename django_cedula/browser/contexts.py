"""Browser contexts: each lookup's own, new and empty, closed in the background when it is done.

Used on the loop thread by the engine (:mod:`.engine`), which it reaches through :class:`Host`;
the pages made in them, ahead of time or kept between lookups, are in :mod:`.pages`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from playwright.async_api import Browser, BrowserContext, Page
from playwright.async_api import Error as PlaywrightError

from ..privacy import redact
from .disconnects import Disconnects, is_disconnect
from .errors import BrowserCrashed
from .options import BrowserOptions
from .reaping import CLOSE_GRACE

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
