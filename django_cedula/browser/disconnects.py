"""Noticing that a browser went away: calls in flight fail at once instead of hanging.

Some Playwright calls in flight when Chromium dies never settle, so every call the runtime
makes on a browser is raced against a future that is done when that browser disconnects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from playwright.async_api import Browser

from .errors import BrowserCrashed

T = TypeVar("T")


def is_disconnect(exc: BaseException, browser: Browser) -> bool:
    """Whether ``exc`` means the browser itself is gone (as opposed to a failed action)."""
    # TargetClosedError is not exported by playwright.async_api, so it is recognised by name.
    return (
        isinstance(exc, BrowserCrashed)
        or not browser.is_connected()
        or type(exc).__name__ == "TargetClosedError"
        or "has been closed" in str(exc)
    )


class Disconnects:
    """Per browser (by id), a future done when it disconnects. Used on the loop thread only."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._gone: dict[int, asyncio.Future[None]] = {}

    def watch(self, browser: Browser) -> None:
        """Start following a browser just launched or connected to."""
        gone: asyncio.Future[None] = self.loop.create_future()
        self._gone[id(browser)] = gone

        def on_disconnected(_: Browser) -> None:
            if not gone.done():
                gone.set_result(None)

        browser.on("disconnected", on_disconnected)

    def forget(self, browser: Browser) -> None:
        """A browser dropped: whatever still waits on it is released as if it had disconnected."""
        gone = self._gone.pop(id(browser), None)
        if gone is not None and not gone.done():
            gone.set_result(None)

    def gone(self, browser: Browser) -> asyncio.Future[None]:
        """Done once ``browser`` has disconnected (at once for a browser already dropped)."""
        gone = self._gone.get(id(browser))
        if gone is None:
            gone = self.loop.create_future()
            gone.set_result(None)
        return gone

    async def guarded(self, browser: Browser, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable``, but raise :class:`BrowserCrashed` as soon as ``browser`` disconnects."""
        task = asyncio.ensure_future(awaitable)
        waiters: set[asyncio.Future[Any]] = {task, self.gone(browser)}
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
