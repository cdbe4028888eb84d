"""What a lookup's result means for the stored row: final state, retry, or giving up.

Pure functions, no database access, so the rules can be read and tested on their own.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import FieldDoesNotExist

from .models import CedulaInfo, CedulaStatus
from .results import ScrapeResult, ScrapeStatus, is_death_novedad

Status = CedulaStatus

#: How long a stored error message may be.
ERROR_MESSAGE_MAX_LENGTH = 1000

_PLACE_FIELDS = ("departamento", "municipio", "puesto", "direccion", "mesa")
_NOVEDAD_FIELDS = ("novedad", "resolucion", "fecha_novedad")

# The final state a transient failure ends in once no retry is left.
_EXHAUSTED_STATUS = {
    ScrapeStatus.TIMEOUT: Status.TIMEOUT,
    ScrapeStatus.BLOCKED: Status.BLOCKED,
}


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How to update the row after attempt ``attempt``, and whether to queue another."""

    status: str
    fields: dict[str, Any]
    #: Seconds until the next attempt, or ``None`` when this attempt is the last.
    retry_delay: float | None = None

    @property
    def is_final(self) -> bool:
        return self.retry_delay is None


# Control characters other than tab and line breaks: an answer cut short can carry binary noise,
# and PostgreSQL refuses a NUL in a text column (the whole outcome would fail to store).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def storable(text: str) -> str:
    """``text`` without the control characters a database may refuse."""
    return _CONTROL.sub("\ufffd", text)


@functools.cache
def _column_length(name: str) -> int | None:
    """The ``max_length`` of ``CedulaInfo``'s field ``name`` (``None``: unbounded or not a column)."""
    try:
        field = CedulaInfo._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    length = getattr(field, "max_length", None)
    return length if isinstance(length, int) else None


def fit_to_columns(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` with every text cut to its column's ``max_length``, read from the model's fields.

    SQLite ignores column lengths, PostgreSQL and MySQL refuse an over-long value and the whole
    outcome with it. What a source answers is not ours to trust: a ``mesa`` of 21 characters
    must not cost another paid lookup. A cut value ends in "…"; ``raw_response`` keeps the answer.
    """
    fitted: dict[str, Any] = {}
    for name, value in fields.items():
        limit = _column_length(name) if isinstance(value, str) else None
        if limit is not None and len(value) > limit:
            value = value[: limit - 1] + "…"
        fitted[name] = value
    return fitted


def bounded_raw_response(raw: str, *, store: bool, max_length: int) -> str:
    """The part of a raw answer that may be stored (``CEDULA_STORE_RAW_RESPONSE``, ``..._MAX_LENGTH``)."""
    if not store or max_length <= 0:
        return ""
    return storable(raw[:max_length])


def decide(
    result: ScrapeResult,
    *,
    attempt: int,
    retry_delays: Sequence[float],
    now: datetime.datetime,
    raw_response: str = "",
) -> Outcome:
    """Map attempt ``attempt``'s ``result`` to the row's new state.

    Found, not found and cancelled are final. Any other status is transient: it is
    retried after ``retry_delays[attempt - 1]`` seconds while delays remain, and ends
    as TIMEOUT, BLOCKED or ERROR (by the last failure's kind) once they run out.
    """
    fields: dict[str, Any] = {"raw_response": raw_response}
    if result.status.is_final:
        fields.update({name: "" for name in (*_PLACE_FIELDS, *_NOVEDAD_FIELDS)})
        # The source that answered: the row's answer is its (a failure leaves the stored answer's).
        fields.update(fetched_at=now, error_code="", error_message="", next_attempt_at=None)
        fields["source"] = storable(result.source)
        if result.status is ScrapeStatus.FOUND:
            status = Status.ACTIVE
            fields.update({name: storable(getattr(result, name)) for name in _PLACE_FIELDS})
        elif result.status is ScrapeStatus.NOT_FOUND:
            status = Status.NOT_FOUND
        else:
            status = Status.CANCELLED_DECEASED if is_death_novedad(result.novedad) else Status.CANCELLED_OTHER
            fields.update({name: storable(getattr(result, name)) for name in _NOVEDAD_FIELDS})
        return Outcome(status=status, fields={"status": status, **fields})

    error = f"{result.status.value}: {result.error}" if result.error else result.status.value
    fields.update(error_code=result.status.value, error_message=storable(error[:ERROR_MESSAGE_MAX_LENGTH]))
    if attempt <= len(retry_delays):
        delay = float(retry_delays[attempt - 1])
        fields.update(
            status=Status.RETRYING,
            retry_count=attempt,
            next_attempt_at=now + datetime.timedelta(seconds=delay),
        )
        return Outcome(status=Status.RETRYING, fields=fields, retry_delay=delay)
    status = _EXHAUSTED_STATUS.get(result.status, Status.ERROR)
    fields.update(status=status, next_attempt_at=None)
    return Outcome(status=status, fields=fields)
