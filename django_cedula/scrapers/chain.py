"""The configured sources: ``CEDULA_SOURCES``, one scraper or several asked in order (a fallback chain).

Each entry is ``{"BACKEND": "dotted.path", "OPTIONS": {...}}``. One entry is the scraper itself; with
several, one lookup asks the first entry and moves on to the next only when that source could not
serve the request at all:

* ``blocked`` (the source refuses us, a block page, HTTP 403 or 429: its pause starts, see below),
* ``network_error`` (no connection, a dropped one, a browser that cannot start),
* ``page_moved`` (HTTP 404 or 410 for the source's page or its lookup: the source changed its pages,
  which another source, on other pages, need not have done),
* an HTTP 5xx answer (:attr:`~django_cedula.results.ScrapeResult.http_status`), whatever status it
  was read as (a gateway's timeout relayed as a 502 is one).

It stops at the first final answer (found, not found, cancelled) and at every other failure:

* ``timeout``: the lookup has already spent up to ``CEDULA_LOOKUP_TIMEOUT``; asking another source
  would stretch the job past what the queue's job timeout and the sweeper allow for, and a slow
  source is not a source that is down: the attempt is retried later, from the first entry;
* ``captcha_failed`` and ``token_refused``: the captcha is our side (the solver, its balance) or the
  site refused a fresh token; the next source takes the same solver and would likely fail the same
  way, at the price of another paid solve;
* ``parse_error`` and ``form_changed``: the source did answer, with something this package cannot
  read (the page changed, or a bug). Asking the other source would hide that, and could contradict
  an answer misread. Until the source's health decides (:mod:`django_cedula.health`): the lookup
  whose sign takes the source out of service, and every lookup while it is out, asks the next
  source instead.

A configuration error (:class:`~django_cedula.exceptions.ConfigurationError`, such as a proxy that
answers HTTP 407 to the credentials given) is raised through the chain: no source is asked after it,
and the job ends the row at once.

The pause after a block belongs to the source that blocked (``source_name``, a key of its own in the
cache, :func:`~django_cedula.throttle.report_block`): while it lasts the chain skips that source
without sending it a request. When every entry is paused the lookup raises
:class:`~.base.SourcesPaused`, and the job defers itself as it does for the pause of a single scraper.

The chain is a scraper (:class:`ScraperChain` on :class:`~.base.BaseScraper`), and this module holds
the loader, :func:`get_scraper`, which builds one scraper or a chain as ``CEDULA_SOURCES`` says.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .. import health, throttle
from ..conf import ConfiguredPart, app_settings, build_part
from ..results import ScrapeResult, ScrapeStatus
from .base import ERROR_LENGTH, BaseScraper, Scraper, SourcesPaused, ask_source, source_name

logger = logging.getLogger(__name__)

#: The statuses after which the chain asks its next source (besides any answer with an HTTP 5xx).
MOVES_ON = frozenset({ScrapeStatus.BLOCKED, ScrapeStatus.NETWORK_ERROR, ScrapeStatus.PAGE_MOVED})
#: The setting this module reads.
SETTING = "CEDULA_SOURCES"


def entry_label(index: int) -> str:
    return f"{SETTING}[{index}]"


def configured_sources() -> tuple[str, ...]:
    """The source names of ``CEDULA_SOURCES`` when it holds several entries, in order, read without
    building a scraper (an entry that cannot be read or imported, whatever its module raises, is
    left out: ``manage.py check`` reports it); ``()`` for a single scraper, whose pause after a
    block is every source's."""
    try:
        entries = app_settings.SOURCES
    except (TypeError, ValueError):
        return ()
    return source_names() if len(entries) >= 2 else ()


def source_names() -> tuple[str, ...]:
    """The source name of every entry of ``CEDULA_SOURCES``, in order, one scraper or several, read
    without building a scraper (an entry that cannot be read or imported is left out: ``manage.py
    check`` reports it). The names :mod:`django_cedula.health` keeps a state for."""
    try:
        entries = app_settings.SOURCES
    except (TypeError, ValueError):
        return ()
    names: list[str] = []
    for entry in entries:
        try:
            names.append(source_name(import_string(entry["BACKEND"])))
        except Exception:  # a report must not fail on a broken entry
            continue
    return tuple(dict.fromkeys(names))


def build_sources() -> Scraper:
    """The scraper ``CEDULA_SOURCES`` describes: its one entry, or a :class:`ScraperChain` of them,
    each built with its own options.

    A wrong entry raises :class:`~django.core.exceptions.ImproperlyConfigured` (shape, import, not a
    scraper) or :class:`~django_cedula.exceptions.ConfigurationError` (options): not transient, the
    job ends the row at once.
    """
    try:
        entries = app_settings.SOURCES
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"{SETTING}: {exc}") from exc
    scrapers = [
        build_part(entry, Scraper, entry_label(index))  # type: ignore[type-abstract]
        for index, entry in enumerate(entries)
    ]
    return scrapers[0] if len(scrapers) == 1 else ScraperChain(scrapers)


