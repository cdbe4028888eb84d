"""The process helpers of the browser runtime: the table through psutil, descriptors through ``/proc``,
and which of our children is Playwright's driver.

The driver tests start Playwright's Node.js driver, not a browser.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import playwright
import pytest

from django_cedula.browser import processes
from django_cedula.browser.engine import start_driver, stop_driver

from .helpers import wait_until

PACKAGE = Path(__file__).resolve().parents[2] / "django_cedula"


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A child that sleeps, leading a process group of its own (as Playwright starts Chromium)."""
    child = subprocess.Popen(["sleep", "30"], start_new_session=True)
    yield child
    child.kill()
    child.wait()


def test_this_process_as_the_table_tells_it() -> None:
    info = processes.read_process(os.getpid())
    assert info is not None
    assert (info.pid, info.ppid, info.pgid) == (os.getpid(), os.getppid(), os.getpgrp())
    assert info.alive
    assert info.comm
    assert os.getpid() in {info.pid for info in processes.iter_processes()}
    assert processes.is_alive(os.getpid())
    assert processes.rss_bytes(os.getpid()) > 0
    assert processes.tree_rss_bytes(os.getpid()) > 0  # ours grows as it is read: compared on a sleeper below


def test_a_child_in_its_own_group(sleeper: subprocess.Popen[bytes]) -> None:
    assert sleeper.pid in {info.pid for info in processes.descendants(os.getpid())}
    assert [info.pid for info in processes.group_members(sleeper.pid)] == [sleeper.pid]
    assert processes.cmdline(sleeper.pid) == b"sleep\x0030\x00"
    assert processes.is_alive(sleeper.pid)
    assert processes.tree_rss_bytes(sleeper.pid) == processes.rss_bytes(sleeper.pid) > 0
    assert processes.kill_group(sleeper.pid)
    sleeper.wait(5)
    assert not processes.is_alive(sleeper.pid)
    assert processes.read_process(sleeper.pid) is None
    assert processes.group_members(sleeper.pid) == []
    assert not processes.kill_group(sleeper.pid), "nothing left to kill"
    assert processes.cmdline(sleeper.pid) == b""
    assert processes.rss_bytes(sleeper.pid) == 0


def test_a_zombie_is_not_alive_and_not_killed(sleeper: subprocess.Popen[bytes]) -> None:
    os.kill(sleeper.pid, 9)
    assert wait_until(lambda: not processes.is_alive(sleeper.pid), 5)
    info = processes.read_process(sleeper.pid)  # not reaped yet: a zombie
    assert info is not None
    assert not info.alive
    assert sleeper.pid not in {info.pid for info in processes.descendants(os.getpid())}
    assert not processes.kill_process(sleeper.pid)


def test_a_child_killed_alone(sleeper: subprocess.Popen[bytes]) -> None:
    assert processes.kill_process(sleeper.pid)
    assert sleeper.wait(5) == -9


def test_our_own_process_and_group_are_never_killed() -> None:
    assert not processes.kill_group(os.getpgrp())
    assert not processes.kill_process(os.getpid())
    assert not processes.kill_process(1)


def test_descendants_of_a_table_read_before() -> None:
    table = [
        processes.ProcessInfo(pid=10, ppid=1, pgid=10, state="sleeping", comm="root"),
        processes.ProcessInfo(pid=11, ppid=10, pgid=10, state="zombie", comm="dead"),
        processes.ProcessInfo(pid=12, ppid=11, pgid=10, state="running", comm="orphan"),
        processes.ProcessInfo(pid=13, ppid=1, pgid=13, state="running", comm="other"),
    ]
    assert [info.pid for info in processes.descendants(10, table)] == [12]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="descriptors are read through Linux's /proc")
def test_detaching_the_descriptors_of_a_pipe() -> None:
    read, write = os.pipe()
    try:
        targets = processes.fd_targets(os.getpid(), (read,))
        assert len(targets) == 1
        assert next(iter(targets)).startswith("pipe:")
        assert processes.fd_targets(os.getpid(), (write,)) == targets, "both ends name one pipe"
        assert processes.detach_fds(targets) == 2
        assert os.readlink(f"/proc/self/fd/{read}") == os.devnull
        assert processes.detach_fds(targets) == 0
    finally:
        os.close(read)
        os.close(write)


def our_pipes() -> frozenset[str]:
    """Every pipe this process holds a descriptor of."""
    return frozenset(
        target for target in processes.fd_targets(os.getpid(), map(int, os.listdir("/proc/self/fd")))
    )


def test_the_driver_found_is_playwrights_own_child_and_goes_with_stop() -> None:
    async def start_and_stop() -> dict[str, Any]:
        started, pid = await start_driver()
        try:
            seen = {
                "pid": pid,
                "info": None if pid is None else processes.read_process(pid),
                "arguments": b"" if pid is None else processes.cmdline(pid),
                "its_pipes": frozenset() if pid is None else processes.fd_targets(pid, (0, 1)),
                "our_pipes": our_pipes(),
            }
        finally:
            await stop_driver(started, pid)
        return seen

    seen = asyncio.run(start_and_stop())
    pid = seen["pid"]
    assert pid is not None, "the driver Playwright started was not found among our children"
    assert seen["info"].ppid == os.getpid()
    cli = os.path.realpath(Path(playwright.__file__).parent / "driver" / "package" / "cli.js")
    arguments = [os.path.realpath(os.fsdecode(arg)) for arg in seen["arguments"].split(b"\0") if arg]
    assert cli in arguments, seen["arguments"]
    assert b"run-driver\0" in seen["arguments"]
    if os.path.isdir("/proc/self/fd"):
        # Its stdin and stdout are the pipes Playwright talks to it through: ours.
        assert seen["its_pipes"]
        assert seen["its_pipes"] <= seen["our_pipes"]
    assert wait_until(lambda: not processes.is_alive(pid), 5), "the driver outlived its Playwright's stop()"


def test_each_of_two_drivers_started_at_once_is_found() -> None:
    async def two() -> list[int | None]:
        started = await asyncio.gather(start_driver(), start_driver())
        try:
            return [pid for _, pid in started]
        finally:
            await asyncio.gather(*(stop_driver(playwright_, pid) for playwright_, pid in started))

    first, second = asyncio.run(two())
    assert first is not None
    assert second is not None
    assert first != second
    assert wait_until(lambda: not processes.is_alive(first) and not processes.is_alive(second), 5)


def test_a_child_that_only_says_run_driver_is_not_playwrights_driver() -> None:
    child = subprocess.Popen(["sh", "-c", "sleep 30; exit 0", "run-driver"])
    try:
        assert wait_until(lambda: b"run-driver" in processes.cmdline(child.pid), 5)
        assert not processes.is_playwright_driver(child.pid)
        assert child.pid not in processes.driver_children()
    finally:
        child.kill()
        child.wait()


def test_the_package_reads_no_private_attribute_of_playwright() -> None:
    private = re.compile(r"\._(impl_obj|connection|transport|proc|client)\b")
    found = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sorted((PACKAGE / "browser").glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if private.search(line)
    ]
    assert found == []
