"""``manage.py check`` on a CEDULA_SOURCES chain: E004 for the list and each entry, E005 for options."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import CheckMessage

from django_cedula import checks

from .conftest import FIRST, SECOND

WSP = "django_cedula.scrapers.wsp.WspScraper"
CENSO = "django_cedula.scrapers.consultacenso.ConsultaCensoScraper"


def source(path: object, /, **options: Any) -> dict[str, Any]:
    return {"BACKEND": path, "OPTIONS": options}


WSP_SOURCE = source(WSP)


def ids(messages: list[CheckMessage]) -> list[str]:
    return [message.id or "" for message in messages]


@pytest.fixture
def good(settings: Any) -> Any:
    settings.CEDULA_SOURCES = [source(WSP), source(CENSO)]
    settings.CEDULA_CAPTCHA_SOLVER = {"BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver"}
    return settings


def test_a_good_list_passes(good: Any) -> None:
    assert checks.check_sources() == []
    good.CEDULA_SOURCES = (source(FIRST), {"BACKEND": SECOND, "OPTIONS": {"label": "b"}})  # a tuple too
    assert checks.check_sources() == []
    good.CEDULA_SOURCES = [{"BACKEND": FIRST}, {"BACKEND": SECOND}]  # OPTIONS may be left out
    assert checks.check_sources() == []


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ([], "CEDULA_SOURCES: must be a non-empty list, not list"),
        ([WSP_SOURCE, source("no.such.Scraper")], "[1]: BACKEND 'no.such.Scraper' cannot be imported"),
        ([source("tests.chain.scrapers.NotAScraper")], "NotAScraper' is not a subclass of"),
        ([source(WSP), source("")], "CEDULA_SOURCES[1]: BACKEND must be a dotted path"),
        ([42], 'CEDULA_SOURCES[0]: expected {"BACKEND": ..., "OPTIONS": {...}}, not int'),
        ([WSP], 'CEDULA_SOURCES[0]: expected {"BACKEND": ..., "OPTIONS": {...}}, not str'),
        ([{"OPTIONS": {}}], "CEDULA_SOURCES[0]: BACKEND must be a dotted path"),
        ([{"BACKEND": WSP, "OPTS": {}}], "CEDULA_SOURCES[0]: unknown keys ['OPTS']"),
        ([{"BACKEND": WSP, "OPTIONS": ["x"]}], "CEDULA_SOURCES[0]: OPTIONS must be a dict, not list"),
    ],
)  # fmt: skip
def test_e004_a_bad_list_or_entry(good: Any, entries: Any, words: str) -> None:
    good.CEDULA_SOURCES = entries
    (message,) = checks.check_sources()
    assert message.id == "django_cedula.E004"
    assert words in message.msg
    assert message.hint


def test_e005_an_entrys_options(good: Any) -> None:
    good.CEDULA_SOURCES = [source(WSP), source(FIRST, lable="x")]
    (message,) = checks.check_sources()
    assert message.id == "django_cedula.E005"
    assert message.msg == (
        "CEDULA_SOURCES[1]: tests.chain.scrapers.FirstScraper refused its OPTIONS: "
        "FirstScraper got unknown options: 'lable'"
    )
    assert "Check the OPTIONS in CEDULA_SOURCES[1] against the documentation of FirstScraper" in (
        message.hint or ""
    )


def test_each_entry_has_options_of_its_own(good: Any) -> None:
    # The old CEDULA_SCRAPER_OPTIONS beside a list is gone with the setting: each entry carries
    # its own OPTIONS, and the same option may differ between entries.
    good.CEDULA_SOURCES = [source(WSP, page_timeout=10), source(CENSO, page_timeout=20, election="0")]
    assert checks.check_sources() == []
    good.CEDULA_SOURCES = [source(WSP, page_timeout=10), source(CENSO, page_timeout=0)]
    (message,) = checks.check_sources()
    assert message.id == "django_cedula.E005"
    assert message.msg.startswith("CEDULA_SOURCES[1]: page_timeout")


def test_every_bad_entry_is_reported(good: Any) -> None:
    good.CEDULA_SOURCES = [source("no.such.Scraper"), source(FIRST, bogus=1), 3]
    assert ids(checks.check_sources()) == ["django_cedula.E004", "django_cedula.E004", "django_cedula.E005"]


def test_w005_when_an_entry_is_a_browser_scraper(good: Any) -> None:
    good.CEDULA_CAPTCHA_SOLVER = None
    good.CEDULA_SOURCES = [source(FIRST), source(CENSO)]
    assert ids(checks.check_sources()) == ["django_cedula.W005"]
    good.CEDULA_SOURCES = [source(FIRST), source(SECOND)]
    assert checks.check_sources() == []


def test_a_single_mapping_is_not_a_list(good: Any) -> None:
    good.CEDULA_SOURCES = source(WSP)
    (message,) = checks.check_sources()
    assert message.id == "django_cedula.E004"
    assert "must be a non-empty list, not dict" in message.msg


def test_a_single_string_is_not_a_list(good: Any) -> None:
    good.CEDULA_SOURCES = 42
    (message,) = checks.check_sources()
    assert message.id == "django_cedula.E004"
    assert "must be a non-empty list, not int" in message.msg


def test_the_longest_job_counts_a_chains_fallbacks(good: Any) -> None:
    from django_cedula.backends.django_q import DjangoQBackend

    good.CEDULA_LOOKUP_TIMEOUT = 100
    good.CEDULA_MIN_LOOKUP_INTERVAL = 5
    good.CEDULA_RATE_LIMIT = None
    good.CEDULA_SOURCES = [source(WSP)]
    single = DjangoQBackend().longest_job_run()
    good.CEDULA_SOURCES = [source(WSP), source(CENSO), source(FIRST)]
    parts = dict(DjangoQBackend().job_run_parts() or [])
    assert parts["2 more lookups of the CEDULA_SOURCES chain"] == 210
    assert DjangoQBackend().longest_job_run() == (single or 0) + 210
