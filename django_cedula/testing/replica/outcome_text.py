"""The outcome table as the replica's command line and the documentation show it.

One source, :func:`~.outcomes.outcome_table_markdown` (itself built from :data:`~.outcomes.OUTCOMES`),
rendered three ways:

* :func:`outcome_lines`: ``number  outcome`` lines, for ``--help`` and the start-up banner;
* :func:`outcome_simple_table_rst`: the same two columns as a reStructuredText simple table, which
  ``docs/installation.rst`` carries verbatim (it reads as a plain table in any viewer);
* :func:`outcome_list_table_rst`: every column as a ``list-table``, which ``docs/scraper.rst``
  carries verbatim.

The documentation holds the rendered text between ``.. replica-outcomes-start`` and
``.. replica-outcomes-end`` comments; ``tests/replica/test_outcome_table_docs.py`` (and the Sphinx
build) fail when it differs from what these functions give, and
``python -m django_cedula.testing.replica.outcome_text docs --write`` rewrites it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .outcomes import outcome_table_markdown

__all__ = [
    "DOC_FILES",
    "END_MARKER",
    "START_MARKER",
    "check_docs",
    "doc_block",
    "outcome_lines",
    "outcome_list_table_rst",
    "outcome_rows",
    "outcome_simple_table_rst",
    "replace_doc_block",
]

#: The comments around the rendered table in a documentation file.
START_MARKER = ".. replica-outcomes-start"
END_MARKER = ".. replica-outcomes-end"


def outcome_rows() -> list[tuple[str, str, str]]:
    """``(number, outcome, what the replica does)`` for every row, ``any other`` last."""
    rows = []
    for line in outcome_table_markdown().splitlines()[2:]:
        number, outcome, summary = (cell.strip() for cell in line.strip().strip("|").split("|", 2))
        rows.append((number, outcome, summary))
    return rows


def outcome_lines(indent: str = "  ") -> list[str]:
    """One ``number  outcome`` line per row (``any other`` last), each starting with ``indent``."""
    width = max(len(number) for number, _, _ in outcome_rows())
    return [f"{indent}{number:<{width}}  {outcome}" for number, outcome, _ in outcome_rows()]


def outcome_simple_table_rst() -> str:
    """Number and outcome as a reStructuredText simple table (no trailing newline)."""
    rows = [("Number", "Outcome"), *((number, outcome) for number, outcome, _ in outcome_rows())]
    widths = [max(len(row[column]) for row in rows) for column in (0, 1)]
    rule = "  ".join("=" * width for width in widths)
    body = [f"{number:<{widths[0]}}  {outcome}".rstrip() for number, outcome in rows]
    return "\n".join([rule, body[0], rule, *body[1:], rule])


def _escape(cell: str) -> str:
    return cell.replace("\\", "\\\\").replace("*", "\\*").replace("`", "\\`").replace("|", "\\|")


def outcome_list_table_rst() -> str:
    """Every column as a reStructuredText ``list-table`` (no trailing newline)."""
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [("Number", "Outcome", "What the replica does"), *outcome_rows()]:
        lines.append("   * - " + _escape(row[0]))
        lines.extend("     - " + _escape(cell) for cell in row[1:])
    return "\n".join(lines)


#: The documentation files that carry the table, and how each renders it (paths under ``docs/``).
DOC_FILES = {
    "installation.rst": outcome_simple_table_rst,
    "scraper.rst": outcome_list_table_rst,
}


def doc_block(text: str) -> str:
    """The text between the markers in ``text``, without the blank lines around it."""
    start = text.index(START_MARKER) + len(START_MARKER)
    end = text.index(END_MARKER, start)
    return text[start:end].strip("\n")


def replace_doc_block(text: str, block: str) -> str:
    """``text`` with the part between the markers replaced by ``block``."""
    start = text.index(START_MARKER) + len(START_MARKER)
    end = text.index(END_MARKER, start)
    return f"{text[:start]}\n\n{block}\n\n{text[end:]}"


def check_docs(docs: Path) -> list[str]:
    """The documentation files under ``docs`` whose table differs from the replica's (empty: none)."""
    stale = []
    for name, render in DOC_FILES.items():
        text = (docs / name).read_text(encoding="utf-8")
        if START_MARKER not in text or END_MARKER not in text or doc_block(text) != render():
            stale.append(name)
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m django_cedula.testing.replica.outcome_text",
        description="Check (or rewrite) the replica's outcome table in the documentation.",
    )
    parser.add_argument("docs", type=Path, help="the documentation folder (docs/)")
    parser.add_argument("--write", action="store_true", help="rewrite the tables that differ")
    args = parser.parse_args(argv)
    stale = check_docs(args.docs)
    if args.write:
        for name in stale:
            path = args.docs / name
            new = replace_doc_block(path.read_text(encoding="utf-8"), DOC_FILES[name]())
            path.write_text(new, encoding="utf-8")
            print(f"rewrote the outcome table in {path}")
        return 0
    for name in stale:
        print(f"{args.docs / name}: the outcome table differs from the replica's", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
