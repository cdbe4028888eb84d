"""The site changing under the HTTP scrapers (issue #21): each change of the replica read as its own
status, what it cost in solves, and the replica switched back.

``form_shape`` is ``form_changed`` before any solve; ``new_markup`` is ``parse_error`` (a change only a
lookup can reveal: each cost one solve); ``refuse_tokens`` is ``token_refused``, the solver told the
token was refused. The solves are counted by the replica (the solver stand-in gets its tokens there,
:meth:`Replica.solver_settings`), as a cluster's would be from another process.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from django_cedula.captcha.base import get_captcha_solver
from django_cedula.results import ScrapeResult, ScrapeStatus
from django_cedula.scrapers.solving import FORM_SAMPLE_CHARS
from django_cedula.testing.captcha import ReplicaCaptchaSolver
from django_cedula.testing.replica import FaultMode, Replica, remote

from .test_every_source import http_scraper

FOUND, NOT_FOUND, CANCELLED = "1000000001", "1000000010", "1000000020"


@pytest.fixture
def counted(replica_settings: Replica, settings: Any) -> Replica:
    """The replica's settings, its solver getting its tokens from the replica (which counts them)."""
    settings.CEDULA_CAPTCHA_SOLVER = replica_settings.solver_settings()
    return replica_settings


def scrape(replica: Replica, source: str, number: str = FOUND) -> ScrapeResult:
    return http_scraper(replica, source).scrape_cedula(number)


def solver() -> ReplicaCaptchaSolver:
    solver = get_captcha_solver()
    assert isinstance(solver, ReplicaCaptchaSolver)
    return solver


def test_a_changed_form_is_form_changed_and_costs_no_solve(counted: Replica, source: str) -> None:
    scraper = http_scraper(counted, source)
    # One lookup that worked: the site key is known (before #21 the next solve started from it,
    # before the page was loaded).
    assert scraper.scrape_cedula(FOUND).status is ScrapeStatus.FOUND
    counted.reset()
    counted.set_fault(FaultMode.FORM_SHAPE)
    for _ in range(3):
        result = scraper.scrape_cedula(FOUND)
        assert result.status is ScrapeStatus.FORM_CHANGED
    assert counted.solves() == 0
    assert len(solver().calls) == 1  # the first lookup's
    assert counted.lookups() == []  # nothing was posted
    assert [r.kind for r in counted.requests()] == ["page"] * 3
    # What is missing, and the page as received (bounded), for a maintainer to read.
    if source == "wsp":
        assert result.error == "the form page has no #nuip field"
        assert 'id="numdoc"' in result.raw_html
    else:
        assert "names no API at /consultacenso/back/api/" in result.error
        assert "/consultacenso/api/v2/" in result.raw_html
    assert 0 < len(result.raw_html) <= FORM_SAMPLE_CHARS
    assert FOUND not in result.error
    counted.clear_fault(FaultMode.FORM_SHAPE)
    assert scraper.scrape_cedula(FOUND).status is ScrapeStatus.FOUND
    assert counted.solves() == 1


@pytest.mark.parametrize(
    ("number", "answer"),
    [(FOUND, ScrapeStatus.FOUND), (NOT_FOUND, ScrapeStatus.NOT_FOUND), (CANCELLED, ScrapeStatus.CANCELLED)],
)
def test_answers_of_a_new_markup_are_parse_errors(
    counted: Replica, source: str, number: str, answer: ScrapeStatus
) -> None:
    counted.set_fault(FaultMode.NEW_MARKUP)
    result = scrape(counted, source, number)
    assert result.status is ScrapeStatus.PARSE_ERROR, result.error
    assert "estado" in result.raw_html  # the new shape, well formed, as received
    (lookup,) = counted.lookups()
    assert (lookup.answer, lookup.fault, lookup.captcha_check) == ("new_markup", "new_markup", "accepted")
    assert counted.solves() == 1  # a change only a lookup reveals: it was paid for
    counted.clear_fault(FaultMode.NEW_MARKUP)
    assert scrape(counted, source, number).status is answer


def test_refused_tokens_are_token_refused_and_reported(counted: Replica, source: str) -> None:
    counted.set_fault(FaultMode.REFUSE_TOKENS)
    result = scrape(counted, source)
    assert result.status is ScrapeStatus.TOKEN_REFUSED
    assert "captcha" in result.error
    (lookup,) = counted.lookups()
    # The token was genuine and fresh: the site refused it all the same.
    assert (lookup.answer, lookup.fault, lookup.captcha_check) == ("captcha", "refuse_tokens", "accepted")
    assert counted.solves() == 1
    # The solver heard that its token was refused (reports go out from a plain thread).
    deadline = time.monotonic() + 10
    while not solver().reports and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [accepted for _, accepted in solver().reports] == [False]
    counted.clear_fault(FaultMode.REFUSE_TOKENS)
    assert scrape(counted, source).status is ScrapeStatus.FOUND


def test_a_failed_solve_is_captcha_failed_and_reports_nothing(
    replica_settings: Replica, source: str, settings: Any
) -> None:
    # Our side failing (no token at all) stays captcha_failed: nothing was posted, nothing refused.
    settings.CEDULA_CAPTCHA_SOLVER = replica_settings.solver_settings(fail=True)
    result = scrape(replica_settings, source)
    assert result.status is ScrapeStatus.CAPTCHA_FAILED
    assert replica_settings.lookups() == []
    assert solver().reports == []


def test_the_solve_starts_only_once_the_form_page_is_in(counted: Replica, source: str) -> None:
    counted.form_delay = 0.4
    assert scrape(counted, source).status is ScrapeStatus.FOUND
    page = counted.requests(kind="page")[0]
    (solve,) = counted.requests(kind="captcha_token")
    # The solve was asked for after the form page had been answered (its delay included).
    assert solve.time >= page.time + 0.4


def test_faults_flipped_from_another_process(counted: Replica, source: str) -> None:
    """The control endpoint, as a demo or a cluster in other processes uses it (loopback only)."""
    state = remote.set_fault(counted.url, "form_shape")
    assert [fault["mode"] for fault in state["faults"]] == ["form_shape"]
    assert scrape(counted, source).status is ScrapeStatus.FORM_CHANGED
    remote.set_fault(counted.url, FaultMode.NEW_MARKUP)
    remote.clear_fault(counted.url, "form_shape")
    assert scrape(counted, source).status is ScrapeStatus.PARSE_ERROR
    assert remote.state(counted.url)["solves"] == 1
    assert remote.clear_fault(counted.url)["faults"] == []  # every fault off: the site is back
    assert scrape(counted, source).status is ScrapeStatus.FOUND
    state = remote.state(counted.url)
    assert (state["solves"], state["captcha_counts"]["accepted"]) == (2, 2)
