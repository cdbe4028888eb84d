"""The former home of the process helpers, kept so that ``from django_cedula.browser import procfs`` works.

The helpers used to read ``/proc`` by hand. The process table now comes from psutil
(:mod:`.processes`); which pipe a descriptor is, and detaching inherited pipes, which psutil
does not do, are in :mod:`.descriptors`. New code imports from those two.
"""

from __future__ import annotations

from .descriptors import PROC, detach_fds, fd_targets
from .processes import (
    ProcessInfo,
    cmdline,
    descendants,
    group_members,
    is_alive,
    iter_processes,
    kill_group,
    kill_process,
    read_process,
    rss_bytes,
    tree_rss_bytes,
)

__all__ = [
    "PROC",
    "ProcessInfo",
    "cmdline",
    "descendants",
    "detach_fds",
    "fd_targets",
    "group_members",
    "is_alive",
    "iter_processes",
    "kill_group",
    "kill_process",
    "read_process",
    "rss_bytes",
    "tree_rss_bytes",
]
