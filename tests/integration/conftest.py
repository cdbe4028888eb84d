"""Real worker processes for integration tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connection

from ..browser import helpers
from ..log_privacy import GUARD

ROOT = Path(__file__).resolve().parents[2]
#: The Redis database of the cluster tests' broker and cache (keys under a prefix of each run's own);
#: ``CEDULA_TEST_REDIS_DB`` names another, for suites that run side by side.
REDIS_DB = int(os.environ.get("CEDULA_TEST_REDIS_DB", "9"))


class Worker:
    """A running worker process (``manage.py qcluster`` and friends) and its log file."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path, environment: dict[str, str]) -> None:
        self.process = process
        self.log_path = log_path
        self.environment = environment

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_running(self, timeout: float = 60) -> None:
        """Block until a qcluster says it is running. Tests that need every process to take a share
        of the jobs register only then: a process that starts seconds late on a loaded machine
        could otherwise find the queue drained."""
        if not wait_until(lambda: "running." in self.log() or self.process.poll() is not None, timeout):
            raise AssertionError(f"the cluster did not start within {timeout:g} s:\n{self.log()}")
        if self.process.poll() is not None:
            raise AssertionError(f"the cluster exited with {self.process.returncode}:\n{self.log()}")

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


@pytest.fixture
def redis_cluster(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., dict[str, Any]]]:
    """Settings for worker processes that form one Django-Q2 cluster on a Redis broker, with Redis as
    the shared cache, under keys of this test's own: call it with the scraper's settings; it applies
    the whole set to this process too and returns it (for :func:`start_worker`)."""
    from django_q.conf import Conf

    run = uuid.uuid4().hex[:12]
    broker = {"host": "127.0.0.1", "port": 6379, "db": REDIS_DB}
    # Django-Q2 reads Q_CLUSTER once, when first imported: this process queues through its Conf.
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", broker)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", f"chain-{run}")

    def configure(scraper_settings: dict[str, Any]) -> dict[str, Any]:
        overrides: dict[str, Any] = {
            **scraper_settings,
            "CEDULA_TASKS": {"BACKEND": "django_cedula.backends.django_q.DjangoQBackend"},
            "CEDULA_BLOCK_COOLDOWN": 600,
            "CEDULA_RETRY_DELAYS": [],
            "CEDULA_RATE_LIMIT": None,
            "CACHES": {
                "default": {
                    "BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": f"redis://127.0.0.1:6379/{REDIS_DB}",
                    "KEY_PREFIX": f"chain-{run}",
                }
            },
            # The broker: Redis, under a queue of this test's own (``cluster_name``: its key; ``name``
            # signs the jobs and stays the tests'). One worker per process: the processes are the
            # workers of the cluster.
            "Q_CLUSTER": {
                **{key: value for key, value in settings.Q_CLUSTER.items() if key != "orm"},
                "cluster_name": f"chain-{run}",
                "redis": broker,
                "workers": 1,
            },
        }
        for name, value in overrides.items():
            setattr(settings, name, value)
        return overrides

    yield configure
    # This run's keys only (its cache prefix, its queue), never the others' on the same database;
    # a test that failed early leaves a few to their expiry (its workers stop later).
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    for pattern in (f"chain-{run}:*", f"django_q:chain-{run}*"):
        keys = list(client.scan_iter(match=pattern))
        if keys:
            client.delete(*keys)
