"""Reading HTML with the standard library's :mod:`html.parser`: visible text, tables, class/id tokens.

One forgiving pass collects what the readers need from a page or fragment: its text, one line per
block element; its tables, cell by cell (``th``/``thead`` and ``data-th`` kept); and the class and
id tokens that block-page detection looks at. Nothing here knows the Registraduría's words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# This module is markup.py, not html.py, so that this import plainly reads as the standard library.
from html.parser import HTMLParser

from .bounds import MAX_ANSWER_BYTES, _text_of
from .vocabulary import _collapse

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
