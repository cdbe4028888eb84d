"""What every reader of the Registraduría's answers uses: HTML, forms, block pages and the limits.

* The limits: how much of an answer is read (:data:`MAX_ANSWER_BYTES`, the JSON nesting the decoder
  can follow) and quoted (:data:`ERROR_EXCERPT_CHARS` of the site's text in an ``error``, masked),
  the coercion of arguments of the wrong type, and the ``parse_error`` results for an answer that is
  too large, not text, or unreadable: the readers are total, any input ends as a result.
* The HTML reader, on libxml2's HTML parser (through lxml) as a stream of events, so that no tree
  is built: one forgiving pass, in time linear in the markup's length whatever the markup, collects
  the text of a page or fragment (one line per block element), its tables cell by cell
  (``th``/``thead`` and ``data-th`` kept, at most :data:`MAX_TABLE_PARTS` of them) and whether a
  class or id token marks a block page. (The standard library's :mod:`html.parser` is quadratic on
  unclosed comments and keeps every repeated attribute: 1 MiB of either held a worker for minutes
  or hundreds of MiB.)
* Refusals rather than answers: the F5 firewall's block page, recognised by its structure (a
  ``blocked`` or ``authenticate`` class/id token, a "support ID" followed by a long number), never
  by words such as "blocked" in ordinary text; HTTP 403, 429 and 5xx.
* The lookup pages as an HTTP client gets them (:func:`read_form_page`): which element ids the page
  has (``#nuip``, ``#documento``), the reCAPTCHA widget's ``data-sitekey``, the value of the hidden
  ``#token`` input, and whether the page carries the block page's markers.

Nothing here knows a source's answer shapes: those are :mod:`.wsp`'s and :mod:`.consultacenso`'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lxml import etree

from ...privacy import mask_numbers
from ...results import ScrapeResult, ScrapeStatus
from .vocabulary import collapse, fold, make_result

#: How many characters of the site's own text an ``error`` may quote.
ERROR_EXCERPT_CHARS = 200

#: The largest answer body read, in bytes (UTF-8), and the most characters of a page's HTML read.
#: Real answers are a few KiB. Both scrapers cut the body inside the page (the page's script stops
#: reading after this many bytes and cancels the rest), so no more than this crosses into Python; a
#: longer answer ends as ``parse_error`` ("answer larger than N bytes"), and so does one handed to
#: the parsers directly.
MAX_ANSWER_BYTES = 1024 * 1024


def excerpt(text: str, cedula: str | None, limit: int = ERROR_EXCERPT_CHARS) -> str:
    """A short, masked, one-line quote of the site's text for an ``error`` message."""
    # Cut before masking (the text may be long), dropping a number the cut went through: masking
    # must see whole numbers, or a cut one could show more digits than a masked one does.
    head = limit * 4 + 40
    flat = collapse(text[:head].rstrip("0123456789.,") if text[head : head + 1].isdigit() else text[:head])
    flat = mask_numbers(flat[: limit + 40], cedula)
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return f'"{flat}"'


class _TooDeep(Exception):
    """JSON nested deeper than the reader follows."""


def load_json(body: str) -> tuple[bool, Any]:
    """``(True, value)`` for JSON, ``(False, None)`` otherwise; too deep a nesting raises."""
    try:
        return True, json.loads(body)
    except RecursionError:
        raise _TooDeep from None
    except ValueError:
        return False, None


def oversized_answer(raw: str = "", limit: int = MAX_ANSWER_BYTES) -> ScrapeResult:
    """The result for an answer longer than ``limit`` bytes (``raw``: the part that was read)."""
    return make_result(ScrapeStatus.PARSE_ERROR, raw[:limit], f"answer larger than {limit} bytes")


