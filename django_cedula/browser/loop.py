"""The runtime's event-loop thread, calls into it from other threads and loops with their time limits,
and noticing a browser that went away so that calls on it fail at once.

The loop thread is hand-written on ``asyncio`` rather than on anyio's blocking portal; the package
docstring (:mod:`django_cedula.browser`) says why. Some Playwright calls in flight when Chromium
dies never settle, so every call the runtime makes on a browser is raced against a future that is
done when that browser disconnects (:class:`Disconnects`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from playwright.async_api import Browser

from .options import BrowserCrashed, BrowserError, BrowserTimeout

T = TypeVar("T")

#: Seconds a graceful close (of a context, the browser, the driver) may take before we kill.
CLOSE_GRACE = 5.0
#: Seconds a caller of ``close()`` waits for the whole shutdown before killing what is left.
CLOSE_TIMEOUT = 3 * CLOSE_GRACE
#: Seconds a caller waits beyond a call's own limit, for the cancellation inside the loop to finish.
SETTLE = 5.0


def call_limit(timeout: float | None, default: float | None) -> float | None:
    """Seconds a call may take, or None for no limit (``math.inf`` or a value <= 0)."""
    limit = default if timeout is None else timeout
    if limit is None or math.isinf(limit) or limit <= 0:
        return None
    return float(limit)


async def within(limit: float | None, fn: Callable[[], Awaitable[T]]) -> T:
    """Await ``fn()``; after ``limit`` seconds cancel it and raise :class:`BrowserTimeout` instead.

    Cancelling (rather than abandoning) the call lets its ``async with`` blocks close what they
    opened. A cancellation that comes from elsewhere stays a cancellation.
    """
    if limit is None:
        return await fn()
    task = asyncio.current_task()
    assert task is not None
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    handle = asyncio.get_running_loop().call_later(limit, expire)
    try:
        return await fn()
    except asyncio.CancelledError:
        if not expired:
            raise
        # Python 3.11+: the task is no longer "being cancelled", so it may await again.
        uncancel = getattr(task, "uncancel", None)
        if uncancel is not None:
            uncancel()
        raise BrowserTimeout(f"the browser call did not finish within {limit:g} s") from None
    finally:
        handle.cancel()


class LoopThread:
    """A daemon thread running one event loop until :meth:`stop`.

    Daemon, so that a loop stuck in a call never keeps the interpreter (or a ``multiprocessing``
    child) from exiting: closing the browser at exit is the exit hook's job, with its own limit.
    """

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.thread.start()

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

    def is_current(self) -> bool:
        """Whether the calling thread is this one."""
        return threading.current_thread() is self.thread

    def is_alive(self) -> bool:
        return self.thread.is_alive()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop, from any other thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, join_timeout: float) -> None:
        """End the loop (what still runs is cancelled) and wait up to ``join_timeout`` s for the thread."""
        with contextlib.suppress(RuntimeError):  # the loop is closed already
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(join_timeout)

    def call(self, coro: Coroutine[Any, Any, T], limit: float | None) -> T:
        """Run ``coro`` (which keeps to ``limit`` itself) on the loop; block until it ends.

        The caller waits :data:`SETTLE` seconds beyond ``limit`` for the coroutine's own timeout
        to settle, then gives it up (cancelled) with :class:`BrowserTimeout`.
        """
        future = self.submit(coro)
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

    async def acall(self, coro: Coroutine[Any, Any, T], limit: float | None) -> T:
        """Like :meth:`call`, awaited from a coroutine on another event loop."""
        inner = self.submit(coro)
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


# -- a browser that went away --------------------------------------------------------------------------


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
