"""Playwright's Node.js driver: which process it is, and stopping it.

The runtime needs the driver's PID to kill a driver that would not stop, to find the browser it
launched, and to detach a forked child from its pipes. Playwright has no public way to tell it
(nothing in its API or docs names the driver process), so :func:`private_driver_pid` reads it
from Playwright's private attributes: the one place in the package that does.
``tests/browser/test_driver.py`` checks it against the installed Playwright and fails, naming
this module, when a release moves them; until it is fixed, :func:`find_driver_pid` falls back
on the one new driver among our children.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from playwright.async_api import Playwright

from ..privacy import redact
from . import processes
from .reaping import CLOSE_GRACE, kill_child

logger = logging.getLogger("django_cedula.browser")

#: Where Playwright has kept the driver's ``asyncio`` subprocess, newest first: on the context
#: manager's client (the installed 1.65 has this one), or on the connection of the Playwright object.
PRIVATE_PATHS = (
    ("manager", ("_client", "_transport", "_proc", "pid")),
    ("playwright", ("_impl_obj", "_connection", "_transport", "_proc", "pid")),
)


def private_driver_pid(manager: Any, playwright: Playwright) -> int | None:
    """The driver's PID as Playwright holds it privately; None if no known path leads to it.

    ``manager`` is the ``async_playwright()`` object, ``playwright`` what its ``start()`` returned.
    """
    roots = {"manager": manager, "playwright": playwright}
    for root, path in PRIVATE_PATHS:
        obj: Any = roots[root]
        for name in path:
            obj = getattr(obj, name, None)
            if obj is None:
                break
        if isinstance(obj, int):
            return obj
    return None


def driver_children() -> set[int]:
    """Our live child processes that run a Playwright driver."""
    found = set()
    for info in processes.descendants(os.getpid()):
        if info.ppid == os.getpid() and b"run-driver" in processes.cmdline(info.pid):
            found.add(info.pid)
    return found


def find_driver_pid(manager: Any, playwright: Playwright, before: set[int]) -> int | None:
    """The PID of the driver just started, or None if it cannot be told.

    ``before`` is :func:`driver_children` from just before the start: when the private
    attributes lead nowhere, the one driver that is new since then is it.
    """
    pid = private_driver_pid(manager, playwright)
    if pid is not None:
        return pid
    new = driver_children() - before
    return new.pop() if len(new) == 1 else None


async def stop_driver(playwright: Playwright, pid: int | None) -> None:
    """Stop the driver within :data:`CLOSE_GRACE` seconds; then kill it if it is still our child."""
    try:
        await asyncio.wait_for(playwright.stop(), CLOSE_GRACE)
    except Exception as exc:
        logger.warning("the Playwright driver did not stop cleanly (%s); killing it", redact(exc))
    if pid is not None:
        kill_child(pid)