def text_of(value: object) -> str | None:
    """An answer body as text: bytes are decoded as UTF-8 (bad bytes replaced); other types are not text."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value[: MAX_ANSWER_BYTES + 1]).decode("utf-8", "replace")
    return None


def too_large(text: str) -> bool:
    """Whether ``text`` takes more than :data:`MAX_ANSWER_BYTES` bytes in UTF-8."""
    if len(text) > MAX_ANSWER_BYTES:
        return True
    # Only a text of more than a quarter of the limit can take more than the limit in UTF-8.
    return len(text) * 4 > MAX_ANSWER_BYTES and len(text.encode("utf-8", "surrogatepass")) > MAX_ANSWER_BYTES


def as_http_status(value: object) -> int:
    """An ``http_status`` argument as an ``int`` (``0`` for what is not a number)."""
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


def with_server_error(result: ScrapeResult, http_status: int) -> ScrapeResult:
    """``result`` marked with ``http_status`` when that is a server error (5xx): a chain of scrapers
    moves on to its next source after one, whatever status the answer was read as."""
    if http_status < 500 or result.http_status == http_status:
        return result
    return dataclasses.replace(result, http_status=http_status)


def optional_text(value: object) -> str | None:
    """An optional text argument: anything but a ``str`` is ``None``."""
    return value if isinstance(value, str) else None


def unreadable(exc: BaseException, raw: str, cedula: str | None) -> ScrapeResult:
    """What a reader's failure becomes: ``parse_error`` with a short masked excerpt of the answer."""
    raw = raw[:MAX_ANSWER_BYTES]
    what = "JSON nested too deep" if isinstance(exc, (_TooDeep, RecursionError)) else type(exc).__name__
    try:
        quoted = excerpt(raw, cedula) if raw.strip() else "(empty)"
    except Exception:  # pragma: no cover - the excerpt of a plain string does not fail
        quoted = "(no excerpt)"
    return make_result(ScrapeStatus.PARSE_ERROR, raw, f"unreadable answer ({what}): {quoted}")


def not_text(value: object) -> ScrapeResult:
    """The result for an answer that is neither ``str`` nor bytes."""
    return make_result(ScrapeStatus.PARSE_ERROR, "", f"the answer is not text ({type(value).__name__})")


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

#: The most tables, rows and cells (together) one document keeps. A real answer has one or two
#: tables of a few cells; without a bound, 1 MiB of ``<td>`` would keep a quarter of a million cell
#: objects. Past it no more are kept (:attr:`DocumentReader.too_many_cells`), and the tables still
#: open then are marked :attr:`Table.cut`: what they hold is not all they had. The tables closed
#: before it, and the document's text, are read as usual.
MAX_TABLE_PARTS = 10_000

# The firewall's block page marks an element with one of these class (or id) tokens.
_BLOCK_MARKERS = frozenset({"blocked", "authenticate"})
# A token of a class or id value, matched where it stands: splitting a 1 MiB attribute into
# its tokens would keep a list of them all.
_BLOCK_TOKEN_RE = re.compile(r"(?<!\S)(?:blocked|authenticate)(?!\S)")
_RECAPTCHA_TOKEN_RE = re.compile(r"(?<!\S)g-recaptcha(?!\S)")
_SURROGATES_RE = re.compile("[\ud800-\udfff]")


def _markup_bytes(html: str) -> bytes:
    """``html`` as the UTF-8 that :func:`_read_markup` feeds the parser: a lone surrogate (which
    UTF-8 cannot carry) becomes U+FFFD, as a browser decoding the same bytes would show it."""
    try:
        return html.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES_RE.sub("\ufffd", html).encode("utf-8")


_Target = TypeVar("_Target")


def _read_markup(html: str, target: _Target) -> _Target:
    """Feed ``html`` to libxml2's HTML parser with ``target`` receiving its events; return ``target``.

    ``target`` has lxml's parser-target methods: ``start(tag, attrib)``, ``end(tag)``,
    ``data(text)`` and ``close()`` (comments, processing instructions and the doctype are not
    passed on). The parser builds no tree and runs in time linear in the markup's length, whatever
    the markup (unclosed comments, a tag of 100,000 attributes, 200,000 open elements); the
    target's events come in document order, with the end tags HTML implies (an open ``td`` ends at
    the next ``td``, every element still open at the end of the text). Tag and attribute names
    come in lower case, entities decoded, the first of repeated attributes kept. The encoding is
    UTF-8 whatever a ``<meta charset>`` inside says: the text was decoded already. May raise what
    the target raises.
    """
    parser = etree.HTMLParser(target=target, encoding="utf-8", no_network=True)
    parser.feed(_markup_bytes(html))
    parser.close()
    return target


@dataclass(slots=True)
class Cell:
    header: bool
    data_th: str | None
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return collapse("".join(self.parts))


@dataclass
class Table:
    element_id: str
    rows: list[list[Cell]] = field(default_factory=list)
    in_head: bool = False
    #: Still open when the document reached :data:`MAX_TABLE_PARTS`: some of its rows are missing.
    cut: bool = False
    row: list[Cell] | None = None
    cell: Cell | None = None

    def close_cell(self) -> None:
        self.cell = None

    def close_row(self) -> None:
        self.cell = None
        if self.row is not None:
            self.rows.append(self.row)
        self.row = None

    def open_row(self) -> list[Cell]:
        self.close_row()
        self.row = []
        return self.row


