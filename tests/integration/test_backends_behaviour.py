"""One behavioural suite for every task backend, each with its real worker process.

Queue now, queue with a delay, duplicate protection and the full retry chain, end to end:
Django-Q2's ``qcluster`` (ORM broker), Django tasks' ``db_worker`` (django-tasks-db),
a Celery worker on Redis, and the inline backend in-process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from django_cedula.backends import enqueue_validation
from django_cedula.backends.base import TASK_PATH
from django_cedula.models import CedulaInfo
from django_cedula.testing.scrapers import FakeScraper

from .conftest import Worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
Status = CedulaInfo.Status

BACKENDS: dict[str, dict[str, Any]] = {
    "django_q": {
        "path": "django_cedula.backends.django_q.DjangoQBackend",
        "worker": (["qcluster"], False),
        # Django-Q2's scheduler looks for due schedules every 30 seconds.
        "tick": 35,
    },
    "django_tasks": {
        "path": "django_cedula.backends.django_tasks.DjangoTasksBackend",
        "options": {"queue_name": "cedula"},
        "worker": (["db_worker", "--queue-name", "cedula", "--interval", "0.2", "--no-startup-delay"], False),
        "tick": 5,
    },
    "celery": {
        "path": "django_cedula.backends.celery.CeleryBackend",
        "worker": (
            ["-m", "celery", "-A", "tests.celery_app", "worker", "--pool", "solo", "--loglevel", "INFO"],
            True,
        ),
        "tick": 5,
    },
    "inline": {"path": "django_cedula.backends.inline.InlineBackend", "worker": None, "tick": 0},
}

DELAYED = "1000000009"
OUTCOMES = {
    "1000000001": "found",
    "1000000002": ["timeout", "timeout", "timeout"],  # every attempt fails: the whole chain
    DELAYED: "not_found",
}


def finished_jobs(backend_name: str) -> list[tuple[Any, ...]]:
    """The validation jobs the worker has finished, as ``(user_id, attempt)``, from the queue's own
    records: Django-Q2's saved tasks (``save_limit`` 0 keeps them all), django-tasks-db's results."""
    if backend_name == "django_q":
        from django_q.models import Task

        return [tuple(task.args) for task in Task.objects.filter(func=TASK_PATH)]
    from django_tasks_db.models import DBTaskResult

    results = DBTaskResult.objects.filter(
        finished_at__isnull=False, task_path__endswith="validate_user_cedula_task"
    )
    return [tuple(result.args_kwargs["args"]) for result in results]


@pytest.fixture(params=list(BACKENDS))
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_backend_behaviour(
    backend_name: str,
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    settings: Any,
    tmp_path: Path,
) -> None:
    spec = BACKENDS[backend_name]
    calls = tmp_path / "calls"
    overrides = {
        "CEDULA_TASKS": {"BACKEND": spec["path"], "OPTIONS": spec.get("options", {})},
        "CEDULA_SOURCES": [
            {
                "BACKEND": "django_cedula.testing.scrapers.FakeScraper",
                "OPTIONS": {"outcomes": OUTCOMES, "state_dir": str(calls)},
            }
        ],
        "CEDULA_RETRY_DELAYS": [1, 2],
    }
    for name, value in overrides.items():
        setattr(settings, name, value)
    if backend_name == "celery":
        import tests.celery_app  # noqa: F401 - makes the tests' Celery app the current one
    worker = start_worker(*spec["worker"][:1], overrides, raw=spec["worker"][1]) if spec["worker"] else None

    def log() -> str:
        return worker.log() if worker else ""

    def count(number: str) -> int:
        path = calls / number
        return path.stat().st_size if path.exists() else 0

    # Queue now.
    found = make_user(cedula="1000000001")
    # The full retry chain: 3 attempts, delays 1 and 2 seconds, then TIMEOUT.
    failing = make_user(cedula="1000000002")
    # Queue with a delay: registered with auto-validation off, then queued 3 s ahead.
    settings.CEDULA_AUTO_VALIDATE = False
    delayed = make_user(cedula=DELAYED)
    CedulaInfo.objects.create(user=delayed, cedula=DELAYED)
    queued_at = time.monotonic()
    assert enqueue_validation(delayed.pk, 1, delay=3)

    def final(user: Any) -> bool:
        return CedulaInfo.objects.get(user=user).is_final

    timeout = 60 + 3 * spec["tick"]
    assert wait_until(lambda: final(found), timeout=timeout), log()
    # Duplicate protection: the same attempt delivered again after it ran.
    assert enqueue_validation(found.pk, 1)
    assert wait_until(lambda: final(failing) and final(delayed), timeout=timeout), log()
    ran_after = time.monotonic() - queued_at

    assert CedulaInfo.objects.get(user=found).status == Status.ACTIVE
    info = CedulaInfo.objects.get(user=failing)
    assert info.status == Status.TIMEOUT
    assert info.retry_count == 2
    assert count("1000000002") == 3
    assert CedulaInfo.objects.get(user=delayed).status == Status.NOT_FOUND
    if backend_name != "inline":  # the inline backend documents that it does not wait
        assert ran_after >= 3
    # The duplicate delivery has run (the worker says so), and made no second lookup.
    expected = sorted([(found.pk, 1), (found.pk, 1), (failing.pk, 1), (failing.pk, 2), (failing.pk, 3),
                       (delayed.pk, 1)])  # fmt: skip
    if backend_name == "inline":
        pass  # the inline backend ran each job, the duplicate too, before enqueue_validation returned
    elif backend_name == "celery":
        # Celery keeps no record of its jobs here (ignore_result); its worker logs each one it ends.
        assert wait_until(lambda: log().count("] succeeded in ") >= len(expected), timeout=30), log()
        assert log().count("] succeeded in ") == len(expected), log()
    else:
        assert wait_until(lambda: len(finished_jobs(backend_name)) >= len(expected), timeout=30), log()
        assert sorted(finished_jobs(backend_name)) == expected, log()
    assert count("1000000001") == 1, "the duplicate delivery made a second lookup"
    if worker is not None:
        assert FakeScraper.calls == [], "the jobs ran in the worker, not in the test process"
