"""Queues jobs on Celery; the task its workers run.

A Celery worker must import this module to know the task: add ``"django_cedula.backends.celery"``
to the app's ``include`` (``app.autodiscover_tasks()`` does not find it).
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from .base import (
    ENQUEUE_TIMEOUT,
    BaseTaskBackend,
    ValidationJob,
    call_with_deadline,
    enqueue_timeout_option,
    run_job,
)

#: How Celery retries a publish whose connection failed: twice, at once then after 0.2 s. Celery's
#: own default tries three more times; a host's ``task_publish_retry_policy`` may say for ever. A
#: refused job waits for the sweeper, so a registration need not wait for the broker to come back.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


@shared_task(name="django_cedula.validate_user_cedula", ignore_result=True)  # type: ignore[untyped-decorator,misc,unused-ignore]
def validate_user_cedula_task(user_id: int | str, attempt: int = 1) -> str | None:
    """Run the validation job (:data:`~.base.TASK_PATH`) in a Celery worker."""
    return run_job(user_id, attempt)


class CeleryBackend(BaseTaskBackend):
    """Sends :func:`validate_user_cedula_task` with ``apply_async``.

    Options: ``queue`` (default: Celery's default queue); ``enqueue_timeout``, the seconds a
    registration waits for the broker to take a job (default 5, at most 60). A delay becomes
    ``countdown``.

    The publish runs on a helper thread and is given up after ``enqueue_timeout``: kombu's Redis
    transport waits for ever for a broker that accepts connections and never answers, unless
    ``broker_transport_options`` give it a ``socket_timeout``. A job given up on is logged and its
    row stays PENDING for the sweeper. Connection failures are retried twice
    (:data:`PUBLISH_RETRY_POLICY`), whatever ``task_publish_retry_policy`` says. With
    ``task_always_eager`` there is no broker: the job runs on the caller's thread, unbounded.

    With Redis as the broker, a job delayed longer than the broker's visibility timeout
    (``broker_transport_options["visibility_timeout"]``, one hour by default) is delivered
    again when the timeout passes; keep it above the longest of ``CEDULA_RETRY_DELAYS``
    (900 s by default). A second delivery of the same attempt is harmless: the job claims
    its row and skips work that another delivery already took.
    """

    supports_defer = True

    def __init__(self, *, queue: str | None = None, enqueue_timeout: float | None = None) -> None:
        super().__init__()
        if queue is not None:
            self.keep_options(queue=queue)
        if enqueue_timeout is not None:
            self.keep_options(enqueue_timeout=enqueue_timeout)
        self.enqueue_timeout = enqueue_timeout_option(enqueue_timeout) or ENQUEUE_TIMEOUT

    def enqueue(self, job: ValidationJob) -> None:
        # Resolved on the caller's thread: Celery's current app is per thread, and the helper
        # thread would otherwise find Celery's unconfigured fallback app.
        task: Any = validate_user_cedula_task._get_current_object()  # type: ignore[attr-defined,unused-ignore]
        timeout = self.enqueue_timeout

        def publish() -> None:
            task.apply_async(
                args=(job.user_id, job.attempt),
                countdown=job.delay or None,
                queue=self.options.get("queue"),
                retry=True,
                retry_policy=PUBLISH_RETRY_POLICY,
                # Bounds the publish itself where the transport supports it (AMQP's confirms).
                timeout=timeout,
            )

        if task.app.conf.task_always_eager:
            # No broker: Celery runs the job itself, here, as the inline backend does (tests, mostly),
            # on the caller's thread and database connection.
            publish()
            return
        call_with_deadline(publish, timeout, "the Celery broker")
