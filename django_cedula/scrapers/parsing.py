"""Turn what the Registraduría answers into a :class:`~django_cedula.results.ScrapeResult`.

This module is the browser-free half of the scrapers: it never touches the network, a
browser or Django, and uses the standard library only, so every answer shape can be
tested with plain strings.

Source A ("wsp" page)
    :func:`parse_wsp_response` reads the body of the page's AJAX answer (normally JSON
    whose ``data.message`` is an HTML fragment). When the site asks for a page reload
    (stale form token) it raises :class:`ReloadRequested` instead of returning: the
    scraper must load the page again and retry once, and can report
    :attr:`ReloadRequested.result` when it gives up. :func:`parse_wsp_message` reads the
    HTML fragment alone (for instance the rendered ``#success`` container).

Source B ("consultacenso" app)
    :func:`parse_consultacenso_response` reads the JSON of ``POST /back/api/consulta``.

Classification principles:

* Answer tables are read by header text or ``data-th``, never by column position.
* A table beats free text: the notices that follow a found answer may use words that
  would otherwise look like a novedad or a "not in census" sentence.
* F5 block pages are recognised by their structure (class/id attributes, a support ID
  number), never by words such as "blocked" in ordinary text.
* ``error`` texts are short, in English, and never carry a full cédula: digit runs that
  could be one are masked. ``raw_html`` holds the body as received (up to
  :data:`MAX_ANSWER_BYTES`); bounding what gets stored is the caller's business.
* Total: the public parse functions return a :class:`ScrapeResult` for any input (deep
  nesting, huge or binary bodies, NUL bytes, wrong types anywhere in the JSON, absurd
  markup); whatever cannot be read is ``parse_error`` with a short masked excerpt. The one
  exception is deliberate: :func:`parse_wsp_response` raises :class:`ReloadRequested`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from ..privacy import mask_cedula, mask_numbers
from ..results import ScrapeResult, ScrapeStatus, is_death_novedad

__all__ = [
    "ERROR_EXCERPT_CHARS",
    "MAX_ANSWER_BYTES",
    "ReloadRequested",
    "html_to_text",
    "is_block_page",
    "is_death_novedad",
    "oversized_answer",
    "parse_consultacenso_response",
    "parse_wsp_message",
    "parse_wsp_response",
]

#: How many characters of the site's own text an ``error`` may quote.
ERROR_EXCERPT_CHARS = 200

#: The largest answer body read, in bytes (UTF-8), and the most characters of a page's HTML read.
#: Real answers are a few KiB. Both scrapers cut the body inside the page (the page's script stops
#: reading after this many bytes and cancels the rest), so no more than this crosses into Python; a
#: longer answer ends as ``parse_error`` ("answer larger than N bytes"), and so does one handed to
#: the parsers directly.
MAX_ANSWER_BYTES = 1024 * 1024


class ReloadRequested(Exception):
    """The wsp page answered ``{"success": false, "reload": true}``: its form token is stale.

    The page's own script reloads itself in this case, so the scraper should load the page
    again (fresh token, fresh captcha) and retry once. :attr:`result` is a transient
    ``network_error`` result to report when the retry budget is spent.
    """

    def __init__(self, result: ScrapeResult) -> None:
        super().__init__(result.error)
        self.result = result


# --------------------------------------------------------------------------- text helpers


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


def _excerpt(text: str, cedula: str | None, limit: int = ERROR_EXCERPT_CHARS) -> str:
    """A short, masked, one-line quote of the site's text for an ``error`` message."""
    # Cut before masking (the text may be long), dropping a number the cut went through: masking
    # must see whole numbers, or a cut one could show more digits than a masked one does.
    head = limit * 4 + 40
    flat = _collapse(text[:head].rstrip("0123456789.,") if text[head : head + 1].isdigit() else text[:head])
    flat = mask_numbers(flat[: limit + 40], cedula)
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return f'"{flat}"'


# --------------------------------------------------------------------------- HTML reading

_SKIP_TAGS = frozenset({"script", "style", "template"})
# Elements that start a new line of text; inline ones (b, span, a, ...) do not, so that
# "<b>12</b>" inside a cell stays "12".
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td",
        "tfoot", "th", "thead", "title", "tr", "ul",
    }
)  # fmt: skip


