"""The task backend interface."""

from __future__ import annotations

import abc
import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from django.core.checks import CheckMessage
from django.db import connections
from django.utils.module_loading import import_string

from .. import throttle
from ..conf import Configurable, ConfiguredPart, app_settings, build_part, part_setting
from ..exceptions import ConfigurationError, EnqueueError

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


#: Seconds a registration waits for a network broker to take its job, unless a backend's
#: ``enqueue_timeout`` option says otherwise. A broker that takes longer leaves the row PENDING for
#: the sweeper: a registration must not hang on a broker that accepts connections and never answers.
ENQUEUE_TIMEOUT = 5.0
#: Hand-offs to a broker still running past their deadline, at the most. Beyond that, a job is
#: refused at once, without another thread: each one holds a connection the broker never answers
#: (until the client's socket timeout, if it has one), and a registration burst against a hung
#: broker must not pile up threads without end.
MAX_STUCK_HANDOFFS = 8


class BrokerTimeout(EnqueueError, TimeoutError):
    """The broker did not take a job within the backend's ``enqueue_timeout``."""


class _Handoff:
    """One call to a broker on a helper thread, and whether its caller has given up on it."""

    _lock = threading.Lock()
    #: Hand-offs given up on whose thread still runs, in this process.
    stuck = 0

    def __init__(self, call: Callable[[], Any]) -> None:
        self.call = call
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.abandoned = False

    def run(self) -> None:
        try:
            self.call()
        except BaseException as exc:  # handed to the caller, which re-raises it
            self.error = exc
        finally:
            # A receiver of the broker's own signals (Django-Q2's pre_enqueue) may have opened a
            # connection on this thread: nothing else would close it.
            connections.close_all()
            with _Handoff._lock:
                self.done.set()
                if self.abandoned:
                    _Handoff.stuck -= 1


def call_with_deadline(call: Callable[[], Any], timeout: float, broker: str) -> None:
    """Run ``call`` (a hand-off to ``broker``) on a helper thread and wait ``timeout`` seconds at most.

    Broker clients cannot all be bounded from outside: Celery over Redis, and Django-Q2's Redis
    broker, wait for ever for a server that accepts the connection and never answers, unless the
    host gave the client a socket timeout. Past the deadline the call is left to finish or fail on
    its own (a job queued late is harmless: its attempt is claimed once) and :class:`BrokerTimeout`
    is raised; :data:`MAX_STUCK_HANDOFFS` bounds how many may be left so. Only for network brokers:
    a call that writes to the host's database must stay on the caller's connection and transaction.
    """
    with _Handoff._lock:
        if _Handoff.stuck >= MAX_STUCK_HANDOFFS:
            raise BrokerTimeout(
                f"{_Handoff.stuck} earlier hand-offs to {broker} are still unanswered: not tried "
                "(give the broker's client a socket timeout so that they end)"
            )
    handoff = _Handoff(call)
    threading.Thread(target=handoff.run, name="cedula-enqueue", daemon=True).start()
    if not handoff.done.wait(timeout):
        with _Handoff._lock:
            if not handoff.done.is_set():
                handoff.abandoned = True
                _Handoff.stuck += 1
                raise BrokerTimeout(f"{broker} did not take the job within {timeout:g} s")
    if handoff.error is not None:
        raise handoff.error


def stuck_handoffs() -> int:
    """Hand-offs to a broker given up on whose thread still runs, in this process."""
    return _Handoff.stuck


def enqueue_timeout_option(value: float | None) -> float | None:
    """The ``enqueue_timeout`` option of a backend, checked: seconds, more than 0 and at most 60
    (``None`` when not given)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 60:
        raise ConfigurationError(
            "enqueue_timeout must be a number of seconds, more than 0 and at most 60",
            f"For example {ENQUEUE_TIMEOUT:g}: a registration waits that long at most for the broker.",
        )
    return float(value)


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
