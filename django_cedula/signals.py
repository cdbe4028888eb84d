"""Signals the package sends about validations.

This module imports nothing from the package, so that any module (and any host app) can import
it without creating an import cycle.

Both signals are sent by the validation job once its transaction has committed, with
``sender=CedulaInfo``. Receivers run in the worker process; an exception in one is logged and
does not stop the others or change the stored row.
"""

from __future__ import annotations

from django.dispatch import Signal

#: A validation ended: the row reached a final state (``CedulaInfo.FINAL_STATUSES``).
#: Sent once per validation, never for an attempt that will be retried.
#:
#: Keyword arguments:
#:
#: - ``info``: the ``CedulaInfo`` as stored;
#: - ``status``: its final status (a ``CedulaStatus`` value);
#: - ``result``: the scraper's ``ScrapeResult``, or ``None`` when no lookup ran (malformed number).
validation_finished = Signal()

#: An attempt failed transiently and the next one was scheduled.
#:
#: Keyword arguments:
#:
#: - ``info``: the ``CedulaInfo`` as stored (status RETRYING);
#: - ``attempt``: the number of the attempt that will run next (2 after the first failure);
#: - ``delay``: seconds until it runs;
#: - ``error_code``: the failure's kind (``timeout``, ``network_error``, ``blocked``, ...).
retry_scheduled = Signal()
