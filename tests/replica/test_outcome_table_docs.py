"""The replica's outcome table, wherever it is shown, is the replica's own (:data:`OUTCOMES`).

docs/installation.rst (number and outcome) and docs/scraper.rst (every column) carry it as committed
text; ``--help`` and the start-up banner print it. When this fails after a change to the table, run
``python -m django_cedula.testing.replica.outcome_text docs --write``.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from django_cedula.testing.replica import OUTCOMES
from django_cedula.testing.replica.__main__ import OUTCOMES_HEADING, build_parser
from django_cedula.testing.replica.outcome_text import (
    END_MARKER,
    START_MARKER,
    check_docs,
    doc_block,
    main,
    outcome_list_table_rst,
    outcome_simple_table_rst,
    replace_doc_block,
)

from .test_cli import Running

DOCS = Path(__file__).resolve().parents[2] / "docs"
#: The table as the replica defines it: (number, outcome), numbers outside it last.
EXPECTED = [*((number, outcome.label) for number, outcome in OUTCOMES.items()), ("any other", "found")]
ROW = re.compile(r"^\s*(\d+|any other)\s{2,}(\S.*?)\s*$")


def rows(lines: list[str]) -> list[tuple[str, str]]:
    """The ``number  outcome`` rows among ``lines`` (headings, rules and other lines left out)."""
    return [(m.group(1), m.group(2)) for m in map(ROW.match, lines) if m]


def test_the_docs_carry_the_replicas_table() -> None:
    assert check_docs(DOCS) == [], "run: python -m django_cedula.testing.replica.outcome_text docs --write"


def test_installation_rst_lists_every_number_with_its_outcome() -> None:
    block = doc_block((DOCS / "installation.rst").read_text(encoding="utf-8"))
    assert rows(block.splitlines()) == EXPECTED
    assert block == outcome_simple_table_rst()


def test_scraper_rst_has_every_column() -> None:
    block = doc_block((DOCS / "scraper.rst").read_text(encoding="utf-8"))
    assert block == outcome_list_table_rst()
    numbers = re.findall(r"^   \* - (\d+|any other)$", block, flags=re.MULTILINE)
    assert numbers == [number for number, _ in EXPECTED]
    for number, outcome in OUTCOMES.items():
        assert f"   * - {number}\n     - {outcome.label}\n" in block


def test_help_lists_every_number_with_its_outcome() -> None:
    text = build_parser().format_help()
    listed = text[text.index(OUTCOMES_HEADING) + len(OUTCOMES_HEADING) :]
    assert rows(listed.splitlines()) == EXPECTED


def test_the_banner_lists_every_number_with_its_outcome_and_the_settings() -> None:
    running = Running("--port", "0", "--quiet")
    try:
        url = running.line().rsplit(" ", 1)[1]
        banner = []
        while (line := running.line()) != "Press Ctrl+C to stop.":
            banner.append(line)
    finally:
        assert running.stop() == 0
    # The settings it prints are Python a site can paste: one source at this replica, and its solver.
    heading = next(index for index, line in enumerate(banner) if line.startswith("  a site's settings"))
    end = banner.index("  " + OUTCOMES_HEADING)
    printed: dict[str, Any] = {}
    exec(textwrap.dedent("\n".join(banner[heading + 1 : end])), {}, printed)
    assert printed == {
        "CEDULA_SOURCES": [
            {"BACKEND": "django_cedula.scrapers.wsp.WspScraper", "OPTIONS": {"url": f"{url}censo/consultar/"}}
        ],
        "CEDULA_CAPTCHA_SOLVER": {"BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver"},
    }
    listed = banner[end + 1 :]
    assert rows(listed) == EXPECTED
    assert len(listed) == len(EXPECTED)


def test_a_stale_table_is_found_and_rewritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("installation.rst", "scraper.rst"):
        (tmp_path / name).write_text((DOCS / name).read_text(encoding="utf-8"), encoding="utf-8")
    stale = (
        (tmp_path / "installation.rst")
        .read_text(encoding="utf-8")
        .replace("1000000010  not found", "1000000010  found")
    )
    (tmp_path / "installation.rst").write_text(stale, encoding="utf-8")
    assert check_docs(tmp_path) == ["installation.rst"]
    assert main([str(tmp_path)]) == 1
    assert "installation.rst: the outcome table differs" in capsys.readouterr().err
    assert main([str(tmp_path), "--write"]) == 0
    assert check_docs(tmp_path) == []
    assert (tmp_path / "installation.rst").read_text(encoding="utf-8") == (
        DOCS / "installation.rst"
    ).read_text(encoding="utf-8")


def test_replace_doc_block_keeps_what_is_around() -> None:
    text = f"before\n\n{START_MARKER}\n\nold\n\n{END_MARKER}\n\nafter\n"
    assert replace_doc_block(text, "new") == f"before\n\n{START_MARKER}\n\nnew\n\n{END_MARKER}\n\nafter\n"
