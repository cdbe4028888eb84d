"""Signals the package sends about validations.

This module imports nothing from the package, so that any module (and any host app) can import
it without creating an import cycle.

Both signals are sent by the validation job once its transaction has committed, with
``sender=CedulaInfo``. Receivers run in the worker process; an exception in one is logged and
does not stop the others or change the stored row.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.dispatch import Signal

# Receivers run as part of the job (or the sweep): their failures are logged with the job's lines.
logger = logging.getLogger("django_cedula.job")

#: A validation ended: the row reached a final state (``CedulaInfo.FINAL_STATUSES``).
#: Sent once per validation, never for an attempt that will be retried.
#:
#: Keyword arguments:
#:
#: - ``info``: the ``CedulaInfo`` as stored;
#: - ``status``: its final status (a ``CedulaStatus`` value);
#: - ``result``: the scraper's ``ScrapeResult``, or ``None`` when no lookup ran (malformed number).
validation_finished = Signal()

#: An attempt failed transiently (or its worker was lost) and the next one was handed to the
#: queue. Sent once the queue accepted it: when the broker refused the job, no signal is sent
#: (the sweeper queues the row later, without a signal), so receivers see it at most once.
#: With the inline backend, which runs the retry inside ``enqueue``, it is sent just before.
#:
#: Keyword arguments:
#:
#: - ``info``: the ``CedulaInfo`` as stored (status RETRYING);
#: - ``attempt``: the number of the attempt that will run next (2 after the first failure);
#: - ``delay``: seconds until it runs;
#: - ``error_code``: the failure's kind (``timeout``, ``network_error``, ``blocked``, ...).
retry_scheduled = Signal()


#: A source went out of service for the whole cluster (:mod:`django_cedula.health`): a run of
#: answers showed that it changed its pages. Sent once for the cluster, by the worker that saw the
#: run's last answer, with ``sender=SourceState``. The package's own receiver mails the admins
#: (``CEDULA_SOURCE_HEALTH["MAIL_ADMINS"]``); connect another to page differently.
#:
#: Keyword arguments:
#:
#: - ``source``: the source's name (``source_name``, as ``cedula_sources`` lists it);
#: - ``state``: its :class:`~django_cedula.health.SourceState` (since, reason, detail).
source_out_of_service = Signal()

#: A source that was out of service answers again (a trial lookup or a probe showed it, or an
#: operator resumed it). Sent once for the cluster, with ``sender=SourceState``. The package's own
#: receivers queue the rows that waited for it and mail the admins.
#:
#: Keyword arguments:
#:
#: - ``source``: the source's name;
#: - ``state``: its :class:`~django_cedula.health.SourceState` as it was while out of service;
#: - ``by``: what brought it back: ``"trial"``, ``"probe"`` or ``"operator"``.
source_back_in_service = Signal()


def send_on_commit(signal: Signal, info: Any, *, using: str, **kwargs: Any) -> None:
    """Send ``signal`` about ``info`` (a ``CedulaInfo``) once the transaction on ``using`` commits.

    ``send_robust``: the row is already stored, so a failing receiver neither stops the other
    receivers nor fails the job. Django logs its traceback (logger ``django.dispatch``); one
    line here says which user it was about. Outside a transaction it is sent at once.
    """
    transaction.on_commit(lambda: send_now(signal, info, **kwargs), using=using)


def send_now(signal: Signal, info: Any, **kwargs: Any) -> None:
    """Send ``signal`` about ``info`` now, with ``sender=type(info)``, logging failing receivers."""
    for receiver, response in signal.send_robust(sender=type(info), info=info, **kwargs):
        if isinstance(response, Exception):
            logger.error(
                "A receiver of a django_cedula signal (%s) failed for user %s: %s: %s",
                getattr(receiver, "__qualname__", receiver),
                info.user_id,
                type(response).__name__,
                response,
            )
