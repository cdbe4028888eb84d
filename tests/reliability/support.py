"""What the reliability tests share, usable inside pytest and out (``mixed_faults``'s command line).

The tests drive real processes: a ``manage.py qcluster`` with two workers on Django-Q2's ORM broker
in the tests' database, each worker with its own headless Chromium, against the replica over HTTP.
Nothing here prints or logs a full cédula: numbers are masked, users are named by id.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django_q.models import Failure, Schedule, Task

from django_cedula.backends.base import TASK_PATH, ValidationJob
from django_cedula.browser import processes
from django_cedula.models import CedulaInfo
from django_cedula.testing.replica import Replica
from tests.browser.helpers import tagged_processes
from tests.integration.conftest import Worker, wait_until

DJANGO_Q = "django_cedula.backends.django_q.DjangoQBackend"
#: What the tests' settings give Django-Q2 (ORM broker, timeout 60 s, retry 90 s), with two workers.
Q_CLUSTER_WORKERS = 2
#: How long a worker may take to start (Django set-up, the cluster's processes).
CLUSTER_START_TIMEOUT = 60.0
#: Django-Q2's scheduler starts due schedules (the package's delayed retries) every 30 seconds.
SCHEDULER_TICK = 30.0


def cluster_overrides(
    replica: Replica,
    q_cluster: dict[str, Any],
    source_options: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Settings shared by the test process and its workers: the replica with the real ``WspScraper``
    (with ``source_options`` besides the replica's: ``page_timeout``, ...) and its captcha stand-in,
    the Django-Q2 backend, and a cluster of two workers."""
    return {
        **replica.django_settings(**(source_options or {})),
        "CEDULA_TASKS": {"BACKEND": DJANGO_Q},
        "Q_CLUSTER": {**q_cluster, "workers": Q_CLUSTER_WORKERS},
        **extra,
    }


def sqlite_worker_databases() -> dict[str, Any]:
    """On SQLite, a ``DATABASES`` override for workers: the tests' database file, transactions begun
    IMMEDIATE (see :func:`immediate_transactions_on_sqlite`). Empty on other databases."""
    if connection.vendor != "sqlite":
        return {}
    current = connection.settings_dict
    options = {**current.get("OPTIONS", {}), "transaction_mode": "IMMEDIATE"}
    return {
        "DATABASES": {
            "default": {"ENGINE": current["ENGINE"], "NAME": str(current["NAME"]), "OPTIONS": options}
        }
    }


@contextmanager
def immediate_transactions_on_sqlite() -> Iterator[None]:
    """On SQLite, begin this process's transactions IMMEDIATE (Django's ``transaction_mode`` option).

    A workaround, not a choice: ``services.request_validation`` reads the user's row
    (``select_for_update``, a plain SELECT on SQLite) and then inserts it in one transaction. Begun
    DEFERRED, that transaction holds a read lock when it asks for the write lock, and while a worker
    writes SQLite answers "database is locked" at once, without waiting out the busy timeout: the
    registration fails (see the report of the reliability tests). Production SQLite sites need the
    same option.
    """
    if connection.vendor != "sqlite":
        yield
        return
    options = connection.settings_dict.setdefault("OPTIONS", {})
    before = options.get("transaction_mode")
    options["transaction_mode"] = "IMMEDIATE"
    connection.close()  # the mode is read when connecting
    try:
        yield
    finally:
        if before is None:
            options.pop("transaction_mode", None)
        else:
            options["transaction_mode"] = before
        connection.close()


def wait_for_cluster(worker: Worker, timeout: float = CLUSTER_START_TIMEOUT) -> None:
    """Block until the qcluster says it is running (its workers are ready for work)."""
    worker.wait_running(timeout)


def kill_cluster(worker: Worker) -> None:
    """SIGKILL the whole process group of a qcluster (its sentinel, workers, Playwright drivers): a crash,
    an OOM kill, a node lost. Chromium leads a group of its own and is not hit directly."""
    os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.wait(timeout=30)


