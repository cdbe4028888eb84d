"""A task backend for tests that records jobs instead of running them.

Like an outbox: ``CEDULA_TASKS = {"BACKEND": "django_cedula.testing.backends.RecordingBackend"}``,
then look at :attr:`RecordingBackend.jobs` or run them with :meth:`RecordingBackend.run_next`.
"""

from __future__ import annotations

import threading
from typing import ClassVar

from django.utils.module_loading import import_string

from ..backends.base import TASK_PATH, BaseTaskBackend, ValidationJob


class RecordingBackend(BaseTaskBackend):
    """Keeps every queued job in :attr:`jobs` (shared by all instances in the process)."""

    supports_defer = True

    jobs: ClassVar[list[ValidationJob]] = []
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def enqueue(self, job: ValidationJob) -> None:
        with self._lock:
            self.jobs.append(job)

    @classmethod
    def reset(cls) -> None:
        with cls._lock:
            cls.jobs.clear()

    @classmethod
    def run_next(cls) -> str | None:
        """Run the oldest recorded job, as a worker would, and return what the job returned."""
        with cls._lock:
            job = cls.jobs.pop(0)
        task = import_string(TASK_PATH)
        result: str | None = task(job.user_id, job.attempt)
        return result