class DocumentReader:
    """Collects the text, the tables and the block-page markers of an HTML document, as the
    parser target of :func:`_read_markup`.

    Deliberately forgiving: unmatched closing tags are ignored, cells close implicitly,
    and rows that turn up after a premature ``</table>`` go back to the table just closed.
    What it keeps is bounded by the markup's length, and its tables by :data:`MAX_TABLE_PARTS`.
    """

    def __init__(self) -> None:
        self.tables: list[Table] = []
        #: Whether an element carries a ``blocked`` or ``authenticate`` class or id token.
        self.block_marker = False
        #: More than :data:`MAX_TABLE_PARTS` tables, rows and cells: :attr:`tables` holds only the
        #: first ones, those still open then marked :attr:`Table.cut`.
        self.too_many_cells = False
        self.text_parts: list[str] = []
        self._open: list[Table] = []
        self._skip_depth = 0
        self._table_parts = 0

    def _count_table_part(self) -> bool:
        """Count one more table, row or cell; ``False`` (and :attr:`too_many_cells`) past the bound."""
        self._table_parts += 1
        if self._table_parts > MAX_TABLE_PARTS and not self.too_many_cells:
            self.too_many_cells = True
            for table in self._open:
                table.cut = True
        return not self.too_many_cells

    # The current table, reopening the last one for rows found outside any table.
    def _table_for_row(self) -> Table:
        if not self._open:
            if self.tables:
                self._open.append(self.tables[-1])
            else:
                table = Table(element_id="")
                self.tables.append(table)
                self._open.append(table)
        return self._open[-1]

    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        # lxml's empty attribute mapping is a Python-level Mapping: asking it is slower than the
        # parse itself when 200,000 bare tags come.
        if attrib and not self.block_marker:
            for name in ("class", "id"):
                value = attrib.get(name)
                if value and _BLOCK_TOKEN_RE.search(value.lower()):
                    self.block_marker = True
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
            return
        if tag in _TABLE_TAGS and not self.too_many_cells:
            self._start_table_part(tag, attrib)
        if tag in _BLOCK_TAGS:
            self._break()

    def _start_table_part(self, tag: str, attrib: Mapping[str, str]) -> None:
        if tag == "table":
            if self._count_table_part():
                table = Table(element_id=attrib.get("id", "").strip().lower() if attrib else "")
                self.tables.append(table)
                self._open.append(table)
        elif tag == "thead" and self._open:
            self._open[-1].in_head = True
        elif tag in ("tbody", "tfoot") and self._open:
            self._open[-1].in_head = False
        elif tag == "tr":
            if self._count_table_part():
                self._table_for_row().open_row()
        elif tag in ("td", "th") and self._count_table_part():
            table = self._table_for_row()
            row = table.row if table.row is not None else table.open_row()
            data_th = attrib.get("data-th") if attrib else None
            table.cell = Cell(header=tag == "th" or table.in_head, data_th=data_th)
            row.append(table.cell)

    def end(self, tag: str) -> None:
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

    def data(self, data: str) -> None:
        if self._skip_depth:
            return
        # Line breaks in the source are plain whitespace in HTML; lines come from block tags.
        if "\n" in data or "\r" in data:
            data = data.replace("\r", " ").replace("\n", " ")
        self.text_parts.append(data)
        if self._open and self._open[-1].cell is not None:
            self._open[-1].cell.parts.append(data)

    def _break(self) -> None:
        # Consecutive breaks make one (empty lines are dropped anyway): 200,000 nested ``div``
        # elements add one part, not 400,000.
        if not self.text_parts or self.text_parts[-1] != "\n":
            self.text_parts.append("\n")
        if self._open and self._open[-1].cell is not None:
            self._open[-1].cell.parts.append(" ")

    def close(self) -> DocumentReader:
        while self._open:
            self._open.pop().close_row()
        return self


_TABLE_TAGS = frozenset({"table", "thead", "tbody", "tfoot", "tr", "td", "th"})


def parse_html(html: str) -> DocumentReader:
    """``html`` read in one pass: its text parts, tables and block-page markers (may raise)."""
    return _read_markup(html, DocumentReader())


