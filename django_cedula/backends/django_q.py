"""Queues jobs on Django-Q2, the default backend."""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..exceptions import ConfigurationError
from .base import (
    ENQUEUE_TIMEOUT,
    TASK_PATH,
    BaseTaskBackend,
    ValidationJob,
    call_with_deadline,
    describe_job_run,
    enqueue_timeout_option,
)

logger = logging.getLogger(__name__)

# Q_CLUSTER keys that choose a broker other than Redis, Django-Q2's default.
_OTHER_BROKERS = ("orm", "sqs", "mongo", "iron_mq", "disque_nodes", "broker_class")


def _round_up(seconds: float) -> float:
    """``seconds`` rounded up to a multiple of 10, for a hint's example value."""
    return float(-(-seconds // 10) * 10)


def _orm_broker_transaction() -> contextlib.AbstractContextManager[Any]:
    """A short transaction around queuing on Django-Q2's ORM broker.

    Outside a transaction the ORM broker calls ``close_old_connections()`` each time it is used,
    which with Django's default ``CONN_MAX_AGE = 0`` closes the connection and opens a new one,
    twice per job. First attempts are queued from on-commit callbacks, outside any transaction, so every
    registration paid two reconnects (some 15 ms on PostgreSQL). Inside a transaction the broker
    leaves the connection alone.
    """
    from django_q.conf import Conf

    return transaction.atomic(using=Conf.ORM) if Conf.ORM else contextlib.nullcontext()


def _network_broker() -> bool:
    """Whether Django-Q2 queues jobs on a broker of its own (Redis, its default; SQS, Mongo, ...)
    rather than in the host's database (the ORM broker) or in the caller (``sync``)."""
    from django_q.conf import Conf

    return not Conf.ORM and not Conf.SYNC


class DjangoQBackend(BaseTaskBackend):
    """Queues jobs with ``django_q.tasks.async_task``; delayed jobs become one-off schedules.

    Options (``CEDULA_TASKS["OPTIONS"]``):

    - ``cluster``: the name of the Django-Q2 cluster (broker) to route jobs to;
    - ``timeout``: seconds a worker may spend on one job (defaults to the cluster's);
    - ``group``: the task group shown in Django-Q2's admin (default ``"django_cedula"``);
    - ``enqueue_timeout``: seconds a registration waits for a broker other than the ORM one to
      take a job (default 5, at most 60).

    Every job is queued with ``ack_failure=True``: the package schedules its own retries,
    so Django-Q2 must never redeliver a failed job by itself. A delayed job is a
    ``Schedule`` of type ONCE named after the user and attempt; a second schedule with
    the same name is refused, so one attempt cannot be scheduled twice. Django-Q2's
    scheduler looks for due schedules about every 30 seconds, so a delay is honoured
    to within that.

    On a broker of its own (Redis, Django-Q2's default) a job is handed over on a helper thread and
    given up after ``enqueue_timeout``: redis-py waits for ever for a server that accepts the
    connection and never answers, unless ``Q_CLUSTER["redis"]`` gives it a ``socket_timeout``. A
    job given up on is logged and its row stays PENDING for the sweeper. The ORM broker and the
    schedules of delayed jobs are the host's database, written on the caller's connection.
    """

    supports_defer = True
    # The scheduler that starts delayed jobs looks for due schedules every 30 seconds.
    defer_granularity = 30.0
    required_apps = ("django_q",)

    def __init__(
        self,
        *,
        cluster: str | None = None,
        timeout: float | None = None,
        group: str | None = None,
        enqueue_timeout: float | None = None,
    ) -> None:
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not 0 < timeout < float("inf")
        ):
            raise ConfigurationError(
                "timeout must be a positive number of seconds", "Leave it out to use Q_CLUSTER's timeout."
            )
        for name, value in (("cluster", cluster), ("group", group)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigurationError(f"{name} must be a non-empty string", "Or leave it out.")
        # Only the options given are kept: an absent timeout means the cluster's own.
        given = {"cluster": cluster, "timeout": timeout, "group": group}
        options = {name: value for name, value in given.items() if value is not None}
        super().__init__()
        self.keep_options(**options)
        if enqueue_timeout is not None:
            self.keep_options(enqueue_timeout=enqueue_timeout)
        self.enqueue_timeout = enqueue_timeout_option(enqueue_timeout) or ENQUEUE_TIMEOUT
        self.q_options: dict[str, Any] = {"ack_failure": True, "group": "django_cedula", **options}

    def _cluster_settings(self) -> dict[str, Any]:
        # Read the setting itself: django_q.conf.Conf is frozen when Django-Q2 is first imported.
        cluster: dict[str, Any] = getattr(settings, "Q_CLUSTER", {}) or {}
        name = self.options.get("cluster")
        if name and isinstance(cluster.get("ALT_CLUSTERS"), dict):
            cluster = {**cluster, **cluster["ALT_CLUSTERS"].get(name, {})}
        return cluster

    def job_time_limit(self) -> float | None:
        """The job's ``timeout`` option, else the cluster's: Django-Q2 kills a job that runs longer."""
        timeout = self.options.get("timeout", self._cluster_settings().get("timeout"))
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
            return float(timeout)
        return None

    def check_environment(self) -> list[CheckMessage]:
        cluster = self._cluster_settings()
        messages = self._timeout_warnings(cluster)
        if "redis" in cluster or not any(key in cluster for key in _OTHER_BROKERS):
            messages.append(
                Warning(
                    "Django-Q2 uses its Redis broker, which has no delivery receipts: a job whose worker "
                    "crashes is lost (its row stays PROCESSING until a sweep re-queues it).",
                    hint=(
                        'Run the sweeper (CEDULA_SWEEP = {"SCHEDULE": True}, or cedula_sweep from cron): it '
                        "re-queues rows a dead worker left PROCESSING, on any broker. The ORM broker "
                        "(Q_CLUSTER['orm'] = 'default') also keeps jobs that were never started."
                    ),
                    id="django_cedula.W002",
                )
            )
        if cluster.get("sync") and not settings.DEBUG:
            messages.append(
                Warning(
                    "Django-Q2 runs jobs synchronously (Q_CLUSTER['sync'] = True) with DEBUG off: every "
                    "registration waits for a browser lookup.",
                    hint="Remove 'sync' outside development and tests.",
                    id="django_cedula.W003",
                )
            )
        return messages

    def _timeout_warnings(self, cluster: dict[str, Any]) -> list[CheckMessage]:
        """W001: Django-Q2 must let a job run its whole course, and hand it out again only after."""
        needed = self.longest_job_run()
        example = f"{_round_up(needed + 20):g}" if needed is not None else "180"
        if self.options.get("timeout", cluster.get("timeout")) is None:
            return [
                Warning(
                    "Django-Q2's Q_CLUSTER sets no 'timeout': a lookup that hangs holds its worker for ever.",
                    hint=f"Set Q_CLUSTER['timeout'] (e.g. {example}) and 'retry' above that.",
                    id="django_cedula.W001",
                )
            ]
        timeout = self.job_time_limit()
        if timeout is None:
            return []  # not a positive number: E002 reports the option (Django-Q2 its own setting)
        if needed is not None and timeout <= needed:
            # Django-Q2 would kill a job still within its lookup's time: the attempt is lost, and
            # the row stays PROCESSING until a sweep queues it again, to be killed again.
            return [
                Warning(
                    f"Django-Q2's job timeout ({timeout:g} s) is not above the longest a job may run "
                    f"({needed:g} s: {describe_job_run(self.job_run_parts())}): Django-Q2 would kill "
                    "lookups that are still within their time.",
                    hint=(
                        f"Set Q_CLUSTER['timeout'] (or the backend's 'timeout' option) above {needed:g}, "
                        f"e.g. {example}, and Q_CLUSTER['retry'] above that."
                    ),
                    id="django_cedula.W001",
                )
            ]
        retry = cluster.get("retry", 60)
        if isinstance(retry, (int, float)) and retry <= timeout:
            return [
                Warning(
                    f"Django-Q2's Q_CLUSTER 'retry' ({retry}) is not above the job timeout ({timeout:g}): "
                    "a slow lookup is delivered again while it still runs.",
                    hint="Set Q_CLUSTER['retry'] a little above the timeout, e.g. timeout + 60.",
                    id="django_cedula.W001",
                )
            ]
        return []

    def enqueue(self, job: ValidationJob) -> None:
        # Imported here so that projects on another backend need not configure Django-Q2.
        from django_q.tasks import async_task

        q_options = {**self.q_options, "task_name": job.name}
        if job.delay:
            self._schedule(job, q_options)
            return
        if _network_broker():
            call_with_deadline(
                lambda: async_task(TASK_PATH, job.user_id, job.attempt, q_options=q_options),
                self.enqueue_timeout,
                "Django-Q2's broker",
            )
            return
        with _orm_broker_transaction():
            async_task(TASK_PATH, job.user_id, job.attempt, q_options=q_options)

    def enqueue_many(self, jobs: Sequence[ValidationJob]) -> None:
        from django_q.tasks import async_task

        if _network_broker():
            # Each job on its own deadline; the first refused stops the lot (the rest wait for the
            # sweeper too) rather than paying a deadline per job against a broker that hangs.
            for job in jobs:
                self.enqueue(job)
            return
        # One transaction for the lot: one commit instead of one per job.
        with _orm_broker_transaction():
            for job in jobs:
                if job.delay:
                    self.enqueue(job)
                else:
                    q_options = {**self.q_options, "task_name": job.name}
                    async_task(TASK_PATH, job.user_id, job.attempt, q_options=q_options)

    def _schedule(self, job: ValidationJob, q_options: dict[str, Any]) -> None:
        from django_q.models import Schedule
        from django_q.tasks import schedule

        next_run = timezone.now() + datetime.timedelta(seconds=job.delay)
        try:
            schedule(
                TASK_PATH,
                job.user_id,
                job.attempt,
                name=job.name,
                schedule_type=Schedule.ONCE,
                repeats=-1,  # a ONCE schedule with negative repeats is deleted once it has run
                next_run=next_run,
                cluster=q_options.get("cluster") or _named_cluster(),
                q_options=q_options,
            )
        except IntegrityError:
            # The same attempt is scheduled already: the earlier time wins. A row deferred for a long
            # while (its source out of service) and queued at once when the source came back must
            # not wait for that old time when the throttle lines it up for a minute from now.
            earlier = Schedule.objects.filter(name=job.name, next_run__gt=next_run).update(next_run=next_run)
            logger.info(
                "Attempt %s for user %s is already scheduled%s",
                job.attempt,
                job.user_id,
                "; brought forward" if earlier else "",
            )


def _named_cluster() -> str | None:
    """This process's cluster name when ``Q_CLUSTER`` names one (``cluster_name``), else ``None``.

    Django-Q2's scheduler runs a schedule without a cluster only in a cluster that has no name of its
    own: a host whose workers run under ``cluster_name`` would otherwise never see a delayed job (a
    retry, a deferred turn) run at all.
    """
    from django_q.conf import Conf

    return Conf.CLUSTER_NAME if Conf.CLUSTER_NAME != Conf.PREFIX else None
