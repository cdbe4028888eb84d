"""The words of the Registraduría's answers, as the readers match them.

Folding (lower case, accents dropped, length kept) and whitespace collapsing; the header texts of
answer tables and the result fields they name; the phrases of novedades, "not in the census",
"being updated", captcha and timeout messages; booleans as the sites write them. Patterns are
matched against folded text, so they are written in lower case and without accents.
"""

from __future__ import annotations

import functools
import re
import unicodedata


@functools.lru_cache(maxsize=2048)
def _fold_char(char: str) -> str:
    # One character in, one out, so that positions found in the folded text are valid
    # in the original and a match can be quoted with the site's own accents and case.
    base = unicodedata.normalize("NFD", char)[0]
    lowered = base.lower()
    return lowered if len(lowered) == 1 else base


def _fold(text: str) -> str:
    """Lower-case ``text`` and drop its accents, keeping its length."""
    return "".join(_fold_char(char) for char in text)


def _collapse(text: str) -> str:
    """Strip and collapse every run of whitespace (``&nbsp;`` included) into one space."""
    return " ".join(text.split())


def _clean(value: object) -> str:
    """A value from the site as a clean string: ``None`` is empty, whitespace collapsed."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    return _collapse(str(value))


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
_PLACE_FIELDS = ("departamento", "municipio", "puesto", "direccion", "mesa")
# A found answer without these is not trustworthy enough to store.
_REQUIRED_PLACE_FIELDS = ("departamento", "municipio", "puesto")


def _canonical_header(text: str) -> str | None:
    key = _collapse(re.sub(r"[^0-9a-z]+", " ", _fold(text)))
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
_CAPTCHA_RE = re.compile(r"captcha|cuadro\s+de\s+verificacion")
_CURL_RE = re.compile(r"\bcurl\s+error\b")
_TIMED_OUT_RE = re.compile(r"\btimed?\s*-?\s*out\b|\btiempo\s+de\s+espera\b")
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
            return _collapse(text[match.start() : match.end()])
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
    return _collapse(text[match.start() : match.start() + kept[-1].end()])


def _find_labelled(pattern: re.Pattern[str], text: str, folded: str) -> str:
    match = pattern.search(folded)
    return _collapse(text[match.start(1) : match.end(1)]) if match else ""


def _as_bool(value: object) -> bool | None:
    """JSON booleans as the sites send them (sometimes as strings or 0/1)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str):
        folded = _fold(value.strip())
        if folded in ("true", "1", "si", "yes"):
            return True
        if folded in ("false", "0", "no", ""):
            return False
    return None
