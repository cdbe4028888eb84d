"""How long a graceful close may take, and killing what the runtime started that did not close.

Only processes the runtime knows it started are killed: a browser's process group (never our
own) and our own child driver, checked to still be our child so that a reused PID is never hit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

from . import processes

logger = logging.getLogger("django_cedula.browser")

#: Seconds a graceful close (of a context, the browser, the driver) may take before we kill.
CLOSE_GRACE = 5.0
#: Seconds a caller of ``close()`` waits for the whole shutdown before killing what is left.
CLOSE_TIMEOUT = 3 * CLOSE_GRACE


async def reap_group(pgid: int) -> None:
    """Give a closed browser's process group a moment to empty, then kill what is left of it."""
    # Playwright waits for the browser process itself; its helpers may need a moment more.
    deadline = time.monotonic() + 1.0
    while processes.group_members(pgid) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if processes.kill_group(pgid):
        logger.warning("killed leftover browser processes of group %s", pgid)


def kill_child(pid: int) -> None:
    """SIGKILL ``pid`` if it is still alive and still our child (so a reused PID is never hit)."""
    info = processes.read_process(pid)
    if info is not None and info.alive and info.ppid == os.getpid():
        processes.kill_process(pid)
