"""Fixtures of the browser runtime tests: a local site and runtimes that must leave nothing behind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from django_cedula.browser import BrowserOptions, BrowserRuntime, reset_browser_runtime

from ..conftest import CHROMIUM
from .helpers import TAG_VAR, Site, assert_no_tagged_processes, new_tag

# Without Chromium these tests are skipped, or fail when CI is set: tests/conftest.py's
# require_chromium, shared with every other suite that drives a browser.


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    """The local test site, for the whole session."""
    server = Site().start()
    yield server
    server.stop()


def browser_options(**overrides: Any) -> BrowserOptions:
    """Options for tests: no idle close unless asked, the system Chromium."""
    values: dict[str, Any] = {"idle_timeout": None, "executable": CHROMIUM}
    values.update(overrides)
    return BrowserOptions(**values)


@pytest.fixture
def make_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., BrowserRuntime]]:
    """Build runtimes for this test (keyword arguments are BrowserOptions); all closed and checked after.

    The test's processes carry a fresh tag in their environment; after the test, none may be left.
    """
    tag = new_tag()
    monkeypatch.setenv(TAG_VAR, tag)
    runtimes: list[BrowserRuntime] = []

    def make(**overrides: Any) -> BrowserRuntime:
        runtime = BrowserRuntime(browser_options(**overrides))
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        runtime.close()
    assert_no_tagged_processes(tag)


@pytest.fixture
def runtime(make_runtime: Callable[..., BrowserRuntime]) -> BrowserRuntime:
    """A fresh runtime with default test options."""
    return make_runtime()


SHARED_USER_AGENT = "CedulaTest/1.0"


@pytest.fixture(scope="module")
def shared_runtime(site: Site) -> Iterator[BrowserRuntime]:
    """One started runtime for the module's non-destructive tests.

    It has a user agent of its own, and the local site as its proxy: Chromium never proxies
    loopback addresses, so only lookups of other hosts reach the site that way.
    """
    tag = new_tag()
    runtime = BrowserRuntime(browser_options(user_agent=SHARED_USER_AGENT, proxy={"server": site.url}))
    with pytest.MonkeyPatch.context() as patch:
        # The driver and browser inherit the environment when they start, which is now.
        patch.setenv(TAG_VAR, tag)
        runtime.run(runtime.get_browser)
    yield runtime
    runtime.close()
    assert_no_tagged_processes(tag)


@pytest.fixture
def process_runtime() -> Iterator[None]:
    """For tests of the process-wide runtime: none before, none left after."""
    reset_browser_runtime()
    yield
    reset_browser_runtime()
