"""The browser runtime: one headless Chromium per process, usable from plain synchronous code.

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

* One browser per process, launched on first use and reused; a new, empty context per
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
* Endpoint mode (``CEDULA_BROWSER_ENDPOINT``): ``ws://``/``wss://`` connects to a Playwright
  browser server (``playwright launch-server`` / ``run-server``); ``http://``/``https://``,
  or a ``ws://`` DevTools URL (``.../devtools/browser/<id>``), connects over CDP. The remote
  browser is never closed: only our contexts and the connection.

Calling :meth:`~BrowserRuntime.run` from a thread that runs an event loop (an async view)
works but blocks that loop for the whole lookup; use ``await runtime.arun(...)`` there.
Calling it from inside the runtime (a coroutine given to ``run``) raises ``RuntimeError``.

Without Django settings, build the options yourself: ``BrowserRuntime(BrowserOptions(...))``.
"""

from __future__ import annotations

from .discovery import find_browser_executable, playwright_chromium_path
from .errors import BrowserCrashed, BrowserError, BrowserLaunchError, BrowserTimeout, BrowserUnavailable
from .options import BASE_ARGS, BrowserOptions, parse_proxy
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
    "playwright_chromium_path",
    "reset_browser_runtime",
]
