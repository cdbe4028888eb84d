"""Source B: the JSON answers of the consultacenso app's ``POST /back/api/consulta``.

:func:`parse_consultacenso_response` reads the decoded object or the raw body. Keys are matched
case-insensitively and under the several names the app has used (``NOM_DEPTO``, ``departamento``,
...), and the novedad may come as text or as an object of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ...results import PLACE_FIELDS, ScrapeResult, ScrapeStatus
from .markup import (
    as_http_status,
    excerpt,
    load_json,
    non_json_answer,
    not_text,
    optional_text,
    oversized_answer,
    text_of,
    too_large,
    unreadable,
    visible_text,
    with_server_error,
)
from .vocabulary import (
    CAPTCHA_RE,
    REQUIRED_PLACE_FIELDS,
    TIMED_OUT_RE,
    as_bool,
    classify_text,
    clean,
    collapse,
    fold,
    from_record,
    make_result,
    record_problem,
)

_B_PLACE_KEYS: dict[str, tuple[str, ...]] = {
    "nuip": ("nuip", "documento", "cedula"),
    "departamento": ("nom_depto", "departamento", "depto", "nom_departamento"),
    "municipio": ("nom_mun", "municipio", "nom_municipio"),
    "puesto": ("nom_puesto", "puesto", "puesto_votacion"),
    "direccion": ("direccion", "dir_puesto", "direccion_puesto"),
    "mesa": ("mesa", "num_mesa", "mesa_votacion"),
}
_B_NOVEDAD_KEYS: dict[str, tuple[str, ...]] = {
    "novedad": ("novedad", "descripcion", "nom_novedad", "tipo_novedad", "detalle"),
    "resolucion": (
        "resolucion",
        "num_resolucion",
        "nro_resolucion",
        "numero_resolucion",
        "resolucion_novedad",
    ),
    "fecha_novedad": ("fecha_novedad", "fecha", "fecha_resolucion"),
}


def _lower_keys(value: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(key).strip().lower(): item for key, item in value.items()}


def _pick(sources: Iterable[Mapping[str, Any]], keys: tuple[str, ...]) -> str:
    for source in sources:
        for key in keys:
            text = clean(source.get(key))
            if text:
                return text
    return ""


_MAX_TEXT_DEPTH = 8


def _as_text(value: object, depth: int = 0) -> str:
    """A message field that may be a string, a list of strings or a nested object (8 levels read)."""
    if isinstance(value, str):
        return value
    if depth >= _MAX_TEXT_DEPTH:
        return ""
    if isinstance(value, Mapping):
        return " ".join(_as_text(item, depth + 1) for item in value.values())
    if isinstance(value, list):
        return " ".join(_as_text(item, depth + 1) for item in value)
    return "" if value is None or isinstance(value, bool) else str(value)


def _parse_consultacenso_response(
    payload: Mapping[str, Any] | str,
    *,
    http_status: int = 200,
    cedula: str | None = None,
) -> ScrapeResult:
    """See :func:`parse_consultacenso_response` (this one may raise)."""
    if isinstance(payload, str):
        raw = payload
        text = payload.lstrip("\ufeff").strip()
        is_json, decoded = load_json(text) if text else (False, None)
        if not is_json:
            failure = non_json_answer(text, raw, http_status, "census app")
            if failure is not None:
                return failure
            if not text:
                return make_result(ScrapeStatus.PARSE_ERROR, raw, f"empty answer (HTTP {http_status})")
            return make_result(
                ScrapeStatus.PARSE_ERROR,
                raw,
                f"not a JSON answer (HTTP {http_status}): {excerpt(visible_text(text) or text, cedula)}",
            )
    else:
        decoded = payload
        raw = json.dumps(payload, ensure_ascii=False, default=str)
    if http_status >= 500:
        # The app relays its own upstream's timeout ("Curl error: ... timed out") as a 502.
        said_5xx = fold(_as_text(_lower_keys(decoded).get("error"))) if isinstance(decoded, Mapping) else ""
        if TIMED_OUT_RE.search(said_5xx):
            return make_result(ScrapeStatus.TIMEOUT, raw, f"the census app timed out (HTTP {http_status})")
        return make_result(ScrapeStatus.NETWORK_ERROR, raw, f"the census app answered HTTP {http_status}")
    if http_status == 429:
        return make_result(ScrapeStatus.BLOCKED, raw, "the census app answered HTTP 429 (too many requests)")
    if not isinstance(decoded, Mapping):
        return make_result(
            ScrapeStatus.PARSE_ERROR,
            raw,
            f"JSON answer of unexpected shape ({type(decoded).__name__}): {excerpt(raw, cedula)}",
        )
    top = _lower_keys(decoded)
    data = top.get("data")
    if isinstance(data, list) and data and isinstance(data[0], Mapping):
        data = data[0]
    record_source = _lower_keys(data) if isinstance(data, Mapping) else {}
    novedad_value = top.get("novedad") or record_source.get("novedad")
    novedad_source = _lower_keys(novedad_value) if isinstance(novedad_value, Mapping) else {}
    sources = (novedad_source, top, record_source)

    record = {name: _pick((record_source,), keys) for name, keys in _B_PLACE_KEYS.items()}
    record["novedad"] = (
        _pick((novedad_source,), _B_NOVEDAD_KEYS["novedad"]) if novedad_source else clean(novedad_value)
    )
    record["resolucion"] = _pick(sources, _B_NOVEDAD_KEYS["resolucion"])
    record["fecha_novedad"] = _pick(sources, _B_NOVEDAD_KEYS["fecha_novedad"])

    ok = as_bool(top.get("ok"))
    found = as_bool(top.get("encontrado"))
    error_text = collapse(_as_text(top.get("error")))
    message_text = collapse(_as_text(top.get("mensaje", top.get("message"))))
    said = fold(f"{error_text} {message_text}")

    problem = record_problem(record, cedula)
    if problem:
        return make_result(ScrapeStatus.PARSE_ERROR, raw, problem)
    # A real answer wins over whatever "mensaje" adds (it may mention the captcha in passing),
    # unless the app itself says the request failed.
    if ok is not False:
        if record["novedad"]:
            outcome = from_record(record, raw, cedula)
            if isinstance(outcome, ScrapeResult):
                return outcome
        # Trust "encontrado" when present; without it, complete data under ok=true is an answer.
        if (found or (found is None and ok)) and all(record[name] for name in REQUIRED_PLACE_FIELDS):
            return make_result(ScrapeStatus.FOUND, raw, **{name: record[name] for name in PLACE_FIELDS})
    if CAPTCHA_RE.search(said):
        # The scraper always posts a solved token: the app's captcha message refuses that token.
        return make_result(
            ScrapeStatus.TOKEN_REFUSED,
            raw,
            f"the census app rejected the captcha: {excerpt(error_text or message_text, cedula)}",
        )
    if TIMED_OUT_RE.search(said):
        return make_result(
            ScrapeStatus.TIMEOUT,
            raw,
            f"the census app timed out: {excerpt(error_text or message_text, cedula)}",
        )
    # Unverified: the reason may come as a sentence in "mensaje".
    worded = classify_text(message_text, raw) if message_text else None
    if worded is not None:
        return worded
    if ok is False or error_text:
        detail = error_text or message_text
        return make_result(
            ScrapeStatus.NETWORK_ERROR,
            raw,
            f"the census app reported an error: {excerpt(detail, cedula)}"
            if detail
            else "the census app answered ok=false without a message",
        )
    if found is False:
        return make_result(ScrapeStatus.NOT_FOUND, raw)
    if found:
        missing = ", ".join(name for name in REQUIRED_PLACE_FIELDS if not record[name])
        return make_result(
            ScrapeStatus.PARSE_ERROR, raw, f"'encontrado' is true but the data lacks {missing}"
        )
    return make_result(ScrapeStatus.PARSE_ERROR, raw, f"unrecognised JSON answer: {excerpt(raw, cedula)}")


def parse_consultacenso_response(
    payload: Mapping[str, Any] | str,
    *,
    http_status: int = 200,
    cedula: str | None = None,
) -> ScrapeResult:
    """Classify the answer of consultacenso's ``POST /back/api/consulta``.

    ``payload`` is the decoded JSON object or the raw body. Keys are matched case-
    insensitively (``OK``/``ok``, ``NOM_DEPTO``/``nom_depto``, ...). In this order:

    * ``data.nuip`` differing from ``cedula`` (when given) is ``parse_error``;
    * unless ``ok`` is false, a non-empty ``novedad`` (text, or an object with
      novedad/resolucion/fecha keys) is ``cancelled`` ("en actualización" there is a
      transient ``network_error``);
    * unless ``ok`` is false, ``encontrado: true`` (or ``ok: true`` without ``encontrado``) with
      ``data`` naming departamento, municipio and puesto is ``found``;
    * ``error``/``mensaje`` about the captcha is ``token_refused`` (the app refused the token
      posted), about a timeout ``timeout``;
    * ``mensaje`` with a novedad wording is ``cancelled``, with "no se encuentra en el censo"
      ``not_found``;
    * ``ok: false`` or an ``error`` otherwise is a transient ``network_error``;
    * ``encontrado: false`` is ``not_found``;
    * an HTML block page is ``blocked``, HTTP 429 ``blocked``, HTTP >= 500 ``network_error``;
    * a body over :data:`MAX_ANSWER_BYTES`, JSON nested too deep and anything else that cannot
      be read is ``parse_error`` with a short masked excerpt. ``raw_html`` holds the body (a
      mapping is re-encoded). Never raises.
    """
    wanted = optional_text(cedula)
    status = as_http_status(http_status)
    if isinstance(payload, Mapping):
        try:
            return with_server_error(
                _parse_consultacenso_response(payload, http_status=status, cedula=wanted), status
            )
        except Exception as exc:
            return unreadable(exc, "", wanted)
    text = text_of(payload)
    if text is None:
        return not_text(payload)
    if too_large(text):
        return oversized_answer(text)
    try:
        return with_server_error(
            _parse_consultacenso_response(text, http_status=status, cedula=wanted), status
        )
    except Exception as exc:
        return unreadable(exc, text, wanted)
