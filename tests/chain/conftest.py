from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from . import scrapers

FIRST = "tests.chain.scrapers.FirstScraper"
SECOND = "tests.chain.scrapers.SecondScraper"
THIRD = "tests.chain.scrapers.ThirdSourceScraper"


def sources(*backends: str) -> list[dict[str, Any]]:
    """A value of ``CEDULA_SOURCES``: each of ``backends`` without options, in order."""
    return [{"BACKEND": backend} for backend in backends]


@pytest.fixture(autouse=True)
def _fresh_plan() -> Iterator[None]:
    scrapers.reset()
    yield
    scrapers.reset()