@dataclass
class _Cell:
    header: bool
    data_th: str | None
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return _collapse("".join(self.parts))


@dataclass
class _Table:
    element_id: str
    rows: list[list[_Cell]] = field(default_factory=list)
    in_head: bool = False
    row: list[_Cell] | None = None
    cell: _Cell | None = None

    def close_cell(self) -> None:
        self.cell = None

    def close_row(self) -> None:
        self.cell = None
        if self.row is not None:
            self.rows.append(self.row)
        self.row = None

    def open_row(self) -> list[_Cell]:
        self.close_row()
        self.row = []
        return self.row


class _DocumentParser(HTMLParser):
    """Collects the text, the tables and the class/id tokens of an HTML document.

    Deliberately forgiving: unmatched closing tags are ignored, cells close implicitly,
    and rows that turn up after a premature ``</table>`` go back to the table just closed.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[_Table] = []
        self.markers: set[str] = set()
        self.text_parts: list[str] = []
        self._open: list[_Table] = []
        self._skip_depth = 0

    # The current table, reopening the last one for rows found outside any table.
    def _table_for_row(self) -> _Table:
        if not self._open:
            if self.tables:
                self._open.append(self.tables[-1])
            else:
                table = _Table(element_id="")
                self.tables.append(table)
                self._open.append(table)
        return self._open[-1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name.lower(): value or "" for name, value in attrs}
        for name in ("class", "id"):
            self.markers.update(token.lower() for token in attributes.get(name, "").split())
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
            return
        if tag == "table":
            table = _Table(element_id=attributes.get("id", "").strip().lower())
            self.tables.append(table)
            self._open.append(table)
        elif tag == "thead" and self._open:
            self._open[-1].in_head = True
        elif tag in ("tbody", "tfoot") and self._open:
            self._open[-1].in_head = False
        elif tag == "tr":
            self._table_for_row().open_row()
        elif tag in ("td", "th"):
            table = self._table_for_row()
            row = table.row if table.row is not None else table.open_row()
            data_th = attributes.get("data-th")
            table.cell = _Cell(header=tag == "th" or table.in_head, data_th=data_th)
            row.append(table.cell)
        if tag in _BLOCK_TAGS:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if tag == "table":
            if self._open:
                self._open.pop().close_row()
        elif tag == "thead" and self._open:
            self._open[-1].in_head = False
        elif tag == "tr" and self._open:
            self._open[-1].close_row()
        elif tag in ("td", "th") and self._open:
            self._open[-1].close_cell()
        if tag in _BLOCK_TAGS:
            self._break()

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        # Line breaks in the source are plain whitespace in HTML; lines come from block tags.
        data = data.replace("\r", " ").replace("\n", " ")
        self.text_parts.append(data)
        if self._open and self._open[-1].cell is not None:
            self._open[-1].cell.parts.append(data)

    def _break(self) -> None:
        self.text_parts.append("\n")
        if self._open and self._open[-1].cell is not None:
            self._open[-1].cell.parts.append(" ")

    def finish(self) -> _DocumentParser:
        self.close()
        while self._open:
            self._open.pop().close_row()
        return self


def _parse_html(html: str) -> _DocumentParser:
    parser = _DocumentParser()
    parser.feed(html)
    return parser.finish()


def _lines_text(parts: Iterable[str]) -> str:
    lines = (_collapse(line) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _html_to_text(html: str) -> str:
    return _lines_text(_parse_html(html).text_parts)


# F5's rejection pages show "Your support ID is: <long number>".
_SUPPORT_ID_RE = re.compile(r"\bsupport\s*id\b[^0-9]{0,20}\d{6,}")
_BLOCK_MARKERS = frozenset({"blocked", "authenticate"})


def _is_block_document(document: _DocumentParser) -> bool:
    if document.markers & _BLOCK_MARKERS:
        return True
    return bool(_SUPPORT_ID_RE.search(_fold(_collapse("".join(document.text_parts)))))


# --------------------------------------------------------------------------- vocabulary

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


# --------------------------------------------------------------------------- result helpers


def _result(status: ScrapeStatus, raw: str, error: str = "", **values: str) -> ScrapeResult:
    return ScrapeResult(status=status, error=error, raw_html=raw, **values)


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


def _table_records(table: _Table) -> list[dict[str, str]]:
    """Each data row of ``table`` as ``{field: text}``, keyed by ``data-th`` or header text."""
    header: list[str | None] | None = None
    records: list[dict[str, str]] = []
    vertical: dict[str, str] = {}
    for row in table.rows:
        if not row:
            continue
        if all(cell.header for cell in row):
            if header is None:
                header = [_canonical_header(cell.text) for cell in row]
            continue
        # A "label | value" row of a vertical table: <tr><th>NOVEDAD</th><td>...</td></tr>.
        if header is None and len(row) == 2 and row[0].header and not row[1].header:
            key = _canonical_header(row[1].data_th or row[0].text)
            if key:
                vertical.setdefault(key, row[1].text)
            continue
        record: dict[str, str] = {}
        for index, cell in enumerate(row):
            if cell.data_th is not None:
                key = _canonical_header(cell.data_th)
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
    document = _parse_html(html)
    problem = ""
    tables = sorted(document.tables, key=lambda table: table.element_id != "consulta")
    for table in tables:
        for record in _table_records(table):
            outcome = _from_record(record, html, cedula)
            if isinstance(outcome, ScrapeResult):
                return outcome
            problem = problem or outcome
    text = _lines_text(document.text_parts)
    result = _classify_text(text, html)
    if result is not None:
        return result
    if problem:
        return _result(ScrapeStatus.PARSE_ERROR, html, problem)
    if not text:
        return _result(ScrapeStatus.PARSE_ERROR, html, "the answer has no text")
    return _result(ScrapeStatus.PARSE_ERROR, html, f"unrecognised answer: {_excerpt(text, cedula)}")


# --------------------------------------------------------------------------- Source A


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


class _TooDeep(Exception):
    """JSON nested deeper than the reader follows."""


def _load_json(body: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(body)
    except RecursionError:
        raise _TooDeep from None
    except ValueError:
        return False, None


def _status_note(http_status: int, content_type: str | None) -> str:
    note = f"HTTP {http_status}"
    if content_type and isinstance(content_type, str):
        note += f", {mask_numbers(_collapse(content_type[:200].split(';')[0])[:60])}"
    return note


def _non_json_answer(body: str, raw: str, http_status: int, source: str) -> ScrapeResult | None:
    """Block pages and HTTP failures among answers that are not JSON; ``None`` if neither."""
    document = _parse_html(body)
    if _is_block_document(document):
        return _result(ScrapeStatus.BLOCKED, raw, f"the {source} answered with the firewall's block page")
    if http_status >= 500:
        return _result(ScrapeStatus.NETWORK_ERROR, raw, f"the {source} answered HTTP {http_status}")
    if http_status == 429:
        return _result(ScrapeStatus.BLOCKED, raw, f"the {source} answered HTTP 429 (too many requests)")
    return None


def _wsp_failure(message: str, raw: str, cedula: str | None) -> ScrapeResult:
    """Classify the message of a ``success: false`` answer."""
    text = _html_to_text(message)
    folded = _fold(text)
    if _CAPTCHA_RE.search(folded):
        return _result(
            ScrapeStatus.CAPTCHA_FAILED, raw, f"the site rejected the captcha: {_excerpt(text, cedula)}"
        )
    if _CURL_RE.search(folded) or _TIMED_OUT_RE.search(folded):
        status = ScrapeStatus.TIMEOUT if _TIMED_OUT_RE.search(folded) else ScrapeStatus.NETWORK_ERROR
        return _result(status, raw, f"the site's upstream failed: {_excerpt(text, cedula)}")
    # Unverified shapes: an ordinary answer sent with success=false.
    answer = _parse_wsp_message(message, cedula=cedula)
    if answer.status is not ScrapeStatus.PARSE_ERROR:
        return dataclasses.replace(answer, raw_html=raw)
    if not text:
        return _result(ScrapeStatus.PARSE_ERROR, raw, "the site refused the lookup without a message")
    return _result(ScrapeStatus.PARSE_ERROR, raw, f"the site refused the lookup: {_excerpt(text, cedula)}")


def _wsp_message(payload: Mapping[str, Any]) -> str | None:
    data = payload.get("data")
    if isinstance(data, Mapping) and isinstance(data.get("message"), str):
        return str(data["message"])
    if isinstance(data, str):
        return data
    message = payload.get("message")
    return message if isinstance(message, str) else None


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
            return _result(
                ScrapeStatus.NETWORK_ERROR, body, f"the site answered HTTP {http_status} with no body"
            )
        if http_status == 429:
            return _result(ScrapeStatus.BLOCKED, body, "the site answered HTTP 429 (too many requests)")
        return _result(
            ScrapeStatus.PARSE_ERROR, body, f"empty answer ({_status_note(http_status, content_type)})"
        )
    is_json, payload = _load_json(text)
    if not is_json:
        failure = _non_json_answer(text, body, http_status, "site")
        if failure is not None:
            return failure
        answer = _parse_wsp_message(text, cedula=cedula)
        if answer.status is ScrapeStatus.PARSE_ERROR:
            return _result(
                ScrapeStatus.PARSE_ERROR,
                body,
                f"not a JSON answer ({_status_note(http_status, content_type)}): {answer.error}",
            )
        return dataclasses.replace(answer, raw_html=body)
    if http_status >= 500:
        return _result(ScrapeStatus.NETWORK_ERROR, body, f"the site answered HTTP {http_status}")
    if http_status == 429:
        return _result(ScrapeStatus.BLOCKED, body, "the site answered HTTP 429 (too many requests)")
    if not isinstance(payload, Mapping):
        return _result(
            ScrapeStatus.PARSE_ERROR,
            body,
            f"JSON answer of unexpected shape ({type(payload).__name__}): {_excerpt(text, cedula)}",
        )
    success = _as_bool(payload.get("success"))
    message = _wsp_message(payload)
    if success is not True and _as_bool(payload.get("reload")):
        raise ReloadRequested(
            _result(
                ScrapeStatus.NETWORK_ERROR,
                body,
                "the site asked for a page reload (stale or replayed form token)",
            )
        )
    if success is None:
        return _result(
            ScrapeStatus.PARSE_ERROR, body, f"JSON answer without 'success': {_excerpt(text, cedula)}"
        )
    if message is None:
        return _result(
            ScrapeStatus.PARSE_ERROR, body, f"JSON answer without 'data.message': {_excerpt(text, cedula)}"
        )
    if not success:
        return _wsp_failure(message, body, cedula)
    answer = _parse_wsp_message(message, cedula=cedula)
    return dataclasses.replace(answer, raw_html=body)


# --------------------------------------------------------------------------- Source B

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
            text = _clean(source.get(key))
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
        is_json, decoded = _load_json(text) if text else (False, None)
        if not is_json:
            failure = _non_json_answer(text, raw, http_status, "census app")
            if failure is not None:
                return failure
            if not text:
                return _result(ScrapeStatus.PARSE_ERROR, raw, f"empty answer (HTTP {http_status})")
            return _result(
                ScrapeStatus.PARSE_ERROR,
                raw,
                f"not a JSON answer (HTTP {http_status}): {_excerpt(_html_to_text(text) or text, cedula)}",
            )
    else:
        decoded = payload
        raw = json.dumps(payload, ensure_ascii=False, default=str)
    if http_status >= 500:
        # The app relays its own upstream's timeout ("Curl error: ... timed out") as a 502.
        said_5xx = _fold(_as_text(_lower_keys(decoded).get("error"))) if isinstance(decoded, Mapping) else ""
        if _TIMED_OUT_RE.search(said_5xx):
            return _result(ScrapeStatus.TIMEOUT, raw, f"the census app timed out (HTTP {http_status})")
        return _result(ScrapeStatus.NETWORK_ERROR, raw, f"the census app answered HTTP {http_status}")
    if http_status == 429:
        return _result(ScrapeStatus.BLOCKED, raw, "the census app answered HTTP 429 (too many requests)")
    if not isinstance(decoded, Mapping):
        return _result(
            ScrapeStatus.PARSE_ERROR,
            raw,
            f"JSON answer of unexpected shape ({type(decoded).__name__}): {_excerpt(raw, cedula)}",
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
        _pick((novedad_source,), _B_NOVEDAD_KEYS["novedad"]) if novedad_source else _clean(novedad_value)
    )
    record["resolucion"] = _pick(sources, _B_NOVEDAD_KEYS["resolucion"])
    record["fecha_novedad"] = _pick(sources, _B_NOVEDAD_KEYS["fecha_novedad"])

    ok = _as_bool(top.get("ok"))
    found = _as_bool(top.get("encontrado"))
    error_text = _collapse(_as_text(top.get("error")))
    message_text = _collapse(_as_text(top.get("mensaje", top.get("message"))))
    said = _fold(f"{error_text} {message_text}")

    problem = _record_problem(record, cedula)
    if problem:
        return _result(ScrapeStatus.PARSE_ERROR, raw, problem)
    # A real answer wins over whatever "mensaje" adds (it may mention the captcha in passing),
    # unless the app itself says the request failed.
    if ok is not False:
        if record["novedad"]:
            outcome = _from_record(record, raw, cedula)
            if isinstance(outcome, ScrapeResult):
                return outcome
        # Trust "encontrado" when present; without it, complete data under ok=true is an answer.
        if (found or (found is None and ok)) and all(record[name] for name in _REQUIRED_PLACE_FIELDS):
            return _result(ScrapeStatus.FOUND, raw, **{name: record[name] for name in _PLACE_FIELDS})
    if _CAPTCHA_RE.search(said):
        return _result(
            ScrapeStatus.CAPTCHA_FAILED,
            raw,
            f"the census app rejected the captcha: {_excerpt(error_text or message_text, cedula)}",
        )
    if _TIMED_OUT_RE.search(said):
        return _result(
            ScrapeStatus.TIMEOUT,
            raw,
            f"the census app timed out: {_excerpt(error_text or message_text, cedula)}",
        )
    # Unverified: the reason may come as a sentence in "mensaje".
    worded = _classify_text(message_text, raw) if message_text else None
    if worded is not None:
        return worded
    if ok is False or error_text:
        detail = error_text or message_text
        return _result(
            ScrapeStatus.NETWORK_ERROR,
            raw,
            f"the census app reported an error: {_excerpt(detail, cedula)}"
            if detail
            else "the census app answered ok=false without a message",
        )
    if found is False:
        return _result(ScrapeStatus.NOT_FOUND, raw)
    if found:
        missing = ", ".join(name for name in _REQUIRED_PLACE_FIELDS if not record[name])
        return _result(ScrapeStatus.PARSE_ERROR, raw, f"'encontrado' is true but the data lacks {missing}")
    return _result(ScrapeStatus.PARSE_ERROR, raw, f"unrecognised JSON answer: {_excerpt(raw, cedula)}")


# --------------------------------------------------------------------------- the public, total readers


def oversized_answer(raw: str = "", limit: int = MAX_ANSWER_BYTES) -> ScrapeResult:
    """The result for an answer longer than ``limit`` bytes (``raw``: the part that was read)."""
    return _result(ScrapeStatus.PARSE_ERROR, raw[:limit], f"answer larger than {limit} bytes")


def _text_of(value: object) -> str | None:
    """An answer body as text: bytes are decoded as UTF-8 (bad bytes replaced); other types are not text."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value[: MAX_ANSWER_BYTES + 1]).decode("utf-8", "replace")
    return None