def lines_text(parts: Iterable[str]) -> str:
    """A document's text parts as lines, each collapsed, empty ones dropped."""
    lines = (collapse(line) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def visible_text(html: str) -> str:
    """What :func:`html_to_text` returns, for a reader that turns its own failures into results
    (this one may raise, and reads ``html`` whole)."""
    return lines_text(parse_html(html).text_parts)


def html_to_text(html: str) -> str:
    """The visible text of ``html``: one line per block element, whitespace collapsed.

    Entities are decoded, ``script``/``style`` contents dropped, inline markup such as
    ``<b>`` joins its text to its neighbours without a space. Reads the first
    :data:`MAX_ANSWER_BYTES` characters; never raises (``""`` for what cannot be read).
    """
    text = text_of(html)
    if text is None:
        return ""
    try:
        return visible_text(text[:MAX_ANSWER_BYTES])
    except Exception:
        return ""


# F5's rejection pages show "Your support ID is: <long number>".
_SUPPORT_ID_RE = re.compile(r"\bsupport\s*id\b[^0-9]{0,20}\d{6,}")


def _is_block_document(document: DocumentReader) -> bool:
    if document.block_marker:
        return True
    return bool(_SUPPORT_ID_RE.search(fold(collapse("".join(document.text_parts)))))


def non_json_answer(body: str, raw: str, http_status: int, source: str) -> ScrapeResult | None:
    """Block pages and HTTP failures among answers that are not JSON; ``None`` if neither."""
    return refused_answer(parse_html(body), raw, http_status, source)


def refused_answer(document: DocumentReader, raw: str, http_status: int, source: str) -> ScrapeResult | None:
    """:func:`non_json_answer` for a body read already."""
    if _is_block_document(document):
        return make_result(ScrapeStatus.BLOCKED, raw, f"the {source} answered with the firewall's block page")
    if http_status >= 500:
        return make_result(ScrapeStatus.NETWORK_ERROR, raw, f"the {source} answered HTTP {http_status}")
    if http_status == 429:
        return make_result(ScrapeStatus.BLOCKED, raw, f"the {source} answered HTTP 429 (too many requests)")
    if http_status == 403:
        # A firewall refusing the client (another Registraduría page answers plain clients so).
        return make_result(ScrapeStatus.BLOCKED, raw, f"the {source} answered HTTP 403 (forbidden)")
    return None


def is_block_page(html: str) -> bool:
    """Whether ``html`` is the F5 firewall's block page rather than an answer.

    Decided by structure: an element whose ``class`` (or ``id``) token is ``blocked`` or
    ``authenticate``, or a "support ID" followed by a long number. Words such as "blocked"
    or "challenge" in ordinary text do not count. Reads the first :data:`MAX_ANSWER_BYTES`
    characters; never raises (what cannot be read is not a block page).
    """
    text = text_of(html)
    if text is None:
        return False
    try:
        return _is_block_document(parse_html(text[:MAX_ANSWER_BYTES]))
    except Exception:
        return False


@dataclasses.dataclass(frozen=True)
class FormPage:
    """What a lookup page offers: element ids, the site key, the hidden token, a block page or not."""

    ids: frozenset[str] = frozenset()
    #: ``data-sitekey`` of the first ``.g-recaptcha`` element (``""``: none).
    site_key: str = ""
    #: The ``value`` of ``input#token`` (Source A's per-load form token; ``""``: none).
    token: str = ""
    #: An element with a ``blocked`` or ``authenticate`` class or id: the firewall's block page's
    #: markers, as the browser scrapers look for them (``.blocked, .authenticate``). Whether a page
    #: without the form is a block page is :func:`is_block_page`'s to say.
    blocked: bool = False

    def has(self, element_id: str) -> bool:
        return element_id in self.ids


class _FormReader:
    """The parser target of :func:`read_form_page`."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.site_key = ""
        self.token = ""
        self.blocked = False

    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        if not attrib:  # all it looks for are attributes (see DocumentReader.start for why ask)
            return
        element_id = attrib.get("id", "").strip()
        classes = attrib.get("class", "")
        # As the browser scrapers' selector ``.blocked, .authenticate`` matches: case and all.
        if not self.blocked and (element_id in _BLOCK_MARKERS or _BLOCK_TOKEN_RE.search(classes)):
            self.blocked = True
        if element_id:
            self.ids.add(element_id)
        if not self.site_key and _RECAPTCHA_TOKEN_RE.search(classes):
            self.site_key = attrib.get("data-sitekey", "").strip()
        if tag == "input" and element_id == "token" and not self.token:
            self.token = attrib.get("value", "").strip()

    def end(self, tag: str) -> None:
        pass

    def data(self, data: str) -> None:
        pass

    def close(self) -> None:
        pass


def read_form_page(html: object) -> FormPage:
    """What ``html`` (the first :data:`MAX_ANSWER_BYTES` characters) offers a lookup; never raises."""
    text = text_of(html)
    if text is None:
        return FormPage()
    text = text[:MAX_ANSWER_BYTES]
    reader = _FormReader()
    # A reader of untrusted markup does not fail; what it read so far stands.
    with contextlib.suppress(Exception):
        _read_markup(text, reader)
    return FormPage(frozenset(reader.ids), reader.site_key, reader.token, reader.blocked)
