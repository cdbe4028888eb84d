"""The process-wide face of the browser runtime: :class:`BrowserRuntime`, and the fork and exit hooks.

See the package docstring (:mod:`django_cedula.browser`) for how to use it. A runtime is the
caller's side: it checks the calling thread and process, hands coroutines to its engine
(:mod:`.engine`, the per-process half that owns the loop thread, driver and browser) and
replaces that engine after ``close()`` and after a fork, so a runtime object stays usable for
the life of the process that holds it. This module also keeps every runtime of the process, to
close them at exit (``atexit``, and the end of a ``multiprocessing`` child) and to drop what a
forked child inherited, and the process-wide instance of :func:`get_browser_runtime`.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import multiprocessing.util
import os
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from playwright.async_api import Browser, BrowserContext, Page

from . import processes
from .engine import Engine
from .loop import CLOSE_GRACE, CLOSE_TIMEOUT, call_limit
from .options import BrowserOptions

logger = logging.getLogger("django_cedula.browser")

T = TypeVar("T")


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
        """``options`` defaults to :meth:`BrowserOptions.defaults`, read when the browser starts."""
        self._given_options = options
        self._lock = threading.Lock()
        self._lock_pid = os.getpid()
        self._engine: Engine | None = None
        #: The process this runtime was created in.
        self.pid = os.getpid()
        _runtimes.add(self)

    def __repr__(self) -> str:
        return f"<BrowserRuntime pid={self.pid} browser_pid={self.browser_pid}>"

    @property
    def options_given(self) -> BrowserOptions | None:
        """The options this runtime was created with (``None``: the defaults, read at each start)."""
        return self._given_options

    # -- the engine -----------------------------------------------------------------------------------

    def _engine_for_call(self) -> Engine:
        if self._lock_pid != os.getpid():
            # Forked with the lock possibly held by a thread that does not exist here.
            self._after_fork()
        with self._lock:
            engine = self._engine
            if engine is not None and engine.pid != os.getpid():
                _abandon(engine)
                engine = None
            if engine is None or engine.stopped:
                options = self._given_options or BrowserOptions.defaults()
                _register_exit_hook()
                engine = self._engine = Engine(options)
            return engine

    def _engine_on_loop(self) -> Engine:
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
        return self._given_options or BrowserOptions.defaults()

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
        if engine.loop_thread.is_current():
            raise RuntimeError("runtime.run() called from inside the runtime: await the coroutine instead")
        limit = call_limit(timeout, engine.options.lookup_timeout)
        return engine.loop_thread.call(engine.call(fn, limit), limit)

    async def arun(self, fn: Callable[[], Awaitable[T]], *, timeout: float | None = None) -> T:
        """Like :meth:`run`, for callers that are coroutines on another event loop."""
        engine = self._engine_for_call()
        if asyncio.get_running_loop() is engine.loop:
            raise RuntimeError("runtime.arun() called from inside the runtime: await the coroutine instead")
        limit = call_limit(timeout, engine.options.lookup_timeout)
        return await engine.loop_thread.acall(engine.call(fn, limit), limit)

    def run_page(self, fn: Callable[[Page], Awaitable[T]], *, timeout: float | None = None) -> T:
        """Run ``fn(page)`` with a fresh page in a fresh context (see :meth:`page`); the usual lookup call."""

        async def with_page() -> T:
            async with self.page() as page:
                browser = page.context.browser
                if browser is None:
                    return await fn(page)
                # A lookup whose browser dies fails at once, not when its timeout runs out.
                return await self._engine_on_loop().disconnects.guarded(browser, fn(page))

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
        return self._engine_on_loop().contexts.context(overrides)

    def page(self, **overrides: Any) -> contextlib.AbstractAsyncContextManager[Page]:
        """``async with runtime.page() as page``: a blank page alone in a new context (see :meth:`context`).

        Without ``overrides`` the page may come pre-warmed: made, with its context, in the
        background after the previous call, so that a lookup does not wait for a renderer to
        start. It is still a context nobody has used.
        """
        return self._engine_on_loop().pages.page(overrides)

    # -- introspection --------------------------------------------------------------------------------

    def _live_engine(self) -> Engine | None:
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

        Sums each process's resident set (psutil's ``rss``, Linux's ``VmRSS``), so pages shared
        between Chromium's processes count once per process: an upper bound, comparable between
        runs. A remote browser is not included.
        """
        return processes.tree_rss_bytes(os.getpid())


# -- process-wide bookkeeping -------------------------------------------------------------------------

_runtimes: weakref.WeakSet[BrowserRuntime] = weakref.WeakSet()
# Engines inherited through fork: kept referenced so that no finaliser ever touches the
# parent's loop, pipes or processes from this process.
_abandoned: list[Engine] = []
# The runtimes get_browser_runtime() shares, one per distinct options (sources normally share one).
_shared: list[BrowserRuntime] = []
_shared_lock = threading.Lock()
_exit_hook_pid: int | None = None


def _abandon(engine: Engine) -> None:
    """Forget an engine inherited from a parent process, without touching the parent's browser."""
    engine.stopped = True
    # Our copies of the driver's pipes would keep the parent's driver (and so its Chromium)
    # alive after the parent dies; with them pointed at /dev/null the parent's exit is seen.
    processes.detach_fds(engine.driver_pipes)
    engine.driver_pipes = frozenset()
    _abandoned.append(engine)


def _after_fork_in_child() -> None:
    global _shared_lock
    _shared_lock = threading.Lock()
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
    hook is registered once per process, just before the first engine starts there.
    """
    global _exit_hook_pid
    if _exit_hook_pid != os.getpid():
        _exit_hook_pid = os.getpid()
        multiprocessing.util.Finalize(None, _close_all_at_exit, exitpriority=100)


atexit.register(_close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def get_browser_runtime(options: BrowserOptions | None = None) -> BrowserRuntime:
    """The process's runtime for ``options`` (default :meth:`BrowserOptions.defaults`), created on
    first use; sources whose browser options are equal share it.

    Fork-safe: in a process forked from one that had a runtime (Django-Q2 forks its workers),
    the inherited instance is dropped, without touching the parent's browser, and a new one
    is created here.
    """
    wanted = options or BrowserOptions.defaults()
    pid = os.getpid()
    with _shared_lock:
        for runtime in list(_shared):
            if runtime.pid != pid:
                runtime._after_fork()
                _shared.remove(runtime)
            elif runtime.options_given == wanted:
                return runtime
        runtime = BrowserRuntime(wanted)
        _shared.append(runtime)
        return runtime


def reset_browser_runtime() -> None:
    """Close every runtime :func:`get_browser_runtime` shares and forget them; the next call makes a
    new one. For settings changes and tests."""
    with _shared_lock:
        runtimes = list(_shared)
        _shared.clear()
    for runtime in runtimes:
        if runtime.pid == os.getpid():
            runtime.close()
