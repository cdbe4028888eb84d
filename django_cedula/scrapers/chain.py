"""A fallback chain across sources: ``CEDULA_SCRAPER`` as a list of scrapers, asked in order.

Each entry of the list is a dotted class path, or a mapping ``{"class": "dotted.path", "options":
{...}}`` (``options`` optional; ``CEDULA_SCRAPER_OPTIONS`` applies to a single-string setting only).
One lookup asks the first entry; it moves on to the next only when that source could not serve the
request at all:

* ``blocked`` (the source refuses us: its pause starts, see below),
* ``network_error`` (no connection, a dropped one, a browser that cannot start),
* an HTTP 5xx answer (:attr:`~django_cedula.results.ScrapeResult.http_status`), whatever status it
  was read as (a gateway's timeout relayed as a 502 is one).

It stops at the first final answer (found, not found, cancelled) and at every other failure:

* ``timeout``: the lookup has already spent up to ``CEDULA_LOOKUP_TIMEOUT``; asking another source
  would stretch the job past what the queue's job timeout and the sweeper allow for, and a slow
  source is not a source that is down: the attempt is retried later, from the first entry;
* ``captcha_failed``: the captcha is our side (the solver, its balance, a refused token); the next
  source takes the same solver and would fail the same way, at the price of another paid solve;
* ``parse_error``: the source did answer, with something this package cannot read (the page changed,
  or a bug). Asking the other source would hide that, and could contradict an answer misread.

The pause after a block belongs to the source that blocked (``source_name``, a key of its own in the
cache, :func:`~django_cedula.throttle.report_block`): while it lasts the chain skips that source
without sending it a request. When every entry is paused the lookup raises
:class:`~.base.SourcesPaused`, and the job defers itself as it does for the pause of a single scraper.

The chain is a scraper (:class:`ScraperChain` on :class:`~.base.BaseScraper`), and this module holds
the loader, :func:`get_scraper`, which builds one class or a chain as ``CEDULA_SCRAPER`` says.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .. import throttle
from ..conf import app_settings
from ..exceptions import ConfigurationError
from ..loading import ConfiguredInstance, build
from ..results import ScrapeResult, ScrapeStatus
from .base import ERROR_LENGTH, BaseScraper, Scraper, SourcesPaused, ask_source, source_name

logger = logging.getLogger(__name__)

#: The statuses after which the chain asks its next source (besides any answer with an HTTP 5xx).
MOVES_ON = frozenset({ScrapeStatus.BLOCKED, ScrapeStatus.NETWORK_ERROR})
#: The keys an entry's mapping may have.
ENTRY_KEYS = frozenset({"class", "options"})


@dataclasses.dataclass(frozen=True)
class Entry:
    """One entry of a ``CEDULA_SCRAPER`` list, read but not imported: where it is (``label``, e.g.
    ``CEDULA_SCRAPER[1]``), the class's dotted path and its options."""

    label: str
    path: str
    options: Mapping[str, Any]


def is_chain_setting(value: object) -> bool:
    """Whether a ``CEDULA_SCRAPER`` value is a chain (a list or tuple) rather than one dotted path."""
    return isinstance(value, (list, tuple))


def read_entry(index: int, entry: object) -> Entry | str:
    """Entry ``index`` of a ``CEDULA_SCRAPER`` list, or what is wrong with its shape (in words).

    Shared by the chain and by ``manage.py check`` (``django_cedula.E004``/``E005``), so that both
    refuse the same settings.
    """
    label = f"{app_settings.setting_name('SCRAPER')}[{index}]"
    if isinstance(entry, str):
        return Entry(label, entry, {}) if entry else f"{label} is an empty string"
    if not isinstance(entry, Mapping):
        shape = "a dotted path or a mapping {'class': ..., 'options': {...}}"
        return f"{label} must be {shape}, not {type(entry).__name__}"
    unknown = sorted(str(key) for key in entry if key not in ENTRY_KEYS)
    if unknown:
        return f"{label} has unknown keys {', '.join(map(repr, unknown))} (it takes 'class' and 'options')"
    path, options = entry.get("class"), entry.get("options", {})
    if not isinstance(path, str) or not path:
        return f"{label} needs 'class', the scraper's dotted path"
    if not isinstance(options, Mapping):
        return f"{label}['options'] must be a dict"
    return Entry(label, path, dict(options))


