"""Shared helpers for the benchmarks: machine description, medians, and a printed table."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
from collections.abc import Sequence


def machine() -> str:
    """One line describing the machine the figures come from."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as info:
        cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    memory = ""
    try:
        with open("/proc/meminfo") as info:
            kib = int(next(line.split()[1] for line in info if line.startswith("MemTotal")))
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    chromium = ""
    with contextlib.suppress(OSError):
        chromium = subprocess.run(
            ["chromium", "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    return f"{cpu}, {os.cpu_count()} cores{memory}; Python {platform.python_version()}; {chromium}"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a plain-text table with aligned columns."""
    cells = [[str(value) for value in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  " + "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))


def tree_pss(root: int | None = None) -> int:
    """Proportional set size, in bytes, of ``root`` (this process) and all its descendants."""
    from django_cedula.browser import procfs

    root = os.getpid() if root is None else root
    total = 0
    for pid in [root, *(p.pid for p in procfs.descendants(root))]:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                total += next(int(line.split()[1]) for line in rollup if line.startswith("Pss:")) * 1024
        except (OSError, StopIteration, ValueError):
            pass
    return total
