"""The scraper contract and its loader."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

from ..conf import app_settings
from ..loading import Configurable, ConfiguredInstance
from ..results import ScrapeResult
from .chain import build_chain, derived_source_name


@runtime_checkable
class Scraper(Protocol):
    """What ``CEDULA_SCRAPER`` must name: a class whose instances look numbers up.

    ``scrape_cedula`` receives a normalised number (digits only) and returns a
    :class:`~django_cedula.results.ScrapeResult` or a mapping with the same keys. It is
    called from plain synchronous code (a worker, a management command), never from an
    event loop, and must not touch the database.
    """

    def scrape_cedula(self, cedula: str) -> ScrapeResult | Mapping[str, Any]: ...


class BaseScraper(Configurable):
    """A convenient base for scrapers: keeps options and offers a no-op :meth:`close`.

    Declare a scraper's options as keyword parameters of its ``__init__`` and pass the rest up
    (``super().__init__(**options)``): an option no ``__init__`` declares is refused, at run time
    and by ``manage.py check`` (``django_cedula.E005``).
    """

    #: The source this scraper asks, as results (:attr:`ScrapeResult.source`), the stored row
    #: (``CedulaInfo.source``) and the pause after a block of a chain name it (at most 40
    #: characters). By default the class's name in lower case without a ``Scraper`` suffix; a
    #: subclass of a class that sets it keeps its parent's (the same site).
    source_name: ClassVar[str] = ""
    _names_its_source: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("source_name"):
            cls._names_its_source = True
        elif not cls._names_its_source:
            cls.source_name = derived_source_name(cls)

    def scrape_cedula(self, cedula: str) -> ScrapeResult | Mapping[str, Any]:
        raise NotImplementedError

    def prepare(self) -> None:
        """Get ready for a lookup without contacting the source (optional; called by the job when
        ``CEDULA_RATE_LIMIT`` is set, before it waits for a slot, so that a slot is not spent starting up)."""

    def close(self) -> None:
        """Release what the scraper holds (a browser, connections). Called on reset and at exit."""


class _ConfiguredScraper(ConfiguredInstance[Scraper]):
    """``CEDULA_SCRAPER``: one dotted path with ``CEDULA_SCRAPER_OPTIONS``, or a list of entries
    built into a :class:`~django_cedula.scrapers.chain.ScraperChain`."""

    def _build(self) -> Scraper:
        value = app_settings.SCRAPER_CHAIN
        if value is None:
            return super()._build()
        return build_chain(value, Scraper)  # type: ignore[type-abstract]


_scraper = _ConfiguredScraper("SCRAPER", "SCRAPER_OPTIONS", Scraper)  # type: ignore[type-abstract]


def get_scraper() -> Scraper:
    """The configured scraper (``CEDULA_SCRAPER``), created once per process: a
    :class:`~django_cedula.scrapers.chain.ScraperChain` when the setting is a list."""
    return _scraper.get()
