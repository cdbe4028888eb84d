"""Queue validation jobs without ever failing the caller."""

from __future__ import annotations

import functools
import logging

from django.db import transaction

from .backends import ValidationJob, get_backend

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
            "Could not queue cédula validation for user %s (attempt %s): %s: %s",
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
    transaction.on_commit(
        functools.partial(enqueue_validation, user_id, attempt, delay=delay),
        using=using,
    )
