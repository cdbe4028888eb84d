"""Source A: the answers of the "wsp" page's lookup POST.

:func:`parse_wsp_response` reads the body of the page's AJAX answer (normally JSON whose
``data.message`` is an HTML fragment); :func:`parse_wsp_message` reads that fragment alone (for
instance the rendered ``#success`` container). A stale form token raises :class:`ReloadRequested`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ...privacy import mask_numbers
from ...results import ScrapeResult, ScrapeStatus
from .markup import (
    MAX_TABLE_PARTS,
    DocumentReader,
    Table,
    as_http_status,
    excerpt,
    lines_text,
    load_json,
    not_text,
    optional_text,
    oversized_answer,
    parse_html,
    refused_answer,
    text_of,
    too_large,
    unreadable,
    visible_text,
    with_server_error,
)
from .vocabulary import (
    CAPTCHA_RE,
    CURL_RE,
    TIMED_OUT_RE,
    as_bool,
    canonical_header,
    classify_text,
    collapse,
    fold,
    from_record,
    make_result,
)


class ReloadRequested(Exception):
    """The wsp page answered ``{"success": false, "reload": true}``: its form token is stale.

    The page's own script reloads itself in this case, so the scraper should load the page
    again (fresh token, fresh captcha) and retry once. :attr:`result` is a transient
    ``network_error`` result to report when the retry budget is spent.
    """

    def __init__(self, result: ScrapeResult) -> None:
        super().__init__(result.error)
        self.result = result


def _table_records(table: Table) -> list[dict[str, str]]:
    """Each data row of ``table`` as ``{field: text}``, keyed by ``data-th`` or header text."""
    header: list[str | None] | None = None
    records: list[dict[str, str]] = []
    vertical: dict[str, str] = {}
    for row in table.rows:
        if not row:
            continue
        if all(cell.header for cell in row):
            if header is None:
                header = [canonical_header(cell.text) for cell in row]
            continue
        # A "label | value" row of a vertical table: <tr><th>NOVEDAD</th><td>...</td></tr>.
        if header is None and len(row) == 2 and row[0].header and not row[1].header:
            key = canonical_header(row[1].data_th or row[0].text)
            if key:
                vertical.setdefault(key, row[1].text)
            continue
        record: dict[str, str] = {}
        for index, cell in enumerate(row):
            if cell.data_th is not None:
                key = canonical_header(cell.data_th)
            elif cell.header:
                continue
            elif header is not None and len(header) == len(row):
                # The header cell above names the column; a row with a different cell count
                # (colspan, a message row) cannot be lined up safely.
                key = header[index]
            else:
                key = None
            if key and key not in record:
                record[key] = cell.text
        if record:
            records.append(record)
    if vertical:
        records.append(vertical)
    return records


def _parse_wsp_message(html: str, *, cedula: str | None = None) -> ScrapeResult:
    """See :func:`parse_wsp_message` (this one may raise)."""
    return _read_wsp_message(parse_html(html), html, cedula)


def _read_wsp_message(document: DocumentReader, html: str, cedula: str | None) -> ScrapeResult:
    """What :func:`_parse_wsp_message` makes of ``html``, read already as ``document``."""
    problem = ""
    # A table cut short by the bound on what a document keeps is not read: its missing rows could
    # say otherwise.
    whole = (table for table in document.tables if not table.cut)
    tables = sorted(whole, key=lambda table: table.element_id != "consulta")
    for table in tables:
        for record in _table_records(table):
            outcome = from_record(record, html, cedula)
            if isinstance(outcome, ScrapeResult):
                return outcome
            problem = problem or outcome
    if document.too_many_cells:
        # Nor are the words: tables beat text, and the tables of this answer were not all read.
        return make_result(
            ScrapeStatus.PARSE_ERROR, html, f"the answer has more than {MAX_TABLE_PARTS} table parts"
        )
    text = lines_text(document.text_parts)
    result = classify_text(text, html)
    if result is not None:
        return result
    if problem:
        return make_result(ScrapeStatus.PARSE_ERROR, html, problem)
    if not text:
        return make_result(ScrapeStatus.PARSE_ERROR, html, "the answer has no text")
    return make_result(ScrapeStatus.PARSE_ERROR, html, f"unrecognised answer: {excerpt(text, cedula)}")


def _status_note(http_status: int, content_type: str | None) -> str:
    note = f"HTTP {http_status}"
    if content_type and isinstance(content_type, str):
        note += f", {mask_numbers(collapse(content_type[:200].split(';')[0])[:60])}"
    return note


def _wsp_failure(message: str, raw: str, cedula: str | None) -> ScrapeResult:
    """Classify the message of a ``success: false`` answer."""
    text = visible_text(message)
    folded = fold(text)
    if CAPTCHA_RE.search(folded):
        # The scraper always posts a solved token: the site's captcha message refuses that token.
        return make_result(
            ScrapeStatus.TOKEN_REFUSED, raw, f"the site rejected the captcha: {excerpt(text, cedula)}"
        )
    if CURL_RE.search(folded) or TIMED_OUT_RE.search(folded):
        status = ScrapeStatus.TIMEOUT if TIMED_OUT_RE.search(folded) else ScrapeStatus.NETWORK_ERROR
        return make_result(status, raw, f"the site's upstream failed: {excerpt(text, cedula)}")
    # Unverified shapes: an ordinary answer sent with success=false.
    answer = _parse_wsp_message(message, cedula=cedula)
    if answer.status is not ScrapeStatus.PARSE_ERROR:
        return dataclasses.replace(answer, raw_html=raw)
    if not text:
        return make_result(ScrapeStatus.PARSE_ERROR, raw, "the site refused the lookup without a message")
    return make_result(ScrapeStatus.PARSE_ERROR, raw, f"the site refused the lookup: {excerpt(text, cedula)}")


def _wsp_message(payload: Mapping[str, Any]) -> str | None:
    data = payload.get("data")
    if isinstance(data, Mapping) and isinstance(data.get("message"), str):
        return str(data["message"])
    if isinstance(data, str):
        return data
    message = payload.get("message")
    return message if isinstance(message, str) else None


def _asks_for_reload(payload: object, http_status: int) -> bool:
    """Whether a decoded answer is ``{"success": false, "reload": true}`` (a 5xx or 429 is not)."""
    return (
        http_status < 500
        and http_status != 429
        and isinstance(payload, Mapping)
        and as_bool(payload.get("success")) is not True
        and bool(as_bool(payload.get("reload")))
    )


def wsp_asks_for_reload(body: object, *, http_status: object = 200) -> bool:
    """Whether :func:`parse_wsp_response` of the same arguments raises :class:`ReloadRequested`,
    decided from the JSON alone, without reading any HTML (the browser scraper asks this on its
    event loop, and reads the answer elsewhere). Never raises."""
    text = text_of(body)
    if text is None or too_large(text):
        return False
    try:
        is_json, payload = load_json(text.lstrip("\ufeff").strip())
        return is_json and _asks_for_reload(payload, as_http_status(http_status))
    except Exception:  # unreadable: parse_wsp_response says parse_error, not reload
        return False


def _parse_wsp_response(
    body: str,
    *,
    http_status: int = 200,
    content_type: str | None = None,
    cedula: str | None = None,
) -> ScrapeResult:
    """See :func:`parse_wsp_response` (this one may raise)."""
    text = body.lstrip("\ufeff").strip()
    if not text:
        if http_status >= 500:
            return make_result(
                ScrapeStatus.NETWORK_ERROR, body, f"the site answered HTTP {http_status} with no body"
            )
        if http_status == 429:
            return make_result(ScrapeStatus.BLOCKED, body, "the site answered HTTP 429 (too many requests)")
        return make_result(
            ScrapeStatus.PARSE_ERROR, body, f"empty answer ({_status_note(http_status, content_type)})"
        )
    is_json, payload = load_json(text)
    if not is_json:
        document = parse_html(text)  # read once, for the refusal and the answer
        failure = refused_answer(document, body, http_status, "site")
        if failure is not None:
            return failure
        answer = _read_wsp_message(document, text, cedula)
        if answer.status is ScrapeStatus.PARSE_ERROR:
            return make_result(
                ScrapeStatus.PARSE_ERROR,
                body,
                f"not a JSON answer ({_status_note(http_status, content_type)}): {answer.error}",
            )
        return dataclasses.replace(answer, raw_html=body)
    if http_status >= 500:
        return make_result(ScrapeStatus.NETWORK_ERROR, body, f"the site answered HTTP {http_status}")
    if http_status == 429:
        return make_result(ScrapeStatus.BLOCKED, body, "the site answered HTTP 429 (too many requests)")
    if not isinstance(payload, Mapping):
        return make_result(
            ScrapeStatus.PARSE_ERROR,
            body,
            f"JSON answer of unexpected shape ({type(payload).__name__}): {excerpt(text, cedula)}",
        )
    success = as_bool(payload.get("success"))
    message = _wsp_message(payload)
    if _asks_for_reload(payload, http_status):
        raise ReloadRequested(
            make_result(
                ScrapeStatus.NETWORK_ERROR,
                body,
                "the site asked for a page reload (stale or replayed form token)",
            )
        )
    if success is None:
        return make_result(
            ScrapeStatus.PARSE_ERROR, body, f"JSON answer without 'success': {excerpt(text, cedula)}"
        )
    if message is None:
        return make_result(
            ScrapeStatus.PARSE_ERROR, body, f"JSON answer without 'data.message': {excerpt(text, cedula)}"
        )
    if not success:
        return _wsp_failure(message, body, cedula)
    answer = _parse_wsp_message(message, cedula=cedula)
    return dataclasses.replace(answer, raw_html=body)


def parse_wsp_message(html: str, *, cedula: str | None = None) -> ScrapeResult:
    """Classify the HTML fragment the wsp page shows in its ``#success`` container.

    * An answer table (``table#consulta`` preferred) whose row has a non-empty NOVEDAD is
      ``cancelled`` with novedad, resolución and fecha as given; one with DEPARTAMENTO,
      MUNICIPIO and PUESTO is ``found`` (plus DIRECCIÓN and MESA).
    * Otherwise the text decides: "en actualización" is a transient ``network_error``, a
      known novedad wording ("Cancelada por Muerte", "no se encuentra habilitado para
      votar", ...) is ``cancelled``, "no se encuentra en el censo" is ``not_found``.
    * Anything else (a fragment over :data:`MAX_ANSWER_BYTES` included) is ``parse_error``.

    With ``cedula`` given, a table whose NUIP is another number is a ``parse_error`` (for
    instance a previous answer still on screen). The fragment is not checked for F5 block
    pages: those never reach ``#success``; :func:`parse_wsp_response` checks raw bodies.
    Never raises.
    """
    text = text_of(html)
    if text is None:
        return not_text(html)
    if too_large(text):
        return oversized_answer(text)
    wanted = optional_text(cedula)
    try:
        return _parse_wsp_message(text, cedula=wanted)
    except Exception as exc:
        return unreadable(exc, text, wanted)


def parse_wsp_response(
    body: str,
    *,
    http_status: int = 200,
    content_type: str | None = None,
    cedula: str | None = None,
) -> ScrapeResult:
    """Classify the body of the wsp page's answer to the lookup POST.

    Returns a :class:`ScrapeResult` whose ``raw_html`` is ``body`` as given:

    * ``{"success": true, "data": {"message": html}}``: see :func:`parse_wsp_message`
      (found / not_found / cancelled / transient "en actualización" / parse_error).
    * ``success: false`` with "Marque el cuadro de verificación o captcha": ``token_refused`` (the
      site refused the token posted; ``captcha_failed`` is kept for failures on our side);
      with "Curl error: ... timed out": ``timeout``; other "Curl error"s: ``network_error``.
    * A non-JSON page with the F5 block structure (see :func:`is_block_page`): ``blocked``;
      HTTP 429 also ``blocked``; HTTP >= 500: ``network_error``.
    * A non-JSON answer that is not a block page is read as an answer fragment, so the
      rendered ``#success`` HTML may be passed too.
    * Empty, garbage, oddly shaped or too deeply nested JSON, a body over
      :data:`MAX_ANSWER_BYTES`, anything unreadable: ``parse_error`` with a short masked
      excerpt.

    Raises :class:`ReloadRequested` for ``{"success": false, "reload": true}``, and nothing else.

    ``cedula`` (optional, the number looked up) is used to mask it in ``error`` texts and to
    reject an answer table about another number.
    """
    text = text_of(body)
    if text is None:
        return not_text(body)
    if too_large(text):
        return oversized_answer(text)
    wanted = optional_text(cedula)
    status = as_http_status(http_status)
    try:
        return with_server_error(
            _parse_wsp_response(
                text, http_status=status, content_type=optional_text(content_type), cedula=wanted
            ),
            status,
        )
    except ReloadRequested:
        raise
    except Exception as exc:
        return unreadable(exc, text, wanted)
