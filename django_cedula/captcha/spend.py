"""Counting what captcha solves cost: requested, delivered, used, expired, refused, failed.

Counts are kept in the process (any thread, event loops included: counting touches no
database) and written to :class:`~django_cedula.models.CaptchaSpend`, one row a day, by
:func:`flush`, which the validation job and the token supply call from their own threads.
A failing write keeps the counts for the next flush: accounting never fails a lookup.
"""

from __future__ import annotations

import collections
import datetime
import logging
import threading
from collections.abc import Mapping

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

logger = logging.getLogger(__name__)

#: The counters, in the order reports show them.
EVENTS = ("requested", "delivered", "used", "expired", "refused", "failed")

_lock = threading.Lock()
_pending: collections.Counter[str] = collections.Counter()


def count(event: str, n: int = 1) -> None:
    """Add ``n`` to counter ``event`` (one of :data:`EVENTS`); written at the next :func:`flush`."""
    if event not in EVENTS:
        raise ValueError(f"unknown captcha spend event {event!r}")
    if n:
        with _lock:
            _pending[event] += n


def pending() -> dict[str, int]:
    """Counts of this process not yet written."""
    with _lock:
        return dict(_pending)


def flush(today: datetime.date | None = None) -> None:
    """Write this process's pending counts to today's row (one UPDATE; an INSERT once a day)."""
    with _lock:
        counts = {event: n for event, n in _pending.items() if n}
        _pending.clear()
    if not counts:
        return
    try:
        _write(counts, today or timezone.now().date())
    except DatabaseError as exc:
        logger.warning("Could not record captcha spend (%s); kept for the next write", type(exc).__name__)
        with _lock:
            _pending.update(counts)


def _write(counts: Mapping[str, int], day: datetime.date) -> None:
    from ..models import CaptchaSpend

    updates = {event: F(event) + n for event, n in counts.items()}
    if CaptchaSpend.objects.filter(day=day).update(**updates):
        return
    try:
        with transaction.atomic():
            CaptchaSpend.objects.create(day=day, **counts)
    except IntegrityError:  # another process created today's row meanwhile
        CaptchaSpend.objects.filter(day=day).update(**updates)


def totals(since: datetime.date | None = None) -> dict[str, int]:
    """The counters summed over the days from ``since`` (every day when ``None``), pending included."""
    from ..models import CaptchaSpend

    rows = CaptchaSpend.objects.all()
    if since is not None:
        rows = rows.filter(day__gte=since)
    summed = rows.aggregate(**{event: Sum(event) for event in EVENTS})
    waiting = pending()
    return {event: int(summed[event] or 0) + waiting.get(event, 0) for event in EVENTS}


def reset() -> None:
    """Forget this process's unwritten counts (for tests)."""
    with _lock:
        _pending.clear()
