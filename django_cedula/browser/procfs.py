"""Process bookkeeping through ``/proc`` (Linux), with no third-party dependency.

The runtime uses these helpers to find what it started (memory accounting, a last-resort
kill of a browser that would not close) and to sever pipes a forked child inherited. On a
system without ``/proc`` every helper degrades to "nothing known" rather than failing.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

PROC = "/proc"


@dataclass(frozen=True)
class ProcessInfo:
    """One line of the process table, as ``/proc/<pid>/stat`` tells it."""

    pid: int
    ppid: int
    pgid: int
    state: str
    comm: str

    @property
    def alive(self) -> bool:
        """False for zombies and dead tasks: they hold no memory and cannot be killed further."""
        return self.state not in ("Z", "X", "x")


def read_process(pid: int) -> ProcessInfo | None:
    """The process ``pid``, or None if it does not exist (or ``/proc`` is missing)."""
    try:
        with open(f"{PROC}/{pid}/stat", "rb") as handle:
            raw = handle.read().decode("utf-8", "replace")
    except OSError:
        return None
    # comm may hold spaces and parentheses: it ends at the last ')'.
    head, _, tail = raw.rpartition(")")
    comm = head.partition("(")[2]
    fields = tail.split()
    try:
        return ProcessInfo(pid=pid, ppid=int(fields[1]), pgid=int(fields[2]), state=fields[0], comm=comm)
    except (IndexError, ValueError):
        return None


def iter_processes() -> Iterator[ProcessInfo]:
    """Every process visible in ``/proc``; empty where there is no ``/proc``."""
    try:
        names = os.listdir(PROC)
    except OSError:
        return
    for name in names:
        if name.isdigit():
            info = read_process(int(name))
            if info is not None:
                yield info


def descendants(root: int, table: Iterable[ProcessInfo] | None = None) -> list[ProcessInfo]:
    """Every live descendant of ``root`` (children, grandchildren, ...), not ``root`` itself."""
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
    return [info for info in iter_processes() if info.pgid == pgid and info.alive]


def is_alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    info = read_process(pid)
    if info is not None:
        return info.alive
    if os.path.isdir(PROC):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_group(pgid: int) -> bool:
    """SIGKILL every process of group ``pgid``; True if there was anything to kill.

    Refuses our own group, so that a browser that somehow shares it cannot take the caller
    down with it. Linux never hands out a PID that still names a live group, so a group
    found alive here is the one the browser started.
    """
    if pgid <= 1 or pgid == os.getpgrp():
        return False
    if os.path.isdir(PROC) and not group_members(pgid):
        return False
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def kill_process(pid: int) -> bool:
    """SIGKILL one process if it is alive; True if a signal was sent."""
    if pid <= 1 or pid == os.getpid() or not is_alive(pid):
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def cmdline(pid: int) -> bytes:
    """The raw command line of ``pid`` (arguments separated by NUL bytes); empty if unknown."""
    try:
        with open(f"{PROC}/{pid}/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` (``VmRSS``) in bytes; 0 if unknown or gone."""
    try:
        with open(f"{PROC}/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
    return 0


def tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and all its live descendants, summed (shared pages count twice)."""
    return rss_bytes(root) + sum(rss_bytes(info.pid) for info in descendants(root))


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
