"""Reading the vigencia service's answer: ``{"codigo": 200, "vigencia": "...", "fecha": "..."}``.

The four vigencia texts are matched with accents, case and spacing ignored ("Cédula no existe" is
"Cedula no Existe"); anything else, an empty Angular shell (``<app-root></app-root>``: the page
instead of the API's answer), text that is not JSON or JSON of another shape is unreadable: a sign
that the service changed, which the pre-check counts toward its health.
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
from typing import Any

from ...privacy import redact
from ...results import Vigencia

#: The most of an answer read (bytes): the service's answer is under a hundred.
MAX_VIGENCIA_BYTES = 64 * 1024
#: The longest ``fecha`` kept (the row's ``fecha_novedad`` holds 50 characters).
MAX_FECHA = 50

#: The service's texts, folded (:func:`fold`), and what each says.
VIGENCIA_TEXTS = {
    "vigente (vivo)": Vigencia.ALIVE,
    "cancelada por muerte": Vigencia.DECEASED,
    "cedula no existe": Vigencia.NONEXISTENT,
    "sin datos para consultar": Vigencia.NO_DATA,
}

_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """``text`` without accents, in lower case, its spaces collapsed."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _SPACES.sub(" ", ascii_text).strip().lower()


@dataclasses.dataclass(frozen=True)
class VigenciaAnswer:
    """What an answer said: ``vigencia`` and its ``fecha``, or why it could not be read (``error``)."""

    vigencia: Vigencia | None = None
    fecha: str = ""
    error: str = ""


def read_vigencia_answer(text: str, cedula: str | None = None) -> VigenciaAnswer:
    """The answer in ``text`` (the body, decoded); an unreadable one has ``error`` set (masked)."""
    stripped = text.strip()
    if not stripped:
        return VigenciaAnswer(error="an empty answer")
    if "<app-root" in stripped[:MAX_VIGENCIA_BYTES].lower():
        return VigenciaAnswer(error="the page's empty shell (<app-root>) instead of an answer")
    try:
        data: Any = json.loads(stripped)
    except (ValueError, RecursionError):
        return VigenciaAnswer(error=f"not JSON: {redact(stripped[:80], cedula)!r}")
    if not isinstance(data, dict):
        return VigenciaAnswer(error=f"JSON of another shape ({type(data).__name__})")
    said = data.get("vigencia")
    if not isinstance(said, str):
        return VigenciaAnswer(error=f"no vigencia text (keys: {', '.join(sorted(map(str, data))[:8])})")
    vigencia = VIGENCIA_TEXTS.get(fold(said))
    if vigencia is None:
        return VigenciaAnswer(error=f"an unknown vigencia: {redact(said[:80], cedula)!r}")
    fecha = data.get("fecha")
    fecha_text = "" if fecha is None or isinstance(fecha, (dict, list)) else str(fecha).strip()
    return VigenciaAnswer(vigencia=vigencia, fecha=fecha_text[:MAX_FECHA])
