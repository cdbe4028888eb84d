"""Task backends: how a validation job reaches a worker, and queuing it without failing the caller.

``CEDULA_TASKS`` names a :class:`~django_cedula.backends.base.BaseTaskBackend` subclass and its
options; :func:`get_backend` returns its instance, created once per process. The functions here
are what the rest of the package calls: a broker that refuses a job is logged and swallowed, so
that a registration never fails for it (the row waits for the sweeper).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

from django.db import transaction

from .base import TASK_PATH, BaseTaskBackend, ValidationJob, get_backend

__all__ = [
    "TASK_PATH",
    "BaseTaskBackend",
    "ValidationJob",
    "enqueue_validation",
    "enqueue_validation_on_commit",
    "enqueue_validations_on_commit",
    "get_backend",
]

logger = logging.getLogger(__name__)


def enqueue_validation(user_id: int | str, attempt: int = 1, *, delay: float = 0.0) -> bool:
    """Queue attempt ``attempt`` for ``user_id`` through the configured backend.

    Returns whether the backend took the job. A failure (broker down, misconfigured
    backend) is logged with the user's id and swallowed: the row stays as it is
    (PENDING or RETRYING) for a sweep to pick up later.
    """
    job = ValidationJob(user_id=user_id, attempt=attempt, delay=delay)
    try:
        get_backend().enqueue(job)
    except Exception as exc:
        logger.error(
            "Could not queue cédula validation for user %s (attempt %s): %s: %s "
            "(the row waits for the sweeper)",
            job.user_id,
            job.attempt,
            type(exc).__name__,
            exc,
        )
        return False
    return True


def enqueue_validation_on_commit(
    user_id: int | str, attempt: int = 1, *, delay: float = 0.0, using: str | None = None
) -> None:
    """Queue the job once the current transaction on ``using`` commits; never if it rolls back."""
    transaction.on_commit(functools.partial(enqueue_validation, user_id, attempt, delay=delay), using=using)


def enqueue_validations_on_commit(user_ids: Sequence[int | str], *, using: str | None = None) -> None:
    """Queue the first attempt for each of ``user_ids`` once the transaction commits, in one go.

    A failure is logged once for the batch and swallowed, as :func:`enqueue_validation` does:
    the rows stay PENDING for a sweep.
    """
    jobs = [ValidationJob(user_id=user_id, attempt=1) for user_id in user_ids]

    def enqueue() -> None:
        try:
            get_backend().enqueue_many(jobs)
        except Exception as exc:
            logger.error(
                "Could not queue cédula validations for %s users (users %s to %s): %s: %s "
                "(the rows wait for the sweeper)",
                len(jobs),
                jobs[0].user_id,
                jobs[-1].user_id,
                type(exc).__name__,
                exc,
            )

    if jobs:
        transaction.on_commit(enqueue, using=using)
