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


def _check_replica_outcomes(app: object, config: object) -> None:
    """Fail the build (a warning, under -W) when a committed outcome table differs from the replica's.

    The tables are text in the repository (installation.rst, scraper.rst), so that they read the same
    on any viewer; ``python -m django_cedula.testing.replica.outcome_text docs --write`` rewrites them.
    """
    from sphinx.util import logging

    from django_cedula.testing.replica.outcome_text import check_docs

    for name in check_docs(Path(__file__).resolve().parent):
        logging.getLogger(__name__).warning(
            "%s: the replica's outcome table differs from django_cedula/testing/replica/outcomes.py; "
            "run `python -m django_cedula.testing.replica.outcome_text docs --write`",
            name,
        )


def setup(app: object) -> None:
    app.connect("config-inited", _check_replica_outcomes)  # type: ignore[attr-defined]
