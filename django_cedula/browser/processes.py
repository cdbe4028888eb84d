"""The processes the runtime starts: the process table through psutil, which of them is Playwright's
driver and which the browser, their pipes, and killing what did not close.

psutil reads the table wherever the runtime runs (Linux, macOS, the BSDs), so the last-resort
kill of a browser that would not close and the memory figures are not lost off Linux. It does
not tell a process's group, which ``os.getpgid`` does. Every helper answers "nothing known"
(None, False, 0, empty) rather than raising when a process is gone or may not be read.

Only processes the runtime knows it started are killed: a browser's process group (never our
own) and our own child driver, checked to still be our child so that a reused PID is never hit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import playwright
import psutil

logger = logging.getLogger("django_cedula.browser")

#: psutil's states of a process that is gone but not yet reaped: it holds no memory and cannot be killed.
_GONE = frozenset({psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD})


@dataclass(frozen=True)
class ProcessInfo:
    """One line of the process table."""

    pid: int
    ppid: int
    pgid: int
    #: psutil's status: ``"running"``, ``"sleeping"``, ``"zombie"``, ...
    state: str
    #: The process name (psutil's, which completes the 15 characters Linux keeps from the command line).
    comm: str

    @property
    def alive(self) -> bool:
        """False for zombies and dead tasks: they hold no memory and cannot be killed further."""
        return self.state not in _GONE


def _info(process: psutil.Process) -> ProcessInfo:
    with process.oneshot():
        return ProcessInfo(
            pid=process.pid,
            ppid=process.ppid(),
            pgid=os.getpgid(process.pid),
            state=process.status(),
            comm=process.name(),
        )


def read_process(pid: int) -> ProcessInfo | None:
    """The process ``pid``, or None if it does not exist (or may not be read)."""
    try:
        return _info(psutil.Process(pid))
    except (psutil.Error, OSError):
        return None


def iter_processes() -> Iterator[ProcessInfo]:
    """Every process that can be read; those that end while the table is read are left out."""
    # psutil.pids() and a Process each, not psutil.process_iter(): its cache of Process objects is
    # shared by the whole interpreter, and the runtime's thread and the caller's may read at once.
    for pid in psutil.pids():
        info = read_process(pid)
        if info is not None:
            yield info


def descendants(root: int, table: Iterable[ProcessInfo] | None = None) -> list[ProcessInfo]:
    """Every live descendant of ``root`` (children, grandchildren, ...), not ``root`` itself.

    ``table`` is a process table read before (from :func:`iter_processes`), so that several
    questions about one moment read it once. A dead process's children are still followed.
    """
    children: dict[int, list[ProcessInfo]] = {}
    for info in iter_processes() if table is None else table:
        children.setdefault(info.ppid, []).append(info)
    found: list[ProcessInfo] = []
    stack = [root]
    seen = {root}
    while stack:
        for child in children.get(stack.pop(), []):
            if child.pid not in seen:
                seen.add(child.pid)
                stack.append(child.pid)
                if child.alive:
                    found.append(child)
    return found


def group_members(pgid: int) -> list[ProcessInfo]:
    """The live processes of process group ``pgid``."""
    members = []
    for pid in psutil.pids():
        # The group first: one system call rules out nearly every process.
        try:
            if os.getpgid(pid) != pgid:
                continue
        except OSError:
            continue
        info = read_process(pid)
        if info is not None and info.pgid == pgid and info.alive:
            members.append(info)
    return members


def is_alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        return psutil.Process(pid).status() not in _GONE
    except psutil.NoSuchProcess:  # ZombieProcess included
        return False
    except psutil.AccessDenied:
        return True  # someone else's, but there


def kill_group(pgid: int) -> bool:
    """SIGKILL every process of group ``pgid``; True if there was anything to kill.

    Refuses our own group, so that a browser that somehow shares it cannot take the caller
    down with it. The kernel never hands out a PID that still names a live group, so a group
    found alive here is the one the browser started.
    """
    if pgid <= 1 or pgid == os.getpgrp() or not group_members(pgid):
        return False
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def kill_process(pid: int) -> bool:
    """SIGKILL one process if it is alive; True if a signal was sent."""
    if pid <= 1 or pid == os.getpid():
        return False
    try:
        process = psutil.Process(pid)
        if process.status() in _GONE:
            return False
        # psutil checks first that the PID still names the process looked at above.
        process.kill()
    except psutil.Error:
        return False
    return True


def cmdline(pid: int) -> bytes:
    """The command line of ``pid``, each argument followed by a NUL byte (as Linux's ``/proc`` has it).

    Empty if unknown. For a substring test such as ``b"--type=renderer" in cmdline(pid)``.
    """
    try:
        arguments = psutil.Process(pid).cmdline()
    except psutil.Error:
        return b""
    return b"".join(os.fsencode(argument) + b"\0" for argument in arguments)


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` in bytes; 0 if unknown or gone."""
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:
        return 0


def tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and all its live descendants, summed (shared pages count twice)."""
    return rss_bytes(root) + sum(rss_bytes(info.pid) for info in descendants(root))


# -- which process is Playwright's driver, which the browser -------------------------------------------

#: Where the installed Playwright keeps its Node.js driver: the driver runs ``cli.js run-driver``
#: from here (the ``node`` beside it, or ``PLAYWRIGHT_NODEJS_PATH``'s).
PLAYWRIGHT_DRIVER_DIR = os.path.realpath(Path(playwright.__file__).parent / "driver")


def is_playwright_driver(pid: int) -> bool:
    """Whether ``pid`` runs the installed Playwright's driver (``... driver/package/cli.js run-driver``)."""
    arguments = [os.fsdecode(argument) for argument in cmdline(pid).split(b"\0")]
    if "run-driver" not in arguments:
        return False
    inside = PLAYWRIGHT_DRIVER_DIR + os.sep
    return any(os.path.realpath(argument).startswith(inside) for argument in arguments if argument)


def driver_children() -> set[int]:
    """Our live child processes that run Playwright's driver.

    Playwright has no public way to tell its driver's PID; the driver is a child of the process
    that started it, so the one that is new after a start (see :mod:`.engine`) is that start's.
    """
    try:
        children = psutil.Process().children()
    except psutil.Error:
        return set()
    return {child.pid for child in children if is_alive(child.pid) and is_playwright_driver(child.pid)}


def browser_under_driver(driver_pid: int) -> int | None:
    """The browser a driver launched: its one child that leads a process group of its own."""
    leaders = [info for info in descendants(driver_pid) if info.ppid == driver_pid and info.pgid == info.pid]
    return leaders[0].pid if len(leaders) == 1 else None


def browser_group(browser_pid: int) -> int | None:
    """The process group to reap when the browser closes; None if unknown or our own."""
    with contextlib.suppress(OSError):
        pgid = os.getpgid(browser_pid)
        # Never our own group: killing it would take this process down too.
        if pgid != os.getpgrp():
            return pgid
    return None


# -- killing what did not close ------------------------------------------------------------------------


async def reap_group(pgid: int) -> None:
    """Give a closed browser's process group a moment to empty, then kill what is left of it."""
    # Playwright waits for the browser process itself; its helpers may need a moment more.
    deadline = time.monotonic() + 1.0
    while group_members(pgid) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if kill_group(pgid):
        logger.warning("killed leftover browser processes of group %s", pgid)


def kill_child(pid: int) -> None:
    """SIGKILL ``pid`` if it is still alive and still our child (so a reused PID is never hit)."""
    info = read_process(pid)
    if info is not None and info.alive and info.ppid == os.getpid():
        kill_process(pid)


# -- descriptors, through /proc: the one part psutil does not do ---------------------------------------

# A forked child inherits its parent's pipes to Playwright's driver; while it holds them, the
# parent's driver (and so its Chromium) outlives the parent. Telling which pipe a descriptor is
# and pointing ours at ``/dev/null`` needs Linux's ``/proc/<pid>/fd``: psutil's ``open_files()``
# lists regular files only, never pipes, and nothing in psutil repoints a descriptor. Without
# ``/proc`` (macOS) both helpers do nothing, and a forked child keeps the pipes it inherited.

PROC = "/proc"


def fd_targets(pid: int, fds: Iterable[int]) -> frozenset[str]:
    """What the given descriptors of ``pid`` point at (``pipe:[1234]`` and the like)."""
    targets = set()
    for fd in fds:
        with contextlib.suppress(OSError):
            targets.add(os.readlink(f"{PROC}/{pid}/fd/{fd}"))
    return frozenset(targets)


def detach_fds(targets: frozenset[str]) -> int:
    """Point every descriptor of ours that refers to one of ``targets`` at ``/dev/null``.

    The descriptor numbers stay valid, so objects still holding them close harmlessly later;
    only our reference to the underlying pipe is dropped. Returns how many were detached.
    """
    if not targets:
        return 0
    try:
        names = os.listdir(f"{PROC}/self/fd")
    except OSError:
        return 0
    matches = []
    for name in names:
        with contextlib.suppress(OSError, ValueError):
            if os.readlink(f"{PROC}/self/fd/{name}") in targets:
                matches.append(int(name))
    if not matches:
        return 0
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in matches:
            os.dup2(devnull, fd, inheritable=False)
    finally:
        os.close(devnull)
    return len(matches)
