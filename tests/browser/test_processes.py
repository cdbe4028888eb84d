"""The process helpers of the browser runtime: the table through psutil, descriptors through ``/proc``."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from django_cedula.browser import descriptors, processes, procfs

from .helpers import wait_until


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
        targets = descriptors.fd_targets(os.getpid(), (read,))
        assert len(targets) == 1
        assert next(iter(targets)).startswith("pipe:")
        assert descriptors.fd_targets(os.getpid(), (write,)) == targets, "both ends name one pipe"
        assert descriptors.detach_fds(targets) == 2
        assert os.readlink(f"/proc/self/fd/{read}") == os.devnull
        assert descriptors.detach_fds(targets) == 0
    finally:
        os.close(read)
        os.close(write)


def test_the_former_module_names_the_same_helpers() -> None:
    for name in procfs.__all__:
        assert getattr(procfs, name) is (getattr(processes, name, None) or getattr(descriptors, name))