class ScraperChain(BaseScraper):
    """Scrapers asked in order until one answers (see the module's text for what moves on).

    A scraper itself, so that whatever uses ``get_scraper()`` (the job, ``cedula_lookup``) gets the
    fallback. Every result it returns names the source that gave it
    (:attr:`~django_cedula.results.ScrapeResult.source`); each entry is asked as the job asks a
    single scraper (:func:`~.base.ask_source`), a block pausing that entry's source only.
    """

    def __init__(self, scrapers: Sequence[Scraper]) -> None:
        super().__init__()
        if not scrapers:
            raise ValueError("a chain needs at least one scraper")
        self.scrapers = tuple(scrapers)
        #: The ``source_name`` of each entry, in order (names may repeat: those share one pause).
        self.sources = tuple(source_name(scraper) for scraper in self.scrapers)

    def ask(self, cedula: str) -> ScrapeResult:
        """The chain's lookup (:meth:`scrape_cedula`): its entries report their own blocks."""
        return self.scrape_cedula(cedula)

    def paused_sources(self) -> tuple[str, ...]:
        """Each entry's source: the chain waits only while every one is paused."""
        return self.sources

    def scrape_cedula(self, cedula: str) -> ScrapeResult:
        """Ask each source in turn, skipping those paused after a block, until one gives an answer
        or a failure that does not move on; raises :class:`SourcesPaused` if every one is paused."""
        failures: list[ScrapeResult] = []
        waits: list[float] = []
        reasons: list[str] = []
        for scraper, source in zip(self.scrapers, self.sources, strict=True):
            paused = self._paused(source)
            if paused > 0:
                waits.append(paused)
                reasons.append("blocked")
                logger.info("Source %s is paused after a block (%.0f s left): not asked", source, paused)
                continue
            try:
                result = ask_source(scraper, cedula, own_pause=True)
            except SourcesPaused as held:
                # Out of service (its health), or this lookup confirmed that it changed: the next
                # source answers instead, and the row pays nothing for this one.
                waits.append(held.wait)
                reasons.append(held.reason)
                logger.info("Source %s is %s: asking the next one", source, held.reason.replace("_", " "))
                continue
            if not moves_on(result):
                return _with_earlier(result, failures)
            failures.append(result)
            logger.info("Source %s failed (%s): asking the next one", source, result.status.value)
        if not failures:
            # A block keeps its own pause; a source being decided comes back soon; only when every
            # source is out of service does the row wait for one to come back.
            reason = next((why for why in ("blocked", "deciding") if why in reasons), "out_of_service")
            raise SourcesPaused(min(waits), self.sources, reason=reason)
        return _with_earlier(failures[-1], failures[:-1])

    def _paused(self, source: str) -> float:
        if app_settings.BLOCK_COOLDOWN <= 0:
            return 0.0
        try:
            return throttle.blocked_for(source=source)
        except Exception as exc:
            # The job took its turn from the same cache a moment ago: ask rather than fail the lookup.
            logger.error("Could not read the pause of source %s (%s: %s)", source, type(exc).__name__, exc)
            return 0.0

    def prepare(self) -> None:
        """Prepare the first entry that is neither paused nor out of service (the one the lookup will
        ask first)."""
        out = {state.source for state in health.out_of_service(self.sources)}
        for scraper, source in zip(self.scrapers, self.sources, strict=True):
            if self._paused(source) > 0 or source in out:
                continue
            prepare = getattr(scraper, "prepare", None)
            if callable(prepare):
                prepare()
            return

    def close(self) -> None:
        """Close every entry, even after one's ``close()`` raised (the first error is raised last)."""
        failure: BaseException | None = None
        for scraper in self.scrapers:
            close = getattr(scraper, "close", None)
            if not callable(close):
                continue
            try:
                close()
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure


def moves_on(result: ScrapeResult) -> bool:
    """Whether the chain asks its next source after ``result``: blocked, network_error, page_moved or
    an HTTP 5xx."""
    return result.status in MOVES_ON or (result.http_status >= 500 and not result.status.is_final)


def _with_earlier(result: ScrapeResult, earlier: Sequence[ScrapeResult]) -> ScrapeResult:
    """``result``, its ``error`` led by what the sources asked before it answered (for the row's
    last error). A final answer keeps its own (empty) error: the row stores no error for one."""
    if not earlier or result.status.is_final:
        return result
    steps = [f"{failure.source}: {failure.status.value}" for failure in earlier]
    error = f"{'; '.join(steps)}; then {result.source}: {result.error or result.status.value}"
    return dataclasses.replace(result, error=error[:ERROR_LENGTH])


_scraper: ConfiguredPart[Scraper] = ConfiguredPart(SETTING, build_sources)


def scrapers_by_source() -> dict[str, Scraper]:
    """The configured scraper of each source name (the first entry of a name that repeats)."""
    scraper = get_scraper()
    if isinstance(scraper, ScraperChain):
        found: dict[str, Scraper] = {}
        for entry, source in zip(scraper.scrapers, scraper.sources, strict=True):
            found.setdefault(source, entry)
        return found
    return {source_name(scraper): scraper}


def get_scraper() -> Scraper:
    """The configured scraper (``CEDULA_SOURCES``), created once per process: a
    :class:`ScraperChain` when it has several entries."""
    return _scraper.get()
