"""File descriptors through Linux's ``/proc``: the one part of process bookkeeping psutil does not do.

A forked child inherits its parent's pipes to Playwright's driver; while it holds them, the
parent's driver (and so its Chromium) outlives the parent. Telling which pipe a descriptor is
and pointing ours at ``/dev/null`` needs ``/proc/<pid>/fd``: psutil's ``open_files()`` lists
regular files only, never pipes, and nothing in psutil repoints a descriptor. Without ``/proc``
(macOS) both helpers do nothing, and a forked child keeps the pipes it inherited.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable

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
