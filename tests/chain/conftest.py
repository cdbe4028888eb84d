from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import scrapers

FIRST = "tests.chain.scrapers.FirstScraper"
SECOND = "tests.chain.scrapers.SecondScraper"
THIRD = "tests.chain.scrapers.ThirdSourceScraper"


@pytest.fixture(autouse=True)
def _fresh_plan() -> Iterator[None]:
    scrapers.reset()
    yield
    scrapers.reset()
