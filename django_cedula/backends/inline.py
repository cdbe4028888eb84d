"""Runs jobs in the calling process, for development and tests."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.utils.module_loading import import_string

from .base import TASK_PATH, BaseTaskBackend, ValidationJob

logger = logging.getLogger(__name__)


class InlineBackend(BaseTaskBackend):
    """Runs each job at once, in the process that queued it.

    Jobs are queued after the transaction commits, so with this backend the lookup
    happens inside the request (or test) that created the user, after its commit.
    Retry delays are not waited for by default: a retry runs as soon as it is queued,
    so a whole retry chain completes inside one call. Set the option
    ``wait_for_delays=True`` to sleep through each delay instead.

    A job that raises is logged, never propagated: queuing must not fail a registration.
    """

    supports_defer = False
    runs_jobs_inline = True

    def __init__(self, *, wait_for_delays: bool = False, **options: Any) -> None:
        super().__init__(**options)
        self.keep_options(wait_for_delays=wait_for_delays)
        self.wait_for_delays = wait_for_delays

    def enqueue(self, job: ValidationJob) -> None:
        if job.delay and self.wait_for_delays:
            time.sleep(job.delay)
        task = import_string(TASK_PATH)
        try:
            task(job.user_id, job.attempt)
        except Exception:
            logger.exception("Validation job for user %s, attempt %s, failed", job.user_id, job.attempt)
