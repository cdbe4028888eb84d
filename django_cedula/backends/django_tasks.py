"""Queues jobs through Django's tasks framework (``django.tasks``; the ``django-tasks`` backport on 5.2)."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from .base import BaseTaskBackend, ValidationJob, call_with_deadline, enqueue_timeout_option, run_job

try:
    from django.tasks import task, task_backends  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # Django 5.2: the django-tasks backport (the [tasks] extra)
    from django_tasks import task, task_backends  # type: ignore[import-not-found,unused-ignore,no-redef,assignment]


@task()  # type: ignore[untyped-decorator,misc,unused-ignore]
def validate_user_cedula_task(user_id: int | str, attempt: int = 1) -> str | None:
    """Run the validation job (:data:`~.base.TASK_PATH`) in a tasks worker."""
    return run_job(user_id, attempt)


class DjangoTasksBackend(BaseTaskBackend):
    """Enqueues :func:`validate_user_cedula_task` on a Django tasks backend.

    Options (``CEDULA_TASKS["OPTIONS"]``):

    - ``backend``: the alias in ``TASKS`` (default ``"default"``);
    - ``queue_name``: a queue that backend accepts (default ``"default"``);
    - ``priority``: -100 to 100 (default 0);
    - ``enqueue_timeout``: seconds a registration waits for the tasks backend to take a job, for a
      tasks backend on a broker of its own (default: none, the job is handed over on the caller's
      thread, as the database backend needs: its row is written on the caller's connection and
      bounded by the database's own timeouts).

    A delay becomes ``run_after``. Whether it is honoured depends on the tasks backend
    (its ``supports_defer``); ``manage.py check`` warns when retries are configured on one
    that cannot defer. ``django-tasks-db``'s ``DatabaseBackend`` with ``manage.py db_worker``
    can.
    """

    def __init__(
        self,
        *,
        backend: str | None = None,
        queue_name: str | None = None,
        priority: int | None = None,
        enqueue_timeout: float | None = None,
    ) -> None:
        # Only the options given are kept; the methods below read them with their defaults.
        given = {
            "backend": backend,
            "queue_name": queue_name,
            "priority": priority,
            "enqueue_timeout": enqueue_timeout,
        }
        super().__init__()
        self.keep_options(**{name: value for name, value in given.items() if value is not None})
        self.enqueue_timeout = enqueue_timeout_option(enqueue_timeout)

    def _tasks_backend(self) -> Any:
        return task_backends[self.options.get("backend", "default")]

    @property
    def supports_defer(self) -> bool:  # type: ignore[override]
        try:
            return bool(self._tasks_backend().supports_defer)
        except Exception:
            return False

    def check_options(self) -> list[str]:
        try:
            backend = self._tasks_backend()
        except Exception as exc:
            return [f"no tasks backend {self.options.get('backend', 'default')!r}: {exc}"]
        queue = self.options.get("queue_name", "default")
        queues = getattr(backend, "queues", None)
        if queues and queue not in queues:
            return [f"queue_name {queue!r} is not among the backend's QUEUES {sorted(queues)}"]
        priority = self.options.get("priority", 0)
        if not isinstance(priority, int) or not -100 <= priority <= 100:
            return [f"priority must be a whole number from -100 to 100, not {priority!r}"]
        return []

    def enqueue(self, job: ValidationJob) -> None:
        changes: dict[str, Any] = {
            "backend": self.options.get("backend", "default"),
            "queue_name": self.options.get("queue_name", "default"),
            "priority": self.options.get("priority", 0),
        }
        if job.delay:
            changes["run_after"] = timezone.now() + datetime.timedelta(seconds=job.delay)
        task = validate_user_cedula_task.using(**changes)
        if self.enqueue_timeout is None:
            task.enqueue(job.user_id, job.attempt)
            return
        name = f"the tasks backend {changes['backend']!r}"
        call_with_deadline(lambda: task.enqueue(job.user_id, job.attempt), self.enqueue_timeout, name)
