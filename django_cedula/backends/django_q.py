"""Queues jobs on Django-Q2, the default backend."""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.db import IntegrityError
from django.utils import timezone

from .base import TASK_PATH, BaseTaskBackend, ValidationJob

logger = logging.getLogger(__name__)

_TASK_OPTIONS = ("cluster", "timeout", "group")


class DjangoQBackend(BaseTaskBackend):
    """Queues jobs with ``django_q.tasks.async_task``; delayed jobs become one-off schedules.

    Options (``CEDULA_TASK_BACKEND_OPTIONS``):

    - ``cluster``: the name of the Django-Q2 cluster (broker) to route jobs to;
    - ``timeout``: seconds a worker may spend on one job (defaults to the cluster's);
    - ``group``: the task group shown in Django-Q2's admin (default ``"django_cedula"``).

    Every job is queued with ``ack_failure=True``: the package schedules its own retries,
    so Django-Q2 must never redeliver a failed job by itself. A delayed job is a
    ``Schedule`` of type ONCE named after the user and attempt; a second schedule with
    the same name is refused, so one attempt cannot be scheduled twice. Django-Q2's
    scheduler looks for due schedules about every 30 seconds, so a delay is honoured
    to within that.
    """

    supports_defer = True

    def __init__(self, **options: Any) -> None:
        unknown = set(options) - set(_TASK_OPTIONS)
        if unknown:
            raise TypeError(f"unknown DjangoQBackend options: {', '.join(sorted(unknown))}")
        super().__init__(**options)
        self.q_options: dict[str, Any] = {"ack_failure": True, "group": "django_cedula", **options}

    def enqueue(self, job: ValidationJob) -> None:
        # Imported here so that projects on another backend need not configure Django-Q2.
        from django_q.models import Schedule
        from django_q.tasks import async_task, schedule

        q_options = {**self.q_options, "task_name": job.name}
        if not job.delay:
            async_task(TASK_PATH, job.user_id, job.attempt, q_options=q_options)
            return
        try:
            schedule(
                TASK_PATH,
                job.user_id,
                job.attempt,
                name=job.name,
                schedule_type=Schedule.ONCE,
                repeats=-1,  # a ONCE schedule with negative repeats is deleted once it has run
                next_run=timezone.now() + datetime.timedelta(seconds=job.delay),
                cluster=q_options.get("cluster"),
                q_options=q_options,
            )
        except IntegrityError:
            logger.info("Attempt %s for user %s is already scheduled", job.attempt, job.user_id)
