"""The scraper contract, and asking a scraper as a lookup does.

:class:`Scraper` is what an entry of ``CEDULA_SOURCES`` must name; :class:`BaseScraper` a convenient
base for it.
:func:`ask` is the one way the job (and a chain, for each of its entries) asks a scraper: whatever
the scraper raises or returns becomes a :class:`~django_cedula.results.ScrapeResult` that names its
source, and a block starts the pause after a block. The loader that builds the configured scraper,
one source or a chain of them, is :func:`django_cedula.scrapers.chain.get_scraper`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import traceback
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

from django.core.exceptions import ImproperlyConfigured

from .. import health, throttle
from ..conf import Configurable, app_settings
from ..exceptions import CedulaError, ConfigurationError
from ..privacy import redact
from ..results import ProbeResult, ScrapeResult, ScrapeStatus

logger = logging.getLogger(__name__)

#: How much of a failure's text a result's ``error`` keeps.
ERROR_LENGTH = 500


@runtime_checkable
class Scraper(Protocol):
    """What the ``BACKEND`` of an entry of ``CEDULA_SOURCES`` must name: a class whose instances look
    numbers up, built with the entry's ``OPTIONS`` as keyword arguments.

    ``scrape_cedula`` receives a normalised number (digits only) and returns a
    :class:`~django_cedula.results.ScrapeResult` or a mapping with the same keys. It is
    called from plain synchronous code (a worker, a management command), never from an
    event loop, and must not touch the database.
    """

    def scrape_cedula(self, cedula: str) -> ScrapeResult | Mapping[str, Any]: ...


class SourcesPaused(CedulaError):
    """No source the lookup could ask may be asked now: each is paused after a block (``reason``
    ``"blocked"``) or out of service (``"out_of_service"``, :mod:`django_cedula.health`), and
    nothing was asked, or what was asked only confirmed that its source changed. The job defers
    itself by :attr:`wait` seconds (not an attempt: the row does not pay for the source's change)."""

    def __init__(self, wait: float, sources: Sequence[str], reason: str = "blocked") -> None:
        why = {"blocked": "paused after a block", "deciding": "waiting for its lookups under way"}.get(
            reason, "out of service"
        )
        super().__init__(f"every source is {why} ({', '.join(sources)}): {wait:.0f} s left")
        self.wait = wait
        self.sources = tuple(sources)
        self.reason = reason


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
    #: A source that lives only around elections: not answering at all (no DNS, a refused
    #: connection, HTTP 404 or 5xx) counts as a sign that it is out of season, which takes it out
    #: of service (:mod:`django_cedula.health`) until a free probe finds it answering again.
    seasonal: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("source_name"):
            cls._names_its_source = True
        elif not cls._names_its_source:
            cls.source_name = derived_source_name(cls)

    def scrape_cedula(self, cedula: str) -> ScrapeResult | Mapping[str, Any]:
        raise NotImplementedError

    def ask(self, cedula: str) -> ScrapeResult:
        """``cedula`` looked up as a job does it (see :func:`ask_source`): this scraper on its own,
        whose block pauses every source. A scraper of several sources answers for all of them."""
        return ask_source(self, cedula)

    def paused_sources(self) -> tuple[str, ...] | None:
        """The sources whose own pauses after a block hold this scraper's lookups back (it waits
        only while every one is paused); ``None``: the pause of every source, a single scraper's."""
        return None

    def prepare(self) -> None:
        """Get ready for a lookup without contacting the source (optional; called by the job when
        ``CEDULA_RATE_LIMIT`` is set, before it waits for a slot, so that a slot is not spent starting up)."""

    def probe(self) -> ProbeResult:
        """Look at the source's form page for free (a GET, never a solve or a lookup) and say whether
        it has the shape a lookup needs. Called from a plain thread when the source is out of
        service (:mod:`django_cedula.health`). A scraper that cannot tell says so."""
        return ProbeResult(ok=False, detail="this source cannot be probed")

    def close(self) -> None:
        """Release what the scraper holds (a browser, connections). Called on reset and at exit."""


def ask(scraper: Scraper, cedula: str) -> ScrapeResult:
    """``cedula`` looked up by the configured scraper, one source or a chain alike: its
    :meth:`BaseScraper.ask`, or for a class outside the package's base, :func:`ask_source`."""
    if isinstance(scraper, BaseScraper):
        return scraper.ask(cedula)
    return ask_source(scraper, cedula)


def paused_sources(scraper: Scraper) -> tuple[str, ...] | None:
    """The configured scraper's :meth:`BaseScraper.paused_sources` (``None`` for a class outside the
    package's base: the pause of every source)."""
    return scraper.paused_sources() if isinstance(scraper, BaseScraper) else None


def ask_source(scraper: Scraper, cedula: str, *, own_pause: bool = False) -> ScrapeResult:
    """Ask one source: ``scraper.scrape_cedula(cedula)``, whatever it raises or returns, as a result.

    An exception is a transient ``network_error`` and an answer that is not a result a
    ``parse_error`` (their text masked: a scraper may quote the number); a configuration error,
    and :class:`SourcesPaused`, are raised (not transient: the job ends the row at once, or defers).
    The result names the source that gave it. A ``blocked`` result starts the pause after a block:
    of this source alone with ``own_pause`` (an entry of a chain, whose other sources may still be
    asked), of every source otherwise.

    The source's health (:mod:`django_cedula.health`) is asked first and told after: a source out of
    service is probed for free when a probe is due and otherwise not asked, and a sign of change
    that leaves it out of service raises :class:`SourcesPaused` (``"out_of_service"``) instead of
    returning a failure the row would pay an attempt for.
    """
    source = source_name(scraper)
    admission = _admission(scraper, source)
    try:
        result = _scrape(scraper, source, cedula)
    except BaseException:
        # No answer to count (a configuration error): take this lookup off those in flight, and let
        # a trial's back-off move on rather than hold its lock.
        no_answer = ScrapeResult(status=ScrapeStatus.INTERNAL_ERROR)
        health.report(source, no_answer, trial=admission.trial, counted=admission.counted)
        raise
    if result.status is ScrapeStatus.BLOCKED:
        report_block(source, own_pause=own_pause)
    out = health.report(
        source,
        result,
        cedula=cedula,
        trial=admission.trial,
        counted=admission.counted,
        page_url=str(getattr(scraper, "url", "") or ""),
        seasonal=bool(getattr(scraper, "seasonal", False)),
    )
    if out is not None:
        raise SourcesPaused(_out_wait(out), (source,), reason="out_of_service")
    return result


def _out_wait(state: health.SourceState) -> float:
    """Seconds a job waits for an out-of-service source: until its trial or its next useful probe."""
    if state.in_service:
        return health.MIN_OUT_WAIT
    return max(health.next_look(state) - time.time(), health.MIN_OUT_WAIT)


def _admission(scraper: Scraper, source: str) -> health.Admission:
    """The health's :func:`~django_cedula.health.admit` for ``source``; raises
    :class:`SourcesPaused` when it may not be asked.

    An out-of-service source whose probe is due is probed (free) instead: a job never probes and
    looks up, which together could outlast the job's time. When the probe put the source back, the
    waiting rows are queued at once (this one among them, once it is given back).
    """
    if health.probe_due(source, curable_only=True):
        probe(scraper, source)
        raise SourcesPaused(health.MIN_OUT_WAIT, (source,), reason="out_of_service")
    admission = health.admit(source)
    # While a run of bad answers is being decided by the lookups in flight, wait for them here a
    # little: they end within their own timeout, and the run then says whether to go on.
    deadline = time.monotonic() + health.DECIDING_PATIENCE
    while admission.reason == "deciding" and time.monotonic() < deadline:
        time.sleep(health.DECIDING_POLL)
        admission = health.admit(source)
    if not admission.allowed:
        raise SourcesPaused(admission.wait, (source,), reason=admission.reason)
    return admission


def probe(scraper: Scraper, source: str | None = None) -> ProbeResult:
    """Probe ``scraper``'s form for free and record what it saw (:func:`~django_cedula.health.record_probe`);
    whatever the probe raises is a failed probe."""
    source = source or source_name(scraper)
    look = getattr(scraper, "probe", None)
    try:
        found = look() if callable(look) else ProbeResult(ok=False, detail="this source cannot be probed")
        if not isinstance(found, ProbeResult):
            raise TypeError(f"probe() returned {type(found).__name__}, not a ProbeResult")
    except Exception as exc:
        detail = redact(f"{type(exc).__name__}: {exc}")[:ERROR_LENGTH]
        found = ProbeResult(ok=False, status=ScrapeStatus.NETWORK_ERROR, detail=detail)
    try:
        health.record_probe(source, found)
    except Exception as exc:
        logger.error("Could not record the probe of source %s (%s: %s)", source, type(exc).__name__, exc)
    return found


def _scrape(scraper: Scraper, source: str, cedula: str) -> ScrapeResult:
    """``scraper.scrape_cedula(cedula)`` as a result (see :func:`ask_source`)."""
    try:
        answer = scraper.scrape_cedula(cedula)
    except (ConfigurationError, ImproperlyConfigured, SourcesPaused):
        raise
    except Exception as exc:
        error = redact(f"{type(exc).__name__}: {exc}", cedula)[:ERROR_LENGTH]
        trace = redact("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)), cedula)
        logger.error("Source %s raised:\n%s", source, trace)
        return ScrapeResult(status=ScrapeStatus.NETWORK_ERROR, error=error, source=source)
    try:
        result = ScrapeResult.coerce(answer)
    except ValueError as exc:
        error = redact(exc, cedula)[:ERROR_LENGTH]
        logger.error("Source %s gave an unusable result: %s", source, error)
        return ScrapeResult(status=ScrapeStatus.PARSE_ERROR, error=error, source=source)
    if not result.source:
        result = dataclasses.replace(result, source=source)
    return result


def report_block(source: str, *, own_pause: bool = False) -> None:
    """Start the pause after a block: of ``source`` alone with ``own_pause``, of every source
    otherwise. A cache that fails is logged: the lookup's result stands."""
    try:
        throttle.report_block(source=source if own_pause else None)
    except Exception as exc:
        logger.error("Could not pause source %s after a block (%s: %s)", source, type(exc).__name__, exc)
        return
    if app_settings.BLOCK_COOLDOWN > 0:
        logger.warning(
            "Source %s blocked a lookup: every worker %s for %ss",
            source,
            "skips it" if own_pause else "pauses lookups",
            app_settings.BLOCK_COOLDOWN,
        )


def source_name(scraper: object) -> str:
    """The name of the source a scraper (or scraper class) asks: its ``source_name`` attribute, or,
    for a class without one, its name in lower case without a ``Scraper`` suffix."""
    cls = scraper if isinstance(scraper, type) else type(scraper)
    name = getattr(cls, "source_name", "")
    if isinstance(name, str) and name:
        return name
    return derived_source_name(cls)


def derived_source_name(cls: type) -> str:
    """``WspScraper`` -> ``"wsp"``: a class's name, lower case, without a ``Scraper`` suffix."""
    name = cls.__name__
    if name.endswith("Scraper") and name != "Scraper":
        name = name[: -len("Scraper")]
    return name.lower()[:40]
