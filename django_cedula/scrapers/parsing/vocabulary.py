"""The words of the Registraduría's answers, as the readers match them, and what they mean.

Folding (lower case, accents dropped, length kept) and whitespace collapsing; the header texts of
answer tables and the result fields they name; the phrases of novedades, "not in the census",
"being updated", captcha and timeout messages; booleans as the sites write them. Patterns are
matched against folded text, so they are written in lower case and without accents.

Then the verdicts, shared by both sources' readers: a record with a novedad is ``cancelled`` (or the
transient "being updated"), one naming the voting place is ``found``, one about another number is a
``parse_error``; where no record says more, the words decide (:func:`classify_text`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from ...privacy import mask_cedula
from ...results import PLACE_FIELDS, ScrapeResult, ScrapeStatus


@functools.lru_cache(maxsize=2048)
def _fold_char(char: str) -> str:
    # One character in, one out, so that positions found in the folded text are valid
    # in the original and a match can be quoted with the site's own accents and case.
    base = unicodedata.normalize("NFD", char)[0]
    lowered = base.lower()
    return lowered if len(lowered) == 1 else base


def fold(text: str) -> str:
    """Lower-case ``text`` and drop its accents, keeping its length."""
    return "".join(_fold_char(char) for char in text)


def collapse(text: str) -> str:
    """Strip and collapse every run of whitespace (``&nbsp;`` included) into one space."""
    return " ".join(text.split())


def clean(value: object) -> str:
    """A value from the site as a clean string: ``None`` is empty, whitespace collapsed."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    return collapse(str(value))


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


# Header texts (folded, punctuation dropped) -> ScrapeResult field, plus "nuip".
_HEADER_ALIASES: dict[str, str] = {
    "nuip": "nuip",
    "cedula": "nuip",
    "cedula de ciudadania": "nuip",
    "documento": "nuip",
    "numero de documento": "nuip",
    "no documento": "nuip",
    "departamento": "departamento",
    "depto": "departamento",
    "dpto": "departamento",
    "nom depto": "departamento",
    "municipio": "municipio",
    "nom mun": "municipio",
    "nom municipio": "municipio",
    "puesto": "puesto",
    "puesto de votacion": "puesto",
    "lugar de votacion": "puesto",
    "nom puesto": "puesto",
    "direccion": "direccion",
    "direccion puesto": "direccion",
    "direccion del puesto": "direccion",
    "mesa": "mesa",
    "mesa de votacion": "mesa",
    "numero de mesa": "mesa",
    "no mesa": "mesa",
    "novedad": "novedad",
    "tipo novedad": "novedad",
    "tipo de novedad": "novedad",
    "resolucion": "resolucion",
    "no resolucion": "resolucion",
    "numero de resolucion": "resolucion",
    "resolucion no": "resolucion",
    "fecha novedad": "fecha_novedad",
    "fecha de novedad": "fecha_novedad",
    "fecha de la novedad": "fecha_novedad",
    "fecha": "fecha_novedad",
    "fecha resolucion": "fecha_novedad",
}
# A found answer without these is not trustworthy enough to store.
REQUIRED_PLACE_FIELDS = ("departamento", "municipio", "puesto")


def canonical_header(text: str) -> str | None:
    key = collapse(re.sub(r"[^0-9a-z]+", " ", fold(text)))
    return _HEADER_ALIASES.get(key)


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    # Matched against folded text; any whitespace (line breaks included) between words.
    return re.compile(r"\b" + r"\s+".join(re.escape(word) for word in phrase.split()) + r"\b")


# Most specific first: the generic "not entitled" sentence may accompany a precise reason.
_KNOWN_NOVEDADES = tuple(
    _phrase_pattern(phrase)
    for phrase in (
        "cancelada por muerte",
        "cancelada por doble cedulacion",
        "cancelada por falsa identidad",
        "cancelada por suplantacion",
        "cancelada por menoria de edad",
        "cancelada por extranjeria",
        "cancelada por mala elaboracion",
        "vigente con perdida o suspension de los derechos politicos",
        "baja por perdida o suspension de los derechos politicos",
        "baja por trashumancia",
        "pendiente por solicitud en proceso",
        "no se encuentra habilitado para votar",
        "no esta habilitado para votar",
    )
)
# Any other "Cancelada por X" / "Baja por X": X ends at punctuation, a line end or one of
# the words that introduce the resolution or date.
_GENERIC_NOVEDAD_RE = re.compile(r"\b(?:cancelad[ao]|baja)[ \t]+por[ \t]+[a-z]+(?:[ \t]+[a-z]+){0,7}")
_NOVEDAD_STOP_WORDS = frozenset(
    {"segun", "mediante", "resolucion", "desde", "con", "el", "la", "en", "fecha", "del", "para"}
)
_NOVEDAD_TRAILING_WORDS = frozenset({"de", "los", "las", "o", "y"})

