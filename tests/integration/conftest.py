"""Real worker processes for integration tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from ..browser import helpers
from ..log_privacy import GUARD

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """A running worker process (``manage.py qcluster`` and friends) and its log file."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path, environment: dict[str, str]) -> None:
        self.process = process
        self.log_path = log_path
        self.environment = environment

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def worker_environment(settings_overrides: dict[str, Any]) -> dict[str, str]:
    """The environment for a worker that shares the tests' database and settings."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        CEDULA_TEST_DATABASE_NAME=str(connection.settings_dict["NAME"]),
        CEDULA_TEST_WORKER_SETTINGS=json.dumps(settings_overrides),
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """Start ``python -m django <command>`` (or ``python <argv>`` with ``raw=True``) with settings
    overrides; stopped at teardown."""
    workers: list[Worker] = []

    def start(command: list[str], settings_overrides: dict[str, Any], *, raw: bool = False) -> Worker:
        log_path = tmp_path / f"worker-{len(workers)}.log"
        log = log_path.open("wb")
        environment = worker_environment(settings_overrides)
        process = subprocess.Popen(
            [sys.executable, *command] if raw else [sys.executable, "-m", "django", *command],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        worker = Worker(process, log_path, environment)
        workers.append(worker)
        return worker

    yield start
    for number, worker in enumerate(workers):
        worker.stop()
        GUARD.scan(worker.log(), f"{GUARD.where} [worker {number} log]")


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.5) -> bool:
    """:func:`tests.browser.helpers.wait_until`, polling every half second: a worker's log, rows."""
    return helpers.wait_until(condition, timeout, interval)
