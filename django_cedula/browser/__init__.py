"""The browser runtime: a headless Chromium per process (one per set of browser options), usable
from plain synchronous code.

A scraper is called from synchronous code (a Django-Q2 worker, a management command) that
also uses the ORM. Playwright's sync API would run an event loop in that thread, which makes
Django refuse ORM calls there. Instead, :class:`BrowserRuntime` runs Playwright's async API
on a private daemon thread with its own event loop; the caller hands it a coroutine factory
and blocks until it is done::

    from django_cedula.browser import get_browser_runtime

    runtime = get_browser_runtime()

    async def lookup(page, cedula):
        await page.goto(url)
        ...
        return answer

    answer = runtime.run_page(lambda page: lookup(page, cedula), timeout=120)

    # or, when the coroutine needs several pages or contexts:
    async def lookup2(cedula):
        async with runtime.page() as page:   # fresh context, closed afterwards
            ...

    answer = runtime.run(lambda: lookup2(cedula), timeout=120)

What the runtime guarantees:

* One browser per process for each :class:`BrowserOptions` (sources with equal ``browser``,
  ``proxy``, ``user_agent`` and ``page_timeout`` options share it), launched on first use and
  reused; a new, empty context per
  :meth:`~BrowserRuntime.page` / :meth:`~BrowserRuntime.context` (no cookies or storage
  shared between lookups), closed in the background when the block ends. With
  ``prewarm`` (the default) the next context and page are prepared in the background after
  each lookup, so a lookup that comes a moment later starts at once; the price is one idle
  renderer process between lookups (``BrowserOptions(prewarm=False)`` to avoid it).
* A browser that crashed or was killed is noticed and relaunched by the next call.
* The browser (and Playwright's driver) are closed after ``idle_timeout`` seconds without
  calls, on :meth:`~BrowserRuntime.close`, at interpreter exit and when a ``multiprocessing``
  child exits; if a graceful close fails, the browser's process group is killed. If the
  process is killed outright, Playwright's driver sees its pipe close and takes the browser
  down with it.
* :func:`get_browser_runtime` is fork-safe: a forked child (fork, spawn and forkserver all
  work) gets its own runtime and browser and never touches its parent's.
* Endpoint mode (a browser source's ``browser["endpoint"]``): ``ws://``/``wss://`` connects to a Playwright
  browser server (``playwright launch-server`` / ``run-server``); ``http://``/``https://``,
  or a ``ws://`` DevTools URL (``.../devtools/browser/<id>``), connects over CDP. The remote
  browser is never closed: only our contexts and the connection.

Calling :meth:`~BrowserRuntime.run` from a thread that runs an event loop (an async view)
works but blocks that loop for the whole lookup; use ``await runtime.arun(...)`` there.
Calling it from inside the runtime (a coroutine given to ``run``) raises ``RuntimeError``.

Without Django settings, build the options yourself: ``BrowserRuntime(BrowserOptions(...))``.

Where things live, one job per module (what callers use is importable from this package):

* :mod:`.runtime`: :class:`BrowserRuntime`, the caller's side, and the process-wide bookkeeping:
  the instance of :func:`get_browser_runtime`, the fork and exit hooks.
* :mod:`.engine`: a runtime's per-process half: starts Playwright's driver and the browser
  (launched, or connected to at an endpoint), drops and relaunches it, closes it when idle,
  shuts everything down.
* :mod:`.loop`: the event-loop thread, calls into it from other threads and loops with their
  time limits, and noticing a browser that went away.
* :mod:`.pages`: each lookup's new, empty context, and its page: fresh, the spare made ahead of
  the next lookup, or the reused page scrubbed between lookups.
* :mod:`.processes`: the process table through psutil: which process is Playwright's driver and
  which the browser, their pipes (Linux's ``/proc``), killing what did not close.
* :mod:`.options`: what is launched and how, which Chromium, the exceptions.

The loop thread is hand-written on ``asyncio``. anyio's blocking portal
(``anyio.from_thread.start_blocking_portal``) was considered and not taken:

* Closing must be bounded. ``close()`` waits ``CLOSE_TIMEOUT`` for the shutdown, then kills
  what the runtime started and leaves its daemon thread behind. Leaving the portal's context
  waits for its tasks and joins its thread with no limit, and some Playwright calls in flight
  when Chromium dies never settle: ``close()``, interpreter exit or a ``multiprocessing``
  child's exit would hang on them.
* The portal does not do the hard part. Per-call deadlines that cancel inside the loop, the
  caller's extra wait for that cancellation, the mapping to :class:`BrowserTimeout` and
  :class:`BrowserError`, the idle timer, refusing calls from inside the loop and dropping an
  engine inherited through fork stay ours either way; the portal would replace the twenty
  lines that start, run and tear down the loop, and ``run_coroutine_threadsafe``.
* Its calls run in anyio task groups under cancel scopes, while the deadlines and Playwright
  cancel plain asyncio tasks: two cancellation models in the code that must never leave a
  browser behind, for a new runtime dependency.
"""

from __future__ import annotations

from .options import (
    BASE_ARGS,
    BrowserCrashed,
    BrowserError,
    BrowserLaunchError,
    BrowserOptions,
    BrowserTimeout,
    BrowserUnavailable,
    find_browser_executable,
    parse_proxy,
)
from .runtime import BrowserRuntime, get_browser_runtime, reset_browser_runtime

__all__ = [
    "BASE_ARGS",
    "BrowserCrashed",
    "BrowserError",
    "BrowserLaunchError",
    "BrowserOptions",
    "BrowserRuntime",
    "BrowserTimeout",
    "BrowserUnavailable",
    "find_browser_executable",
    "get_browser_runtime",
    "parse_proxy",
    "reset_browser_runtime",
]
