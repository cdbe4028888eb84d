"""The HTTP-only scrapers' library: E014.

``CEDULA_SCRAPER`` naming an HTTP-only scraper (:class:`~django_cedula.scrapers.http_scraper.HttpScraper`)
on a machine without ``curl_cffi`` (the ``http`` extra) would fail every lookup with
``config_error``: said here first. ``CEDULA_SCRAPER`` may be one dotted path or a list of them.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage

from .messages import error, import_path, raw


def check_http_scraper(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E014: an HTTP-only scraper is configured but ``curl_cffi`` is not installed."""
    from ..scrapers.chain import Entry, read_entry
    from ..scrapers.http import EXTRA, HttpScraper, curl_cffi_missing

    value = raw("SCRAPER")
    paths: list[str] = []
    if isinstance(value, str):
        paths = [value]
    elif isinstance(value, (list, tuple)):
        # A list's entries may be dotted paths or {"class": ..., "options": ...} mappings; a malformed
        # entry is E004's to report.
        entries = (read_entry(index, entry) for index, entry in enumerate(value))
        paths = [entry.path for entry in entries if isinstance(entry, Entry)]
    needing = []
    for path in paths:
        scraper_class, problem = import_path(path)
        if problem is None and isinstance(scraper_class, type) and issubclass(scraper_class, HttpScraper):
            needing.append(path)
    if not needing or not curl_cffi_missing():
        return []
    return [
        error(
            14,
            "SCRAPER",
            f"{', '.join(repr(path) for path in needing)} needs curl_cffi, which is not installed",
            f"pip install '{EXTRA}' on every worker, or use a browser scraper "
            "(django_cedula.scrapers.wsp.WspScraper).",
        )
    ]
