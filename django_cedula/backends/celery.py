"""Queues jobs on Celery."""

from __future__ import annotations

from .base import BaseTaskBackend, ValidationJob


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

    def __init__(self, *, queue: str | None = None) -> None:
        super().__init__(**({} if queue is None else {"queue": queue}))

    def enqueue(self, job: ValidationJob) -> None:
        from ..tasks_celery import validate_cedula_task

        validate_cedula_task.apply_async(
            args=(job.user_id, job.attempt),
            countdown=job.delay or None,
            queue=self.options.get("queue"),
        )
