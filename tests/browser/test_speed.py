"""The runtime's per-lookup cost against a reused page and against a new browser per lookup."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable

import pytest
from playwright.async_api import async_playwright

from django_cedula.browser import BrowserOptions, BrowserRuntime

from .conftest import CHROMIUM
from .helpers import Site, page_title

pytestmark = pytest.mark.browser

LOOKUPS = 4


def test_a_lookup_costs_far_less_than_a_new_browser(
    make_runtime: Callable[..., BrowserRuntime],
    site: Site,
    record_property: Callable[[str, object], None],
) -> None:
    runtime = make_runtime()
    url = f"{site.url}/?q=1"
    runtime.run_page(lambda page: page_title(page, url))  # launch and warm up

    async def reused_page() -> list[float]:
        # The floor: one page, kept open, doing nothing but the lookup.
        times = []
        async with runtime.page() as page:
            for _ in range(LOOKUPS):
                started = time.perf_counter()
                await page_title(page, url)
                times.append(time.perf_counter() - started)
        return times

    floor = runtime.run(reused_page)

    def timed_calls(pause: float) -> list[float]:
        times = []
        for _ in range(LOOKUPS):
            time.sleep(pause)
            started = time.perf_counter()
            assert runtime.run_page(lambda page: page_title(page, url)) == "cedula test"
            times.append(time.perf_counter() - started)
        return times

    back_to_back = timed_calls(0.0)
    # A worker does some database work between lookups; a pause lets pre-warming finish.
    with_pause = timed_calls(0.5)

    async def new_browser_each() -> list[float]:
        options = BrowserOptions(executable=CHROMIUM)
        times = []
        async with async_playwright() as playwright:
            for _ in range(LOOKUPS):
                started = time.perf_counter()
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, args=options.launch_args(), headless=True
                )
                page = await (await browser.new_context(**options.context_options())).new_page()
                await page_title(page, url)
                await browser.close()
                times.append(time.perf_counter() - started)
        return times

    fresh = asyncio.run(new_browser_each())

    medians = {
        "reused_page": statistics.median(floor),
        "runtime_back_to_back": statistics.median(back_to_back),
        "runtime_with_pause": statistics.median(with_pause),
        "new_browser_each": statistics.median(fresh),
    }
    for name, value in medians.items():
        record_property(f"median_{name}_ms", round(value * 1000, 1))
    print("median seconds per lookup:", {name: round(value, 3) for name, value in medians.items()})
    # Lookups spaced like a worker's (CEDULA_MIN_LOOKUP_INTERVAL defaults to 5 s) find their
    # page ready. Back to back they wait for a renderer to start, still far from a browser.
    assert medians["runtime_with_pause"] * 2 <= medians["new_browser_each"], medians
    assert medians["runtime_back_to_back"] * 1.3 <= medians["new_browser_each"], medians