def _too_large(text: str) -> bool:
    if len(text) > MAX_ANSWER_BYTES:
        return True
    # Only a text of more than a quarter of the limit can take more than the limit in UTF-8.
    return len(text) * 4 > MAX_ANSWER_BYTES and len(text.encode("utf-8", "surrogatepass")) > MAX_ANSWER_BYTES


def _http_status(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, (float, str)):
        try:
            return int(value)
        except (ValueError, OverflowError):
            return 0
    return 0


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _unreadable(exc: BaseException, raw: str, cedula: str | None) -> ScrapeResult:
    """What a reader's failure becomes: ``parse_error`` with a short masked excerpt of the answer."""
    raw = raw[:MAX_ANSWER_BYTES]
    what = "JSON nested too deep" if isinstance(exc, (_TooDeep, RecursionError)) else type(exc).__name__
    try:
        excerpt = _excerpt(raw, cedula) if raw.strip() else "(empty)"
    except Exception:  # pragma: no cover - the excerpt of a plain string does not fail
        excerpt = "(no excerpt)"
    return _result(ScrapeStatus.PARSE_ERROR, raw, f"unreadable answer ({what}): {excerpt}")


def _not_text(value: object) -> ScrapeResult:
    return _result(ScrapeStatus.PARSE_ERROR, "", f"the answer is not text ({type(value).__name__})")


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
    text = _text_of(html)
    if text is None:
        return _not_text(html)
    if _too_large(text):
        return oversized_answer(text)
    wanted = _optional_text(cedula)
    try:
        return _parse_wsp_message(text, cedula=wanted)
    except Exception as exc:
        return _unreadable(exc, text, wanted)


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
    * ``success: false`` with "Marque el cuadro de verificación o captcha": ``captcha_failed``;
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
    text = _text_of(body)
    if text is None:
        return _not_text(body)
    if _too_large(text):
        return oversized_answer(text)
    wanted = _optional_text(cedula)
    try:
        return _parse_wsp_response(
            text,
            http_status=_http_status(http_status),
            content_type=_optional_text(content_type),
            cedula=wanted,
        )
    except ReloadRequested:
        raise
    except Exception as exc:
        return _unreadable(exc, text, wanted)


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
    * ``error``/``mensaje`` about the captcha is ``captcha_failed``, about a timeout ``timeout``;
    * ``mensaje`` with a novedad wording is ``cancelled``, with "no se encuentra en el censo"
      ``not_found``;
    * ``ok: false`` or an ``error`` otherwise is a transient ``network_error``;
    * ``encontrado: false`` is ``not_found``;
    * an HTML block page is ``blocked``, HTTP 429 ``blocked``, HTTP >= 500 ``network_error``;
    * a body over :data:`MAX_ANSWER_BYTES`, JSON nested too deep and anything else that cannot
      be read is ``parse_error`` with a short masked excerpt. ``raw_html`` holds the body (a
      mapping is re-encoded). Never raises.
    """
    wanted = _optional_text(cedula)
    status = _http_status(http_status)
    if isinstance(payload, Mapping):
        try:
            return _parse_consultacenso_response(payload, http_status=status, cedula=wanted)
        except Exception as exc:
            return _unreadable(exc, "", wanted)
    text = _text_of(payload)
    if text is None:
        return _not_text(payload)
    if _too_large(text):
        return oversized_answer(text)
    try:
        return _parse_consultacenso_response(text, http_status=status, cedula=wanted)
    except Exception as exc:
        return _unreadable(exc, text, wanted)


def is_block_page(html: str) -> bool:
    """Whether ``html`` is the F5 firewall's block page rather than an answer.

    Decided by structure: an element whose ``class`` (or ``id``) token is ``blocked`` or
    ``authenticate``, or a "support ID" followed by a long number. Words such as "blocked"
    or "challenge" in ordinary text do not count. Reads the first :data:`MAX_ANSWER_BYTES`
    characters; never raises (what cannot be read is not a block page).
    """
    text = _text_of(html)
    if text is None:
        return False
    try:
        return _is_block_document(_parse_html(text[:MAX_ANSWER_BYTES]))
    except Exception:
        return False


def html_to_text(html: str) -> str:
    """The visible text of ``html``: one line per block element, whitespace collapsed.

    Entities are decoded, ``script``/``style`` contents dropped, inline markup such as
    ``<b>`` joins its text to its neighbours without a space. Reads the first
    :data:`MAX_ANSWER_BYTES` characters; never raises (``""`` for what cannot be read).
    """
    text = _text_of(html)
    if text is None:
        return ""
    try:
        return _html_to_text(text[:MAX_ANSWER_BYTES])
    except Exception:
        return ""
