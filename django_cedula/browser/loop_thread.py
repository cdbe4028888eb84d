"""The runtime's event-loop thread, and calls into it from other threads and loops, with time limits.

Hand-written on ``asyncio`` rather than on anyio's blocking portal; the package docstring
(:mod:`django_cedula.browser`) says why.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from .errors import BrowserError, BrowserTimeout

T = TypeVar("T")

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
