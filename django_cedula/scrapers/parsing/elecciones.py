"""The election-season API: the JSON answers of ``POST /api/v1/citizen/get-information``.

Unverified: what is known of this API comes from peers' code and notes (``docs/elecciones.rst``), no
capture. The envelope seen there is ``{"status", "status_code", "message", "data"}``; ``data`` holds
``voter``, ``is_in_census``, ``novelty[]`` and ``polling_place.{stand, table, place_address.{state,
town, address, zone}}``; "not in the census" is HTTP 404 with ``status_code`` 13; a used or refused
token is HTTP 403. Keys are matched case-insensitively and a few spellings are accepted, so that a
renamed key is more likely a ``parse_error`` (a sign of change) than a wrong answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...results import ScrapeResult, ScrapeStatus
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
from .vocabulary import CAPTCHA_RE, as_bool, clean, collapse, fold, from_record, make_result

#: The API's ``status_code`` for a number that is not in the census (with HTTP 404).
NOT_IN_CENSUS_CODE = 13
#: How the answers name the API in errors.
_API = "election-season API"

# A novelty entry's text, resolution and date, under the names peers read (``name`` first).
_NOVELTY_TEXT = ("name", "description", "description_line_1", "novelty", "novedad", "procedure")
_NOVELTY_RESOLUTION = ("resolution", "resolucion", "resolution_number")
_NOVELTY_DATE = ("date", "fecha", "novelty_date")


def _lower(value: object) -> dict[str, Any]:
    return (
        {str(key).strip().lower(): item for key, item in value.items()} if isinstance(value, Mapping) else {}
    )


def _first(source: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        text = clean(source.get(key))
        if text:
            return text
    return ""


def _code(value: object) -> int | None:
    """A ``status_code`` as a number (it may come as text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 10:
        return int(value.strip())
    return None


def _message(top: Mapping[str, Any]) -> str:
    for key in ("message", "mensaje", "error", "detail"):
        value = top.get(key)
        if isinstance(value, str) and value.strip():
            return collapse(value[:2000])
    return ""


def _novelty_record(novelty: object, data: Mapping[str, Any]) -> dict[str, str] | None:
    """The first novelty as a record (``novedad``, ``resolucion``, ``fecha_novedad``, ``nuip``);
    ``None`` when there is none. A novelty may come as a list of objects, one object or a text."""
    first = novelty[0] if isinstance(novelty, list) and novelty else novelty
    if not first:
        return None
    entry = _lower(first)
    text = _first(entry, _NOVELTY_TEXT) if entry else clean(first)
    return {
        "nuip": _first(_lower(data.get("voter")), ("identification", "nuip", "document")),
        "novedad": text,
        "resolucion": _first(entry, _NOVELTY_RESOLUTION),
        "fecha_novedad": _first(entry, _NOVELTY_DATE),
    }


def _place_record(data: Mapping[str, Any]) -> dict[str, str]:
    place = _lower(data.get("polling_place") or data.get("pollingplace"))
    address = _lower(place.get("place_address") or place.get("address"))
    return {
        "nuip": _first(_lower(data.get("voter")), ("identification", "nuip", "document")),
        "departamento": _first(address, ("state", "department", "departamento")),
        "municipio": _first(address, ("town", "city", "municipio")),
        "puesto": _first(place, ("stand", "stand_name", "puesto")),
        "direccion": _first(address, ("address", "direccion")),
        "mesa": _first(place, ("table", "mesa")),
    }


def _as_result(outcome: ScrapeResult | str) -> ScrapeResult:
    assert isinstance(outcome, ScrapeResult)  # a record with a novedad always stands for a result
    return outcome


def _read(decoded: object, raw: str, http_status: int, cedula: str | None) -> ScrapeResult:
    """What a JSON answer says (see :func:`parse_elecciones_response`; this one may raise)."""
    if http_status >= 500:
        return make_result(ScrapeStatus.NETWORK_ERROR, raw, f"the {_API} answered HTTP {http_status}")
    if http_status == 429:
        return make_result(ScrapeStatus.BLOCKED, raw, f"the {_API} answered HTTP 429 (too many requests)")
    if not isinstance(decoded, Mapping):
        shape = type(decoded).__name__
        return make_result(ScrapeStatus.PARSE_ERROR, raw, f"JSON answer of unexpected shape ({shape})")
    top = _lower(decoded)
    code = _code(top.get("status_code", top.get("code")))
    said = _message(top)
    if http_status in (401, 403):
        # The API takes the reCAPTCHA token as its Bearer credential: used, stale or refused.
        detail = f": {excerpt(said, cedula)}" if said else ""
        return make_result(
            ScrapeStatus.TOKEN_REFUSED,
            raw,
            f"the {_API} refused the captcha token (HTTP {http_status}){detail}",
        )
    if code == NOT_IN_CENSUS_CODE and http_status in (200, 404):
        return make_result(ScrapeStatus.NOT_FOUND, raw)
    if http_status in (404, 410):
        return make_result(
            ScrapeStatus.PAGE_MOVED,
            raw,
            f"the {_API} answered HTTP {http_status} with status_code {code}: its endpoint moved or changed",
        )
    if http_status >= 400:
        # A request refused for what it carries (the election code of a past season, say): the next
        # source can answer, and for a seasonal source this counts toward "off season".
        detail = excerpt(said, cedula) if said else f"status_code {code}"
        return make_result(
            ScrapeStatus.NETWORK_ERROR, raw, f"the {_API} refused the request (HTTP {http_status}): {detail}"
        )
    data = _lower(top.get("data"))
    novelty = data.get("novelty", data.get("novelties", data.get("novedad")))
    record = _novelty_record(novelty, data)
    if record is not None:
        if not record["novedad"]:
            return make_result(
                ScrapeStatus.PARSE_ERROR, raw, "data.novelty carries no text this reader knows"
            )
        return _as_result(from_record(record, raw, cedula))
    in_census = as_bool(data.get("is_in_census"))
    if in_census:
        outcome = from_record(_place_record(data), raw, cedula)
        if isinstance(outcome, ScrapeResult):
            return outcome  # found, or a parse_error (another number, a place without its town...)
        return make_result(ScrapeStatus.PARSE_ERROR, raw, "data.is_in_census is true but no polling_place")
    if CAPTCHA_RE.search(fold(said)):
        return make_result(
            ScrapeStatus.TOKEN_REFUSED, raw, f"the {_API} rejected the captcha: {excerpt(said, cedula)}"
        )
    if in_census is False:
        return make_result(ScrapeStatus.NOT_FOUND, raw)
    if as_bool(top.get("status")) is False:
        detail = excerpt(said, cedula) if said else f"status_code {code}"
        return make_result(ScrapeStatus.NETWORK_ERROR, raw, f"the {_API} reported an error: {detail}")
    return make_result(ScrapeStatus.PARSE_ERROR, raw, f"unrecognised JSON answer: {excerpt(raw, cedula)}")


def _parse(text: str, http_status: int, cedula: str | None) -> ScrapeResult:
    body = text.lstrip("\ufeff").strip()
    is_json, decoded = load_json(body) if body else (False, None)
    if is_json:
        return _read(decoded, text, http_status, cedula)
    failure = non_json_answer(body, text, http_status, _API)
    if failure is not None:
        return failure
    if http_status in (404, 410):
        return make_result(
            ScrapeStatus.PAGE_MOVED,
            text,
            f"the {_API} answered HTTP {http_status} without its JSON: it moved",
        )
    if not body:
        return make_result(ScrapeStatus.PARSE_ERROR, text, f"empty answer (HTTP {http_status})")
    quoted = excerpt(visible_text(body) or body, cedula)
    return make_result(ScrapeStatus.PARSE_ERROR, text, f"not a JSON answer (HTTP {http_status}): {quoted}")


def parse_elecciones_response(
    payload: Mapping[str, Any] | str | bytes, *, http_status: int = 200, cedula: str | None = None
) -> ScrapeResult:
    """Classify an answer of the election-season API. In this order:

    * HTTP 5xx is ``network_error`` (``http_status`` kept), 429 ``blocked``;
    * HTTP 401 or 403 with JSON is ``token_refused`` (the Bearer token was used, stale or refused);
      without JSON, the firewall's page or any 403 is ``blocked`` (a client refused as not a browser);
    * ``status_code`` 13 (with HTTP 404, or 200) is ``not_found``; any other 404 or 410 ``page_moved``;
      any other 4xx a transient ``network_error`` quoting the API's message;
    * a non-empty ``data.novelty`` is ``cancelled`` with its text as the novedad (a death's stays
      "Cancelada por Muerte": the row reads it as deceased), "en actualización" a ``network_error``;
    * ``data.is_in_census`` true with state, town and stand is ``found`` (stand as puesto, table as
      mesa, address as direccion); ``data.voter.identification`` naming another number is
      ``parse_error``;
    * a captcha message is ``token_refused``; ``is_in_census`` false ``not_found``; ``status`` false a
      ``network_error``; anything else ``parse_error`` with a short masked excerpt.

    ``raw_html`` holds the body (a mapping is re-encoded). Never raises.
    """
    wanted = optional_text(cedula)
    status = as_http_status(http_status)
    if isinstance(payload, Mapping):
        raw = ""
        try:
            raw = json.dumps(payload, ensure_ascii=False, default=str)
            return with_server_error(_read(payload, raw, status, wanted), status)
        except Exception as exc:
            return unreadable(exc, raw, wanted)
    text = text_of(payload)
    if text is None:
        return not_text(payload)
    if too_large(text):
        return oversized_answer(text)
    try:
        return with_server_error(_parse(text, status, wanted), status)
    except Exception as exc:
        return unreadable(exc, text, wanted)
