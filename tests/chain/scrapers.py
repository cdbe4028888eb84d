"""Scrapers of three made-up sources for the chain's tests: each answers what the test planned for
it (one outcome per call, the last repeating; found by default) and logs every call, in order."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from django_cedula.results import ScrapeResult
from django_cedula.scrapers import BaseScraper
from django_cedula.testing.scrapers import default_found

#: Outcomes per source: a status word, a mapping of ScrapeResult fields, or a ScrapeResult.
PLAN: dict[str, list[Any]] = {}
#: ``(source, cedula)`` for every call, in order.
CALLS: list[tuple[str, str]] = []
_lock = threading.Lock()


def reset() -> None:
    with _lock:
        PLAN.clear()
        CALLS.clear()


def plan(source: str, *outcomes: Any) -> None:
    with _lock:
        PLAN[source] = list(outcomes)


def asked() -> list[str]:
    """The sources asked so far, in order."""
    return [source for source, _ in CALLS]


class _Planned(BaseScraper):
    def __init__(self, *, label: str = "", **options: Any) -> None:
        super().__init__(**options)
        self.label = label

    def scrape_cedula(self, cedula: str) -> ScrapeResult:
        source = type(self).source_name
        with _lock:
            CALLS.append((source, cedula))
            outcomes = PLAN.get(source, [])
            spec = outcomes.pop(0) if len(outcomes) > 1 else (outcomes[0] if outcomes else None)
        if spec is None:
            return default_found(cedula)
        if isinstance(spec, ScrapeResult):
            return spec
        if isinstance(spec, str):
            spec = {"status": spec}
        if spec.get("status") == "raise":
            raise RuntimeError(f"source {source} exploded on {cedula}")
        return ScrapeResult.coerce(spec)


class FirstScraper(_Planned):
    source_name: ClassVar[str] = "first"


class SecondScraper(_Planned):
    source_name: ClassVar[str] = "second"


class ThirdSourceScraper(_Planned):
    """Its source_name is derived from the class: "thirdsource"."""


class LongNamedScraper(_Planned):
    source_name: ClassVar[str] = "a-source-whose-name-is-longer-than-the-forty-characters-the-column-keeps"


class NotAScraper:
    """Has no scrape_cedula."""
