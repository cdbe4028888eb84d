"""What an answer means once read: a table row, a JSON record or a sentence as a result.

Shared by both sources' readers. A record with a novedad is ``cancelled`` (or the transient "being
updated"), one naming the voting place is ``found``, one about another number is a
``parse_error``; where no record says more, the words decide (:func:`_classify_text`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...privacy import mask_cedula
from ...results import ScrapeResult, ScrapeStatus
from .vocabulary import (
    _FECHA_RE,
    _NOT_FOUND_RE,
    _PLACE_FIELDS,
    _REQUIRED_PLACE_FIELDS,
    _RESOLUCION_RE,
    _UPDATING_RE,
    _digits,
    _find_labelled,
    _find_novedad,
    _fold,
)


def _result(status: ScrapeStatus, raw: str, error: str = "", **values: str) -> ScrapeResult:
    data: dict[str, Any] = values  # the data fields, all text (ScrapeResult also has an int field)
    return ScrapeResult(status=status, error=error, raw_html=raw, **data)


def _updating(raw: str) -> ScrapeResult:
    return _result(
        ScrapeStatus.NETWORK_ERROR,
        raw,
        'the site says its information is being updated ("en actualización"); try again later',
    )


def _record_problem(record: Mapping[str, str], cedula: str | None) -> str:
    """Why a record from an answer cannot be trusted for this lookup, or ``""``."""
    answered = _digits(record.get("nuip", ""))
    wanted = _digits(cedula or "")
    if answered and wanted and answered != wanted:
        return f"the answer is for another number ({mask_cedula(answered)}, asked for {mask_cedula(wanted)})"
    return ""


def _cancelled(record: Mapping[str, str], raw: str) -> ScrapeResult:
    return _result(
        ScrapeStatus.CANCELLED,
        raw,
        novedad=record.get("novedad", ""),
        resolucion=record.get("resolucion", ""),
        fecha_novedad=record.get("fecha_novedad", ""),
        **{name: record.get(name, "") for name in _PLACE_FIELDS},
    )


def _from_record(record: Mapping[str, str], raw: str, cedula: str | None) -> ScrapeResult | str:
    """The result a table row or JSON record stands for, or why it stands for nothing."""
    problem = _record_problem(record, cedula)
    if problem:
        return _result(ScrapeStatus.PARSE_ERROR, raw, problem)
    novedad = record.get("novedad", "")
    if novedad:
        if _UPDATING_RE.search(_fold(novedad)):
            return _updating(raw)
        return _cancelled(record, raw)
    places = {name: record.get(name, "") for name in _PLACE_FIELDS}
    if all(places[name] for name in _REQUIRED_PLACE_FIELDS):
        return _result(ScrapeStatus.FOUND, raw, **places)
    if any(places.values()):
        # An answer table, but an incomplete one: its notices must not decide instead.
        missing = ", ".join(name for name in _REQUIRED_PLACE_FIELDS if not places[name])
        return _result(ScrapeStatus.PARSE_ERROR, raw, f"the answer table lacks {missing}")
    return "the answer table has an empty novedad" if "novedad" in record else ""


def _classify_text(text: str, raw: str) -> ScrapeResult | None:
    """Classify an answer from its words alone (when no answer table says more)."""
    folded = _fold(text)
    # Transient first: a "try later" must not be mistaken for a final answer.
    if _UPDATING_RE.search(folded):
        return _updating(raw)
    novedad = _find_novedad(text, folded)
    if novedad:
        return _cancelled(
            {
                "novedad": novedad,
                "resolucion": _find_labelled(_RESOLUCION_RE, text, folded),
                "fecha_novedad": _find_labelled(_FECHA_RE, text, folded),
            },
            raw,
        )
    if _NOT_FOUND_RE.search(folded):
        return _result(ScrapeStatus.NOT_FOUND, raw)
    return None
