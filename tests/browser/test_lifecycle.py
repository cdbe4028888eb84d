"""Process boundaries: exit, signals, and children started by fork, spawn and forkserver."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_cedula.browser import get_browser_runtime, processes, reset_browser_runtime

from .helpers import (
    TAG_VAR,
    Site,
    assert_no_tagged_processes,
    child_lookup,
    new_tag,
    page_title,
    tagged_processes,
    wait_until,
)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from django_cedula.browser import get_browser_runtime
    from tests.browser.helpers import page_title

    url, mode = sys.argv[1], sys.argv[2]
    runtime = get_browser_runtime()
    title = runtime.run_page(lambda page: page_title(page, url), timeout=60)
    print(title, runtime.browser_pid, runtime.driver_pid, flush=True)
    if mode == "wait":
        time.sleep(120)
    """
)


class Child:
    """A Python process that uses the process-wide runtime, tagged so its processes can be found."""

    def __init__(self, site: Site, mode: str) -> None:
        self.tag = new_tag()
        env = {**os.environ, TAG_VAR: self.tag, "PYTHONPATH": str(ROOT)}
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, site.url, mode],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def started(self) -> tuple[int, int]:
        """Wait for the lookup; the browser's and the driver's PIDs."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(10)
            assert self.proc.stderr is not None
            raise AssertionError(f"the child failed: {self.proc.stderr.read()[-3000:]}")
        title, browser, driver = line.rsplit(" ", 2)
        assert title == "cedula test"
        return int(browser), int(driver)

    def leftovers(self) -> list[tuple[int, str]]:
        return [(info.pid, info.comm) for info in tagged_processes(self.tag)]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def children() -> Iterator[list[Child]]:
    made: list[Child] = []
    yield made
    for child in made:
        child.kill()
        # Whatever a test asserted, never leave a browser behind.
        for info in tagged_processes(child.tag):
            processes.kill_process(info.pid)


def test_normal_exit_closes_the_browser(site: Site, children: list[Child]) -> None:
    child = Child(site, "exit")
    children.append(child)
    browser, _ = child.started()
    assert child.proc.wait(30) == 0
    # atexit closed it before the interpreter ended: nothing of the browser's group remains.
    assert not processes.group_members(browser)
    assert wait_until(lambda: not child.leftovers(), 5), child.leftovers()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_process_takes_its_browser_along(site: Site, children: list[Child], signum: int) -> None:
    """No atexit here: the driver sees its pipe close and closes Chromium."""
    child = Child(site, "wait")
    children.append(child)
    browser, driver = child.started()
    assert processes.group_members(browser)
    child.proc.send_signal(signum)
    child.proc.wait(10)
    assert wait_until(lambda: not child.leftovers(), 10), child.leftovers()
    # An exiting process hides its environment before it is gone: ask for the driver by PID too.
    assert wait_until(lambda: not processes.is_alive(driver), 5)


@pytest.fixture
def parent_runtime(process_runtime: None, site: Site, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """This process's own runtime, running; yields its browser PID."""
    tag = new_tag()
    monkeypatch.setenv(TAG_VAR, tag)
    runtime = get_browser_runtime()
    assert runtime.run_page(lambda page: page_title(page, site.url), timeout=60) == "cedula test"
    assert runtime.browser_pid is not None
    yield runtime.browser_pid
    reset_browser_runtime()
    assert_no_tagged_processes(tag)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_child_processes_get_their_own_browser(site: Site, parent_runtime: int, method: str) -> None:
    context: Any = multiprocessing.get_context(method)
    queue = context.Queue()
    process = context.Process(target=child_lookup, args=(site.url, queue))
    process.start()
    # A child that hung on its parent's driver would fail here (the bound is for a loaded machine,
    # where a spawned interpreter and a cold Chromium take seconds).
    report = queue.get(timeout=60)
    process.join(30)
    assert "error" not in report, report
    assert process.exitcode == 0
    assert report["title"] == "cedula test"
    assert report["runtime_pid"] == report["pid"] != os.getpid()
    assert report["browser_pid"] not in (None, parent_runtime)
    # The child closed its browser on the way out ...
    assert wait_until(lambda: not processes.group_members(report["browser_pid"]), 5)
    # ... and never touched ours, which still serves this process.
    runtime = get_browser_runtime()
    assert runtime.browser_pid == parent_runtime
    assert runtime.run_page(lambda page: page_title(page, site.url), timeout=60) == "cedula test"
    assert runtime.browser_pid == parent_runtime


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_does_not_keep_the_parents_driver_alive(site: Site, children: list[Child]) -> None:
    """A fork inherits the driver's pipes; if it kept them, the parent's death would go unnoticed."""
    script = textwrap.dedent(
        """
        import os, sys, time
        from django_cedula.browser import get_browser_runtime
        from tests.browser.helpers import page_title

        runtime = get_browser_runtime()
        runtime.run_page(lambda page: page_title(page, sys.argv[1]), timeout=60)
        pid = os.fork()
        if pid == 0:
            get_browser_runtime()  # drops the inherited runtime and its pipes
            time.sleep(120)
            os._exit(0)
        print(runtime.browser_pid, runtime.driver_pid, pid, flush=True)
        time.sleep(120)
        """
    )
    tag = new_tag()
    env = {**os.environ, TAG_VAR: tag, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", script, site.url],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    browser, driver, grandchild = (int(value) for value in proc.stdout.readline().split())
    try:
        time.sleep(0.3)  # let the grandchild drop what it inherited
        proc.kill()
        proc.wait(10)
        # The grandchild lives on, yet the parent's driver and browser go.
        assert processes.is_alive(grandchild)
        assert wait_until(lambda: not processes.is_alive(driver) and not processes.group_members(browser), 10)
    finally:
        processes.kill_process(grandchild)
        proc.stdout.close()
        for info in tagged_processes(tag):
            processes.kill_process(info.pid)
