"""The task backend interface."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Sequence
from typing import ClassVar

from django.core.checks import CheckMessage
from django.utils.module_loading import import_string

from .. import throttle
from ..conf import Configurable, ConfiguredPart, app_settings, build_part, part_setting

#: Seconds a job spends besides its lookup and its waits: claiming the row, starting the browser
#: when no earlier lookup has (under a rate limit the job starts it before taking its turn), and
#: storing the outcome. A margin, not a measurement: a cold Chromium start takes a few seconds.
JOB_OVERHEAD = 15.0
#: Seconds a job keeps trying to store its outcome while the database is unreachable (a restart, a
#: failover, a network cut), with growing pauses, before it leaves the row and its kept outcome to
#: the sweeper: a database outage of 30 s must not cost a paid lookup.
STORE_PATIENCE = 45.0

#: The job every backend runs, named by a dotted path so that any queue can import it (and so that
#: no backend imports the job, which queues its retries through the backends).
TASK_PATH = "django_cedula.job.validate_user_cedula"


def run_job(user_id: int | str, attempt: int = 1) -> str | None:
    """Run the job by its dotted path, :data:`TASK_PATH`, as a queue's worker does."""
    job: Callable[[int | str, int], str | None] = import_string(TASK_PATH)
    return job(user_id, attempt)


@dataclasses.dataclass(frozen=True)
class ValidationJob:
    """One attempt at validating one user's cédula.

    Jobs carry the user's primary key and the attempt number, never the cédula itself,
    so no personal data sits in a broker.
    """

    user_id: int | str
    attempt: int = 1
    #: Seconds to wait before the job runs; 0 means now.
    delay: float = 0.0

    def __post_init__(self) -> None:
        # Brokers serialise arguments (Django-Q2 schedules even keep them as Python
        # literals), so a UUID or other key type travels as text.
        if not isinstance(self.user_id, int) or isinstance(self.user_id, bool):
            object.__setattr__(self, "user_id", str(self.user_id))
        if self.attempt < 1:
            raise ValueError("attempt numbers start at 1")
        if self.delay < 0:
            raise ValueError("a delay cannot be negative")

    @property
    def name(self) -> str:
        """A name unique per user and attempt, for queues that can refuse duplicates."""
        return f"django_cedula:{self.user_id}:{self.attempt}"


class BaseTaskBackend(Configurable, abc.ABC):
    """Queues validation jobs.

    Subclasses implement :meth:`enqueue` and declare what they can do, as Django's own
    tasks framework does: ``supports_defer`` says whether a delayed job really waits.
    Options come from ``CEDULA_TASKS["OPTIONS"]`` as keyword arguments, declared and validated by
    the subclass's ``__init__``; an option none declares is refused, at run time and by
    ``manage.py check`` (``django_cedula.E002``).
    """

    #: Whether ``job.delay`` is honoured by the queue (retries wait their delay).
    supports_defer: ClassVar[bool] = False
    #: How late, in seconds, a delayed job may start: the queue's polling tick. The throttle lets
    #: a job sleep up to this long for its slot, since deferring cannot be more precise.
    defer_granularity: ClassVar[float] = 0.0
    #: Whether ``enqueue`` runs the job itself, in the caller's process, before it returns (the
    #: inline backend). The job then sends ``retry_scheduled`` before queuing the retry, so that
    #: receivers see it before that retry's own signals; and no token supply is kept for it.
    runs_jobs_inline: ClassVar[bool] = False
    #: Apps that must be in ``INSTALLED_APPS`` for the backend to work (checked by ``manage.py check``).
    required_apps: ClassVar[tuple[str, ...]] = ()

    @abc.abstractmethod
    def enqueue(self, job: ValidationJob) -> None:
        """Hand ``job`` to the queue. Raises when the queue cannot take it (broker down)."""

    def enqueue_many(self, jobs: Sequence[ValidationJob]) -> None:
        """Hand several jobs to the queue; backends that can do it in one go override this.

        Raises when the queue cannot take them; some may have been taken before the failure
        (a job queued twice is harmless: the second finds its attempt taken).
        """
        for job in jobs:
            self.enqueue(job)

    def check_options(self) -> list[str]:
        """Problems with ``self.options``, one sentence each; reported as ``django_cedula.E002``."""
        return []

    def check_environment(self) -> list[CheckMessage]:
        """Warnings about how the queue itself is configured (its broker, its worker settings)."""
        return []

    def close(self) -> None:
        """Release connections; called when the backend is replaced."""

    def job_time_limit(self) -> float | None:
        """Seconds after which the queue stops a running job; ``None`` when it never does."""
        return None

    def job_run_parts(self) -> list[tuple[str, float]] | None:
        """What one job may spend, as (what, seconds), when nothing stops it; ``None`` if the
        settings it depends on are invalid (``manage.py check`` reports those as E009).

        The lookup itself (``CEDULA_LOOKUP_TIMEOUT``); under ``CEDULA_RATE_LIMIT``, the wait for a
        turn (the throttle's lock, then a sleep of up to ``defer_granularity``: a deferred job could
        not come back sooner); a browser scraper's pause between its lookups
        (``CEDULA_MIN_LOOKUP_INTERVAL``); :data:`JOB_OVERHEAD`; and :data:`STORE_PATIENCE`, the
        store's retries through a database outage. ``CEDULA_SOURCES`` with
        n entries may look up n times (each with its timeout and pause).
        """
        try:
            parts = [("CEDULA_LOOKUP_TIMEOUT", app_settings.LOOKUP_TIMEOUT)]
            fallbacks = len(app_settings.SOURCES) - 1
            if fallbacks > 0:
                # A chain may ask each of its other sources in turn, each paced and timed on its own.
                each = app_settings.LOOKUP_TIMEOUT + app_settings.MIN_LOOKUP_INTERVAL
                parts.append((f"{fallbacks} more lookups of the CEDULA_SOURCES chain", fallbacks * each))
            if app_settings.RATE_LIMIT:
                wait = throttle.LOCK_PATIENCE + max(throttle.MAX_SLEEP, self.defer_granularity)
                parts.append(("a wait for a turn under CEDULA_RATE_LIMIT", wait))
            parts.append(("CEDULA_MIN_LOOKUP_INTERVAL", app_settings.MIN_LOOKUP_INTERVAL))
        except (TypeError, ValueError, OverflowError):  # manage.py check says why (E004, E009)
            return None
        parts.append(("starting the browser and storing the outcome", JOB_OVERHEAD))
        parts.append(("storing the outcome through a database outage", STORE_PATIENCE))
        return [(what, seconds) for what, seconds in parts if seconds > 0]

    def longest_job_run(self) -> float | None:
        """Seconds one job may run when nothing stops it: the sum of :meth:`job_run_parts`."""
        parts = self.job_run_parts()
        return None if parts is None else sum(seconds for _, seconds in parts)


def describe_job_run(parts: Sequence[tuple[str, float]] | None) -> str:
    """``parts`` (from :meth:`BaseTaskBackend.job_run_parts`) as text for a check's message."""
    return " + ".join(f"{seconds:g} s {what}" for what, seconds in parts or ())


def build_backend() -> BaseTaskBackend:
    """The backend ``CEDULA_TASKS`` describes."""
    return build_part(part_setting("TASKS"), BaseTaskBackend, "CEDULA_TASKS")  # type: ignore[type-abstract]


_backend: ConfiguredPart[BaseTaskBackend] = ConfiguredPart("CEDULA_TASKS", build_backend)


def get_backend() -> BaseTaskBackend:
    """The configured backend (``CEDULA_TASKS``), created once and cached."""
    return _backend.get()
