"""Both scrapers in real Chromium against the replica: oversized answers are cut in the page and end as
parse_error; JSON nested 50,000 deep is a parse_error; over-long fields arrive whole (cutting them to the
model's columns is the job's business)."""

from __future__ import annotations

import pytest

from django_cedula.results import ScrapeResult, ScrapeStatus
from django_cedula.scrapers import get_scraper
from django_cedula.scrapers.parsing import MAX_ANSWER_BYTES
from django_cedula.testing.replica import Replica
from django_cedula.testing.replica.outcomes import LONG_DEPARTAMENTO, LONG_FECHA, LONG_MESA, LONG_NOVEDAD

pytestmark = pytest.mark.browser

TOO_LARGE = f"answer larger than {MAX_ANSWER_BYTES} bytes"


def scrape(number: str) -> ScrapeResult:
    return ScrapeResult.coerce(get_scraper().scrape_cedula(number))


def test_a_20_mib_answer_is_cut_in_the_page(replica_settings: Replica, source: str) -> None:
    result = scrape("1000000055")
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert result.error == TOO_LARGE
    # Only the bounded part crossed into Python.
    assert 0 < len(result.raw_html.encode()) <= MAX_ANSWER_BYTES
    assert replica_settings.lookups("1000000055")[0].answer == "huge"


def test_a_gzip_bomb_is_cut_in_the_page(replica_settings: Replica, source: str) -> None:
    result = scrape("1000000056")
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert result.error == TOO_LARGE
    assert len(result.raw_html.encode()) <= MAX_ANSWER_BYTES
    assert replica_settings.lookups("1000000056")[0].answer == "gzip_bomb"


@pytest.mark.parametrize(("extra", "status"), [(0, ScrapeStatus.FOUND), (1, ScrapeStatus.PARSE_ERROR)])
def test_the_limit_is_exact(replica_settings: Replica, source: str, extra: int, status: ScrapeStatus) -> None:
    # A found answer of exactly MAX_ANSWER_BYTES bytes is read; one byte more is not.
    replica_settings.huge_bytes = MAX_ANSWER_BYTES + extra
    result = scrape("1000000055")
    assert result.status is status, result.error
    if status is ScrapeStatus.FOUND:
        assert result.departamento


def test_a_huge_answer_as_a_fault_on_any_number(replica_settings: Replica, source: str) -> None:
    replica_settings.set_fault("huge", cedula="52123456", times=1)
    assert scrape("52123456").error == TOO_LARGE
    assert scrape("52123456").status is ScrapeStatus.FOUND


def test_json_nested_50000_deep_is_a_parse_error(replica_settings: Replica, source: str) -> None:
    result = scrape("1000000057")
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert "nested too deep" in result.error
    assert "1000000057" not in result.error


def test_over_long_found_fields_arrive_whole(replica_settings: Replica, source: str) -> None:
    result = scrape("1000000060")
    assert result.status is ScrapeStatus.FOUND
    assert (result.departamento, result.mesa) == (LONG_DEPARTAMENTO, LONG_MESA)


def test_over_long_cancelled_fields_arrive_whole(replica_settings: Replica, source: str) -> None:
    result = scrape("1000000061")
    assert result.status is ScrapeStatus.CANCELLED
    assert (result.novedad, result.fecha_novedad) == (LONG_NOVEDAD, LONG_FECHA)


def test_the_next_lookup_after_a_bomb_is_normal(replica_settings: Replica, source: str) -> None:
    assert scrape("1000000056").status is ScrapeStatus.PARSE_ERROR
    assert scrape("1000000001").status is ScrapeStatus.FOUND