_UPDATING_RE = re.compile(r"\ben\s+(?:proceso\s+de\s+)?actualizacion\b")
_NOT_FOUND_RE = re.compile(r"\bno\s+se\s+encuentra\s+(?:[a-z]+\s+){0,2}en\s+(?:el\s+)?censo\b")
CAPTCHA_RE = re.compile(r"captcha|cuadro\s+de\s+verificacion")
CURL_RE = re.compile(r"\bcurl\s+error\b")
TIMED_OUT_RE = re.compile(r"\btimed?\s*-?\s*out\b|\btiempo\s+de\s+espera\b")
_RESOLUCION_RE = re.compile(
    r"\bresolucion\b\s*(?:(?:no|nro|n|numero)\b\.?|n[°º]|#)?\s*[:#]?\s*(\d[\d./-]*(?:\s+de\s+\d{4})?)"
)
_FECHA_RE = re.compile(
    r"\bfecha\b(?:\s+de)?(?:\s+la)?(?:\s+novedad)?\s*:?\s*(\d{1,2}[/-]\d{1,2}[/-]\d{2,4}|\d{4}-\d{2}-\d{2})"
)


def _find_novedad(text: str, folded: str) -> str:
    for pattern in _KNOWN_NOVEDADES:
        match = pattern.search(folded)
        if match:
            return collapse(text[match.start() : match.end()])
    match = _GENERIC_NOVEDAD_RE.search(folded)
    if not match:
        return ""
    # Walk the words after "por" and stop at the first word that starts the next clause.
    words = list(re.finditer(r"[a-z]+", folded[match.start() : match.end()]))
    kept = words[:3]
    for word in words[3:]:
        if word.group(0) in _NOVEDAD_STOP_WORDS:
            break
        kept.append(word)
    while len(kept) > 3 and kept[-1].group(0) in _NOVEDAD_TRAILING_WORDS:
        kept.pop()
    if len(kept) < 3:
        return ""
    return collapse(text[match.start() : match.start() + kept[-1].end()])


def _find_labelled(pattern: re.Pattern[str], text: str, folded: str) -> str:
    match = pattern.search(folded)
    return collapse(text[match.start(1) : match.end(1)]) if match else ""


def as_bool(value: object) -> bool | None:
    """JSON booleans as the sites send them (sometimes as strings or 0/1)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str):
        stripped = value.strip()
        if len(stripped) > 5:  # no word below is longer (folding keeps the length): skip folding 1 MiB
            return None
        folded = fold(stripped)
        if folded in ("true", "1", "si", "yes"):
            return True
        if folded in ("false", "0", "no", ""):
            return False
    return None


def make_result(status: ScrapeStatus, raw: str, error: str = "", **values: str) -> ScrapeResult:
    """A reader's result: ``status``, the body as received (``raw``), an ``error`` and data fields."""
    data: dict[str, Any] = values  # the data fields, all text (ScrapeResult also has an int field)
    return ScrapeResult(status=status, error=error, raw_html=raw, **data)


def _updating(raw: str) -> ScrapeResult:
    return make_result(
        ScrapeStatus.NETWORK_ERROR,
        raw,
        'the site says its information is being updated ("en actualización"); try again later',
    )


def record_problem(record: Mapping[str, str], cedula: str | None) -> str:
    """Why a record from an answer cannot be trusted for this lookup, or ``""``."""
    answered = _digits(record.get("nuip", ""))
    wanted = _digits(cedula or "")
    if answered and wanted and answered != wanted:
        return f"the answer is for another number ({mask_cedula(answered)}, asked for {mask_cedula(wanted)})"
    return ""


def _cancelled(record: Mapping[str, str], raw: str) -> ScrapeResult:
    return make_result(
        ScrapeStatus.CANCELLED,
        raw,
        novedad=record.get("novedad", ""),
        resolucion=record.get("resolucion", ""),
        fecha_novedad=record.get("fecha_novedad", ""),
        **{name: record.get(name, "") for name in PLACE_FIELDS},
    )


def from_record(record: Mapping[str, str], raw: str, cedula: str | None) -> ScrapeResult | str:
    """The result a table row or JSON record stands for, or why it stands for nothing."""
    problem = record_problem(record, cedula)
    if problem:
        return make_result(ScrapeStatus.PARSE_ERROR, raw, problem)
    novedad = record.get("novedad", "")
    if novedad:
        if _UPDATING_RE.search(fold(novedad)):
            return _updating(raw)
        return _cancelled(record, raw)
    places = {name: record.get(name, "") for name in PLACE_FIELDS}
    if all(places[name] for name in REQUIRED_PLACE_FIELDS):
        return make_result(ScrapeStatus.FOUND, raw, **places)
    if any(places.values()):
        # An answer table, but an incomplete one: its notices must not decide instead.
        missing = ", ".join(name for name in REQUIRED_PLACE_FIELDS if not places[name])
        return make_result(ScrapeStatus.PARSE_ERROR, raw, f"the answer table lacks {missing}")
    return "the answer table has an empty novedad" if "novedad" in record else ""


def classify_text(text: str, raw: str) -> ScrapeResult | None:
    """Classify an answer from its words alone (when no answer table says more)."""
    folded = fold(text)
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
        return make_result(ScrapeStatus.NOT_FOUND, raw)
    return None
