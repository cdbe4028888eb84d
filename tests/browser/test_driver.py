"""Playwright's driver process, found where the runtime looks for it.

Playwright has no public way to tell its driver's PID, so ``django_cedula/browser/driver.py`` reads
private attributes. When a Playwright release moves them, the first test here fails and says so:
update ``PRIVATE_PATHS`` there. (Meanwhile the runtime falls back on the one new driver among its
children, which the second test checks.) These start Playwright's Node.js driver, not a browser.
"""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from typing import Any

from playwright.async_api import async_playwright

from django_cedula.browser import driver, processes

from .helpers import wait_until


async def started_driver(probe: Any) -> Any:
    """Start Playwright's driver, call ``probe(manager, playwright, before)``, stop the driver."""
    before = driver.driver_children()
    manager = async_playwright()
    playwright = await manager.start()
    try:
        return probe(manager, playwright, before)
    finally:
        await playwright.stop()


def test_the_private_attributes_still_lead_to_the_driver() -> None:
    def probe(manager: Any, playwright: Any, before: set[int]) -> tuple[int | None, set[int]]:
        return driver.private_driver_pid(manager, playwright), driver.driver_children() - before

    pid, new = asyncio.run(started_driver(probe))
    assert pid is not None, (
        f"Playwright {version('playwright')} keeps its driver's process somewhere else than "
        f"django_cedula.browser.driver.PRIVATE_PATHS {driver.PRIVATE_PATHS}: update them"
    )
    assert new == {pid}, "the PID Playwright holds is not the driver it started"
    assert wait_until(lambda: not processes.is_alive(pid), 5), "the driver outlived playwright.stop()"


def test_without_the_private_attributes_the_new_driver_is_found_among_our_children() -> None:
    def probe(manager: Any, playwright: Any, before: set[int]) -> tuple[int | None, int | None]:
        fallback = driver.find_driver_pid(object(), object(), before)
        return fallback, driver.private_driver_pid(manager, playwright)

    fallback, private = asyncio.run(started_driver(probe))
    assert fallback is not None
    assert fallback == private
