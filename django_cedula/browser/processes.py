"""The process table through psutil: what the runtime started, the memory it holds, killing it.

psutil reads the table wherever the runtime runs (Linux, macOS, the BSDs), so the last-resort
kill of a browser that would not close and the memory figures are not lost off Linux. It does
not tell a process's group, which ``os.getpgid`` does. Every helper answers "nothing known"
(None, False, 0, empty) rather than raising when a process is gone or may not be read.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import psutil

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
