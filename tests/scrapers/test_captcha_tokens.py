"""Both scrapers in Chromium against the replica that checks tokens as Google does."""

from __future__ import annotations

import time
from typing import Any

import pytest

from django_cedula.captcha.base import get_captcha_solver
from django_cedula.results import ScrapeResult, ScrapeStatus
from django_cedula.scrapers import get_scraper
from django_cedula.testing.captcha import ReplicaCaptchaSolver
from django_cedula.testing.replica import Replica
from django_cedula.testing.replica.tokens import issue_token

from .conftest import replica_solver

pytestmark = pytest.mark.browser

NOTHING = {"accepted": 0, "reused": 0, "expired": 0, "foreign_site_key": 0, "unknown": 0}


def scrape(number: str) -> ScrapeResult:
    return ScrapeResult.coerce(get_scraper().scrape_cedula(number))


def test_the_default_configuration_is_found_with_a_fresh_token_each(
    replica_settings: Replica, source: str
) -> None:
    assert scrape("1000000001").status is ScrapeStatus.FOUND
    assert scrape("1000000002").status is ScrapeStatus.FOUND
    first, second = replica_settings.lookups(source=source)
    assert (first.captcha_check, second.captcha_check) == ("accepted", "accepted")
    assert first.captcha != second.captcha
    assert replica_settings.captcha_counts() == {**NOTHING, "accepted": 2}


def test_a_reused_token_is_a_refused_token(replica_settings: Replica, source: str, settings: Any) -> None:
    # A solver that hands the same token out twice (what the token supply must never do): the site
    # refuses the token posted, which the lookup reads as token_refused (captcha_failed is our side).
    settings.CEDULA_CAPTCHA_SOLVER = replica_solver(token=replica_settings.issue_token())
    assert scrape("1000000001").status is ScrapeStatus.FOUND
    result = scrape("1000000001")
    assert result.status is ScrapeStatus.TOKEN_REFUSED
    assert [r.captcha_check for r in replica_settings.lookups()] == ["accepted", "reused"]
    assert replica_settings.lookups()[-1].answer == "captcha"
    assert replica_settings.captcha_counts() == {**NOTHING, "accepted": 1, "reused": 1}
    # The scraper told the solver how the site took each token (reports go out from a plain thread).
    solver = get_captcha_solver()
    assert isinstance(solver, ReplicaCaptchaSolver)
    deadline = time.monotonic() + 10
    while len(solver.reports) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [accepted for _, accepted in solver.reports] == [True, False]
    assert len({ref for ref, _ in solver.reports}) == 2


def test_an_expired_token_is_a_refused_token(replica_settings: Replica, source: str, settings: Any) -> None:
    replica_settings.token_max_age = 30
    stale = issue_token(replica_settings.site_key, issued_at=time.time() - 31)
    settings.CEDULA_CAPTCHA_SOLVER = replica_solver(token=stale)
    assert scrape("1000000001").status is ScrapeStatus.TOKEN_REFUSED
    (record,) = replica_settings.lookups()
    assert (record.answer, record.captcha_check, record.detail) == ("captcha", "expired", "expired")


def test_the_latency_model_in_a_real_lookup(replica_settings: Replica, source: str, settings: Any) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = replica_solver(latency_median=0.1, latency_p90=0.3, seed=7)
    assert scrape("1000000001").status is ScrapeStatus.FOUND
    assert replica_settings.captcha_counts()["accepted"] == 1
