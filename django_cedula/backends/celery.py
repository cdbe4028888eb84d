"""Queues jobs on Celery."""

from __future__ import annotations

from typing import Any

from .base import BaseTaskBackend, ValidationJob

_OPTIONS = ("queue",)


class CeleryBackend(BaseTaskBackend):
    """Sends :func:`django_cedula.tasks_celery.validate_cedula_task` with ``apply_async``.

    Options: ``queue`` (default: Celery's default queue). A delay becomes ``countdown``.

    With Redis as the broker, a job delayed longer than the broker's visibility timeout
    (``broker_transport_options["visibility_timeout"]``, one hour by default) is delivered
    again when the timeout passes; keep it above the longest of ``CEDULA_RETRY_DELAYS``
    (900 s by default). A second delivery of the same attempt is harmless: the job claims
    its row and skips work that another delivery already took.
    """

    supports_defer = True

    def __init__(self, **options: Any) -> None:
        unknown = set(options) - set(_OPTIONS)
        if unknown:
            raise TypeError(f"unknown CeleryBackend options: {', '.join(sorted(unknown))}")
        super().__init__(**options)

    def enqueue(self, job: ValidationJob) -> None:
        from ..tasks_celery import validate_cedula_task

        validate_cedula_task.apply_async(
            args=(job.user_id, job.attempt),
            countdown=job.delay or None,
            queue=self.options.get("queue"),
        )
