"""Queues jobs on Celery; the task its workers run.

A Celery worker must import this module to know the task: add ``"django_cedula.backends.celery"``
to the app's ``include`` (``app.autodiscover_tasks()`` does not find it).
"""

from __future__ import annotations

from celery import shared_task

from .base import BaseTaskBackend, ValidationJob, run_job


@shared_task(name="django_cedula.validate_user_cedula", ignore_result=True)  # type: ignore[untyped-decorator,misc,unused-ignore]
def validate_user_cedula_task(user_id: int | str, attempt: int = 1) -> str | None:
    """Run the validation job (:data:`~.base.TASK_PATH`) in a Celery worker."""
    return run_job(user_id, attempt)


class CeleryBackend(BaseTaskBackend):
    """Sends :func:`validate_user_cedula_task` with ``apply_async``.

    Options: ``queue`` (default: Celery's default queue). A delay becomes ``countdown``.

    With Redis as the broker, a job delayed longer than the broker's visibility timeout
    (``broker_transport_options["visibility_timeout"]``, one hour by default) is delivered
    again when the timeout passes; keep it above the longest of ``CEDULA_RETRY_DELAYS``
    (900 s by default). A second delivery of the same attempt is harmless: the job claims
    its row and skips work that another delivery already took.
    """

    supports_defer = True

    def __init__(self, *, queue: str | None = None) -> None:
        super().__init__()
        if queue is not None:
            self.keep_options(queue=queue)

    def enqueue(self, job: ValidationJob) -> None:
        validate_user_cedula_task.apply_async(
            args=(job.user_id, job.attempt),
            countdown=job.delay or None,
            queue=self.options.get("queue"),
        )
