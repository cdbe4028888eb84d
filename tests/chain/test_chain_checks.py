"""``manage.py check`` on a CEDULA_SCRAPER list: E004 for the list and each entry, E005 for options."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import CheckMessage

from django_cedula import checks

from .conftest import FIRST, SECOND

WSP = "django_cedula.scrapers.wsp.WspScraper"
CENSO = "django_cedula.scrapers.consultacenso.ConsultaCensoScraper"


def ids(messages: list[CheckMessage]) -> list[str]:
    return [message.id or "" for message in messages]


@pytest.fixture
def good(settings: Any) -> Any:
    settings.CEDULA_SCRAPER = [WSP, {"class": CENSO, "options": {}}]
    settings.CEDULA_SCRAPER_OPTIONS = {}
    settings.CEDULA_CAPTCHA_SOLVER = "django_cedula.testing.captcha.ReplicaCaptchaSolver"
    return settings


def test_a_good_list_passes(good: Any) -> None:
    assert checks.check_scraper() == []
    good.CEDULA_SCRAPER = (FIRST, {"class": SECOND, "options": {"label": "b"}})  # a tuple too
    assert checks.check_scraper() == []


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ([], "CEDULA_SCRAPER: is an empty list: name at least one scraper"),
        ([WSP, "no.such.Scraper"], "CEDULA_SCRAPER: CEDULA_SCRAPER[1]: 'no.such.Scraper' cannot be imported"),
        (["tests.chain.scrapers.NotAScraper"], "has no scrape_cedula(cedula) method"),
        ([WSP, ""], "CEDULA_SCRAPER[1] is an empty string"),
        ([42], "CEDULA_SCRAPER[0] must be a dotted path or a mapping"),
        ([{"options": {}}], "CEDULA_SCRAPER[0] needs 'class'"),
        ([{"class": WSP, "opts": {}}], "CEDULA_SCRAPER[0] has unknown keys 'opts'"),
        ([{"class": WSP, "options": ["x"]}], "CEDULA_SCRAPER[0]['options'] must be a dict"),
    ],
)
def test_e004_a_bad_list_or_entry(good: Any, entries: Any, words: str) -> None:
    good.CEDULA_SCRAPER = entries
    (message,) = checks.check_scraper()
    assert message.id == "django_cedula.E004"
    assert words in message.msg
    assert message.hint


def test_e005_an_entrys_options(good: Any) -> None:
    good.CEDULA_SCRAPER = [WSP, {"class": FIRST, "options": {"lable": "x"}}]
    (message,) = checks.check_scraper()
    assert message.id == "django_cedula.E005"
    assert message.msg == (
        "CEDULA_SCRAPER: CEDULA_SCRAPER[1]['options']: "
        "tests.chain.scrapers.FirstScraper does not take option 'lable'"
    )
    assert "In CEDULA_SCRAPER[1]['options'], remove or correct 'lable'" in (message.hint or "")


def test_e005_scraper_options_beside_a_list(good: Any) -> None:
    good.CEDULA_SCRAPER_OPTIONS = {"label": "x"}
    (message,) = checks.check_scraper()
    assert message.id == "django_cedula.E005"
    assert "applies to a single dotted path" in message.msg


def test_every_bad_entry_is_reported(good: Any) -> None:
    good.CEDULA_SCRAPER = ["no.such.Scraper", {"class": FIRST, "options": {"bogus": 1}}, 3]
    assert ids(checks.check_scraper()) == ["django_cedula.E004", "django_cedula.E005", "django_cedula.E004"]


def test_w005_when_an_entry_is_a_browser_scraper(good: Any) -> None:
    good.CEDULA_CAPTCHA_SOLVER = None
    good.CEDULA_SCRAPER = [FIRST, CENSO]
    assert ids(checks.check_scraper()) == ["django_cedula.W005"]
    good.CEDULA_SCRAPER = [FIRST, SECOND]
    assert checks.check_scraper() == []


def test_a_single_string_that_is_neither_a_path_nor_a_list(good: Any) -> None:
    good.CEDULA_SCRAPER = 42
    (message,) = checks.check_scraper()
    assert message.id == "django_cedula.E004"
    assert "a dotted path (a string) or a list of scrapers" in message.msg


def test_the_longest_job_counts_a_chains_fallbacks(good: Any) -> None:
    from django_cedula.backends.django_q import DjangoQBackend

    good.CEDULA_LOOKUP_TIMEOUT = 100
    good.CEDULA_MIN_LOOKUP_INTERVAL = 5
    good.CEDULA_RATE_LIMIT = None
    good.CEDULA_SCRAPER = WSP
    single = DjangoQBackend().longest_job_run()
    good.CEDULA_SCRAPER = [WSP, CENSO, FIRST]
    parts = dict(DjangoQBackend().job_run_parts() or [])
    assert parts["2 more lookups of a CEDULA_SCRAPER list"] == 210
    assert DjangoQBackend().longest_job_run() == (single or 0) + 210