def configured_sources() -> tuple[str, ...]:
    """The source names of a ``CEDULA_SCRAPER`` list, in order, read without building a scraper (an
    entry that cannot be read or imported, whatever its module raises, is left out: ``manage.py
    check`` reports it); ``()`` for a single scraper, whose pause after a block is every source's."""
    names: list[str] = []
    for index, value in enumerate(app_settings.SCRAPER_CHAIN or ()):
        entry = read_entry(index, value)
        if isinstance(entry, str):
            continue
        try:
            names.append(source_name(import_string(entry.path)))
        except Exception:  # a report of pauses must not fail on a broken entry
            continue
    return tuple(dict.fromkeys(names))


def build_chain(value: Sequence[object]) -> ScraperChain:
    """The chain a ``CEDULA_SCRAPER`` list names, each entry built with its own options.

    A wrong entry raises :class:`~django.core.exceptions.ImproperlyConfigured` (shape, import, not a
    scraper) or :class:`~django_cedula.exceptions.ConfigurationError` (options): not transient, the
    job ends the row at once.
    """
    name = app_settings.setting_name("SCRAPER")
    if not value:
        raise ImproperlyConfigured(f"{name} is an empty list: name at least one scraper")
    if app_settings.SCRAPER_OPTIONS:
        options_name = app_settings.setting_name("SCRAPER_OPTIONS")
        raise ConfigurationError(
            f"{options_name} applies to a single dotted path in {name}, not to a list",
            f"Give each entry of {name} its own: {{'class': '...', 'options': {{...}}}}; "
            f"set {options_name} = {{}}.",
        )
    scrapers: list[Scraper] = []
    for index, raw in enumerate(value):
        entry = read_entry(index, raw)
        if isinstance(entry, str):
            raise ImproperlyConfigured(entry)
        try:
            cls = import_string(entry.path)
        except ImportError as exc:
            raise ImproperlyConfigured(f"{entry.label} = {entry.path!r} cannot be imported: {exc}") from exc
        if not (isinstance(cls, type) and issubclass(cls, Scraper)):
            contract = f"{Scraper.__module__}.{Scraper.__qualname__}"
            raise ImproperlyConfigured(f"{entry.label} = {entry.path!r} is not a subclass of {contract}")
        scrapers.append(build(cls, entry.options, f"{entry.label}['options']"))
    return ScraperChain(scrapers)


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
        for scraper, source in zip(self.scrapers, self.sources, strict=True):
            paused = self._paused(source)
            if paused > 0:
                waits.append(paused)
                logger.info("Source %s is paused after a block (%.0f s left): not asked", source, paused)
                continue
            result = ask_source(scraper, cedula, own_pause=True)
            if not moves_on(result):
                return _with_earlier(result, failures)
            failures.append(result)
            logger.info("Source %s failed (%s): asking the next one", source, result.status.value)
        if not failures:
            raise SourcesPaused(min(waits), self.sources)
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
        """Prepare the first entry that is not paused (the one the lookup will ask first)."""
        for scraper, source in zip(self.scrapers, self.sources, strict=True):
            if self._paused(source) > 0:
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
    """Whether the chain asks its next source after ``result``: blocked, network_error or an HTTP 5xx."""
    return result.status in MOVES_ON or (result.http_status >= 500 and not result.status.is_final)


def _with_earlier(result: ScrapeResult, earlier: Sequence[ScrapeResult]) -> ScrapeResult:
    """``result``, its ``error`` led by what the sources asked before it answered (for the row's
    last error). A final answer keeps its own (empty) error: the row stores no error for one."""
    if not earlier or result.status.is_final:
        return result
    steps = [f"{failure.source}: {failure.status.value}" for failure in earlier]
    error = f"{'; '.join(steps)}; then {result.source}: {result.error or result.status.value}"
    return dataclasses.replace(result, error=error[:ERROR_LENGTH])


class _ConfiguredScraper(ConfiguredInstance[Scraper]):
    """``CEDULA_SCRAPER``: one dotted path with ``CEDULA_SCRAPER_OPTIONS``, or a list of entries
    built into a :class:`ScraperChain`."""

    def _build(self) -> Scraper:
        value = app_settings.SCRAPER_CHAIN
        if value is None:
            return super()._build()
        return build_chain(value)


_scraper = _ConfiguredScraper("SCRAPER", "SCRAPER_OPTIONS", Scraper)  # type: ignore[type-abstract]


def get_scraper() -> Scraper:
    """The configured scraper (``CEDULA_SCRAPER``), created once per process: a
    :class:`ScraperChain` when the setting is a list."""
    return _scraper.get()
