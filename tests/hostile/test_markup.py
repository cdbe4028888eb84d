"""Pathological markup: 1 MiB (as much as a scraper reads of an answer) of each kind of markup that
costs a naive HTML reader time or memory out of proportion to its length
(:data:`~django_cedula.testing.replica.faults.HOSTILE_MARKUP`: unclosed comments, one tag repeating an
attribute, deep nesting, a huge text node, an entity flood, unclosed tags, 260,000 table cells,
stray ``<``).

The standard library's ``html.parser`` never finished 1 MiB of unclosed comments, and 1 MiB of
``<a x=y x=y ...`` took 200 MiB. What is asserted here is behaviour: every reading ends (a guard
stops one still going after :data:`HANG_GUARD` seconds: a hang, not slowness; how fast the readers
are is ``benchmarks/parsing.py``'s business), its result is ``parse_error`` or the right reading,
and what it allocates and keeps is bounded. Then both kinds of scraper against the replica's
``hostile_markup`` fault: the browser ones end within ``CEDULA_LOOKUP_TIMEOUT`` with the answer
read, and leave nothing running on the browser's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from django_cedula.conf import app_settings
from django_cedula.results import ScrapeResult, ScrapeStatus
from django_cedula.scrapers.base import BaseScraper
from django_cedula.scrapers.parsing import (
    FormPage,
    html_to_text,
    is_block_page,
    parse_consultacenso_response,
    parse_wsp_message,
    parse_wsp_response,
    read_form_page,
)
from django_cedula.scrapers.parsing.markup import MAX_TABLE_PARTS, parse_html
from django_cedula.testing.replica import DEFAULT_SITE_KEY, FaultMode, Replica
from django_cedula.testing.replica.faults import HOSTILE_MARKUP, HOSTILE_MARKUP_BYTES, hostile_markup
from django_cedula.testing.replica.wsp_pages import wsp_form_page

from ..parsing import samples

KINDS = list(HOSTILE_MARKUP)
#: Seconds after which a reading counts as hung. The readers take well under a second for 1 MiB on
#: an idle machine; this only has to tell "slow on a loaded machine" from "never ends".
HANG_GUARD = 60.0
#: The most a reading of 1 MiB may allocate (Python objects, at its peak). html.parser's reader
#: took 200 MiB for 1 MiB of a repeated attribute; the lxml reader's worst is under 20 MiB.
PEAK_BOUND = 64 * 1024 * 1024
#: The replica's number read by the scrapers (found, when no fault is set).
FOUND = "1000000001"

T = TypeVar("T")


class Hung(BaseException):
    """Raised into a reading still going after :data:`HANG_GUARD` seconds. A BaseException: the
    readers are total (they turn any ``Exception`` into a ``parse_error``) and must not swallow it."""


@contextlib.contextmanager
def hang_guard(seconds: float = HANG_GUARD) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise Hung(f"the reading did not end within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def bounded(read: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``read(*args, **kwargs)``, asserted to end and to allocate at most :data:`PEAK_BOUND` at its peak."""
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        with hang_guard():
            result = read(*args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        if not tracing:
            tracemalloc.stop()
    assert peak < PEAK_BOUND, f"{peak / 2**20:.0f} MiB allocated to read 1 MiB"
    return result


@pytest.fixture(scope="module", params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def markup(kind: str) -> str:
    return hostile_markup(kind).decode("ascii")


def tail(kind: str, room: int) -> str:
    """``kind`` of markup, as much of it as fits ``room`` bytes."""
    return hostile_markup(kind, room).decode("ascii")


# -- the readers ----------------------------------------------------------------------------------


def test_pathological_markup_alone_is_a_parse_error(markup: str) -> None:
    assert len(markup.encode()) == HOSTILE_MARKUP_BYTES
    for read in (parse_wsp_response, parse_wsp_message, parse_consultacenso_response):
        result = bounded(read, markup, cedula=samples.CEDULA)
        assert result.status is ScrapeStatus.PARSE_ERROR, (read.__name__, result.error)
        assert samples.CEDULA not in result.error


def test_pathological_markup_as_the_message_of_a_json_answer(markup: str) -> None:
    body = samples.wsp_ok(markup[: HOSTILE_MARKUP_BYTES - 100])
    assert bounded(parse_wsp_response, body).status is ScrapeStatus.PARSE_ERROR


def test_the_page_readers_read_pathological_markup(markup: str) -> None:
    assert bounded(read_form_page, markup) == FormPage()
    assert bounded(is_block_page, markup) is False
    assert isinstance(bounded(html_to_text, markup), str)


def test_a_found_answer_followed_by_pathological_markup_is_read(kind: str) -> None:
    head = samples.wsp_ok(samples.FOUND_MESSAGE)
    body = samples.wsp_ok(samples.FOUND_MESSAGE + tail(kind, HOSTILE_MARKUP_BYTES - len(head.encode()) - 8))
    assert len(body.encode()) <= HOSTILE_MARKUP_BYTES
    result = bounded(parse_wsp_response, body, cedula=samples.CEDULA)
    assert result.status is ScrapeStatus.FOUND, result.error
    assert {name: getattr(result, name) for name in samples.FOUND_VALUES} == samples.FOUND_VALUES


def test_an_answer_table_cut_by_the_bound_is_not_read() -> None:
    # The found row comes after more cells than a document keeps: the table is not read, and the
    # words (which a table would beat) are not either.
    message = samples.FOUND_MESSAGE.replace("<tbody>", "<tbody>" + "<tr><td></td></tr>" * MAX_TABLE_PARTS)
    result = bounded(parse_wsp_message, message + samples.NOT_FOUND_MESSAGE, cedula=samples.CEDULA)
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert result.error == f"the answer has more than {MAX_TABLE_PARTS} table parts"
    document = parse_html(message)
    assert document.too_many_cells
    assert [table.cut for table in document.tables] == [True]


def test_a_form_page_followed_by_pathological_markup_is_read(kind: str) -> None:
    page = wsp_form_page(token="ab" * 16, site_key=DEFAULT_SITE_KEY, recaptcha_src="/api.js")
    form = bounded(read_form_page, page + tail(kind, HOSTILE_MARKUP_BYTES - len(page.encode())))
    assert (form.has("nuip"), form.site_key, form.token) == (True, DEFAULT_SITE_KEY, "ab" * 16)
    assert not form.blocked


def test_what_a_document_keeps_is_bounded(kind: str, markup: str) -> None:
    document = bounded(parse_html, markup)
    parts = len(document.tables) + sum(len(t.rows) + sum(map(len, t.rows)) for t in document.tables)
    assert parts <= MAX_TABLE_PARTS + 2  # the bound, plus the row and cell open when it was reached
    assert document.too_many_cells is (kind == "table_cells")
    assert len(document.text_parts) <= len(markup)
    if kind == "deep_nesting":
        # Consecutive line breaks are kept as one: 200,000 nested blocks keep one part, not 400,000
        # (then the "<" where the 1 MiB cut a tag, and the break after it).
        assert document.text_parts == ["\n", "<", "\n"]


# -- the scrapers against the replica -------------------------------------------------------------


@pytest.fixture
def hostile(cedula_replica: Replica, settings: Any, source: str) -> Replica:
    """The replica answering :data:`FOUND` with 1 MiB of unclosed comments, ``source``'s settings on."""
    for name, value in cedula_replica.django_settings(source).items():
        setattr(settings, name, value)
    settings.CEDULA_LOOKUP_TIMEOUT = 30
    cedula_replica.set_fault(FaultMode.HOSTILE_MARKUP, cedula=FOUND)
    return cedula_replica


@pytest.fixture(params=["wsp", "censo"])
def source(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def scraper_for(replica: Replica, source: str, *, browser: bool) -> BaseScraper:
    if browser:
        from django_cedula.scrapers.consultacenso import ConsultaCensoScraper
        from django_cedula.scrapers.wsp import WspScraper

        browser_cls: type[BaseScraper] = WspScraper if source == "wsp" else ConsultaCensoScraper
        return browser_cls(**replica.source(source)["OPTIONS"])
    from django_cedula.scrapers.consultacenso_http import ConsultaCensoHttpScraper
    from django_cedula.scrapers.wsp_http import WspHttpScraper

    http_cls: type[BaseScraper] = WspHttpScraper if source == "wsp" else ConsultaCensoHttpScraper
    return http_cls(**replica.source(source)["OPTIONS"])


def lookup(scraper: BaseScraper) -> tuple[ScrapeResult, float]:
    started = time.monotonic()
    with hang_guard(app_settings.LOOKUP_TIMEOUT + 60):
        result = ScrapeResult.coerce(scraper.scrape_cedula(FOUND))
    return result, time.monotonic() - started


def test_the_http_scrapers_read_the_hostile_answer(hostile: Replica, source: str) -> None:
    scraper = scraper_for(hostile, source, browser=False)
    try:
        result, seconds = lookup(scraper)
    finally:
        scraper.close()
    assert result.status is ScrapeStatus.PARSE_ERROR, result.error
    assert seconds < app_settings.LOOKUP_TIMEOUT
    assert [record.fault for record in hostile.lookups(FOUND)] == ["hostile_markup"]


@pytest.mark.browser
def test_the_browser_scrapers_read_the_hostile_answer_off_the_loop(hostile: Replica, source: str) -> None:
    from django_cedula.scrapers.browser import BrowserScraper

    scraper = scraper_for(hostile, source, browser=True)
    assert isinstance(scraper, BrowserScraper)
    try:
        result, seconds = lookup(scraper)
        # On html.parser the lookup gave up at the timeout (TIMEOUT) with the loop still reading.
        assert result.status is ScrapeStatus.PARSE_ERROR, result.error
        assert seconds < app_settings.LOOKUP_TIMEOUT
        assert len(result.raw_html.encode()) == HOSTILE_MARKUP_BYTES  # the whole answer was read

        async def others() -> list[str]:
            current = asyncio.current_task()
            return [repr(task) for task in asyncio.all_tasks() if task is not current and not task.done()]

        # Nothing left running on the loop: a call now is served at once, and no lookup task is left.
        started = time.monotonic()
        left = scraper.runtime.run(others, timeout=10)
        assert time.monotonic() - started < 5
        assert not [task for task in left if "_guarded_lookup" in task or "with_page" in task], left
        # The next lookup is served as usual.
        hostile.clear_fault(FaultMode.HOSTILE_MARKUP, cedula=FOUND)
        assert lookup(scraper)[0].status is ScrapeStatus.FOUND
    finally:
        scraper.close()