def rows_final(user_ids: Iterable[int]) -> bool:
    """Whether every one of these users' rows has reached a final state."""
    ids = list(user_ids)
    return CedulaInfo.objects.filter(user_id__in=ids, status__in=CedulaInfo.FINAL_STATUSES).count() == len(
        ids
    )


def status_counts(user_ids: Iterable[int]) -> dict[str, int]:
    """Rows per status, for progress lines and failure messages (no cédulas)."""
    counts: dict[str, int] = {}
    for status in CedulaInfo.objects.filter(user_id__in=list(user_ids)).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return dict(sorted(counts.items()))


def package_schedules() -> list[str]:
    """Names of the one-off Django-Q2 schedules the package made for delayed attempts."""
    return list(Schedule.objects.filter(name__startswith="django_cedula:").values_list("name", flat=True))


def retry_schedule_name(user_id: int, attempt: int) -> str:
    """The name the Django-Q2 backend gives the schedule of ``attempt`` for ``user_id``."""
    return ValidationJob(user_id=user_id, attempt=attempt).name


def job_runs(user_id: int, attempt: int) -> list[Task]:
    """Django-Q2's record of every run of ``validate_user_cedula(user_id, attempt)`` (kept, all)."""
    return [
        task for task in Task.objects.filter(func=TASK_PATH) if tuple(task.args or ()) == (user_id, attempt)
    ]


def job_failures() -> list[str]:
    """Django-Q2's failed runs of the package's job, described without arguments' values."""
    return [f"{task.name}: {str(task.result)[:300]}" for task in Failure.objects.filter(func=TASK_PATH)]


def user_lines(log: str, user_id: int) -> list[str]:
    """The package's log lines about one user (``user 12`` but not ``user 123``)."""
    pattern = re.compile(rf"\buser {user_id}\b")
    return [line for line in log.splitlines() if pattern.search(line)]


def chromium_processes(tag: str) -> list[processes.ProcessInfo]:
    """Live Chromium processes (the browser and its helpers) started under ``tag``."""
    return [info for info in tagged_processes(tag) if info.comm.lower().startswith("chrom")]


def browser_processes(tag: str) -> list[processes.ProcessInfo]:
    """The main process of each live Chromium started under ``tag``: not a helper (those have ``--type=``),
    nor one of the crash handlers Chromium starts beside itself (daemonised, so their parent is init)."""
    return [
        info
        for info in chromium_processes(tag)
        if "crashpad" not in info.comm and b"--type=" not in processes.cmdline(info.pid)
    ]


class ChromiumWatch:
    """Every Chromium process started under a tag, helpers included; :meth:`assert_none_left` proves
    them all gone.

    Only Chromium's main process (and its crash handlers, and Playwright's driver) carry the tag of
    ``tests.browser.helpers``: Chromium starts its zygotes, GPU, utility and renderer processes with an
    environment of its own. They stay in the main process's group, though, so a thread samples the
    groups of the tagged browsers while they live, and the members of those groups count too.
    """

    def __init__(self, tag: str, interval: float = 0.2) -> None:
        self.tag = tag
        self.interval = interval
        self.groups: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chromium-watch", daemon=True)

    def start(self) -> ChromiumWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        """Remember the group of every tagged browser alive now (Playwright makes each a group leader)."""
        for info in browser_processes(self.tag):
            if info.pgid == info.pid:
                self.groups.add(info.pgid)

    def left(self) -> list[processes.ProcessInfo]:
        """Tagged processes and members of the browsers' groups that are still alive."""
        self.sample()
        found = {info.pid: info for info in tagged_processes(self.tag)}
        for group in list(self.groups):
            found.update((info.pid, info) for info in processes.group_members(group))
        return sorted(found.values(), key=lambda info: info.pid)

    def assert_none_left(self, timeout: float = 15.0) -> None:
        if not wait_until(lambda: not self.left(), timeout, interval=0.2):
            raise AssertionError(f"processes left behind: {describe_processes(self.left())}")


def describe_processes(infos: Iterable[processes.ProcessInfo]) -> list[tuple[int, int, str, str]]:
    return [(info.pid, info.ppid, info.comm, info.state) for info in infos]
