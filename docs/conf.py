"""Sphinx configuration for django-cedula's documentation."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django_cedula

project = "django-cedula"
author = "django-cedula developers"
copyright = "2026, django-cedula developers"
release = django_cedula.__version__
version = release

extensions = ["sphinx.ext.intersphinx"]
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
html_theme = "furo"
html_title = f"django-cedula {release}"
exclude_patterns = ["_build"]
nitpicky = False


def _write_replica_outcomes(app: object, config: object) -> None:
    """Render the replica's outcome table into an include, so the docs never drift from the code."""
    from django_cedula.testing.replica import outcome_table_markdown

    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in outcome_table_markdown().splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ]
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in rows:
        lines.append("   * - " + row[0].replace("*", "\\*"))
        lines.extend("     - " + cell.replace("*", "\\*") for cell in row[1:])
    Path(__file__).with_name("replica-outcomes.inc").write_text("\n".join(lines) + "\n", encoding="utf-8")


def setup(app: object) -> None:
    app.connect("config-inited", _write_replica_outcomes)  # type: ignore[attr-defined]
