"""The result contract between scrapers and the validation job.

A scraper's ``scrape_cedula(cedula)`` returns a :class:`ScrapeResult`, or a plain
mapping with the same keys; :meth:`ScrapeResult.coerce` accepts both.
This module imports nothing from the package but its exceptions.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import unicodedata
from collections.abc import Mapping
from typing import Any


class ScrapeStatus(str, enum.Enum):
    """What one lookup found out."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    CANCELLED = "cancelled"
    #: The Registraduría says no cédula has this number (the vigencia pre-check's "Cedula no
    #: Existe"): final, and no census lookup is paid for it.
    NONEXISTENT = "nonexistent"
    TIMEOUT = "timeout"
    NETWORK_ERROR = "network_error"
    BLOCKED = "blocked"
    CAPTCHA_FAILED = "captcha_failed"
    PARSE_ERROR = "parse_error"
    #: The source answered HTTP 404 or 410 for its page or its API: the page moved or is gone, which
    #: is how a change of the Registraduría's pages shows. Transient (retried, and a chain asks its
    #: next source), but a kind of its own, so that a source's health can count it.
    PAGE_MOVED = "page_moved"
    #: The form page loaded but no longer has what the scraper needs (its fields, the reCAPTCHA site
    #: key, the script's endpoint): found before any solve, so it cost nothing. A sign that the
    #: source changed its pages (:mod:`django_cedula.health`).
    FORM_CHANGED = "form_changed"
    #: The site refused a freshly solved token (as opposed to the solver failing to give one): a
    #: switch of captcha kind or site key shows this way. A sign that the source changed.
    TOKEN_REFUSED = "token_refused"
    #: The job failed after claiming the row, outside the lookup's own error handling (a
    #: scraper's ``prepare()`` raised, a bug): retried like any other transient failure.
    INTERNAL_ERROR = "internal_error"

    def __str__(self) -> str:
        return self.value

    @property
    def is_final(self) -> bool:
        """A final answer from the source: never retried."""
        return self in ANSWERS

    @property
    def is_transient(self) -> bool:
        """A failure that another attempt may not repeat."""
        return not self.is_final


#: The answers of the source, as opposed to failures to get one.
ANSWERS = frozenset(
    {ScrapeStatus.FOUND, ScrapeStatus.NOT_FOUND, ScrapeStatus.CANCELLED, ScrapeStatus.NONEXISTENT}
)
#: The failures that say the source changed its pages rather than that one lookup failed: a run of
#: them across the cluster takes the source out of service (:mod:`django_cedula.health`).
CHANGE_SIGNS = frozenset(
    {ScrapeStatus.PARSE_ERROR, ScrapeStatus.TOKEN_REFUSED, ScrapeStatus.FORM_CHANGED, ScrapeStatus.PAGE_MOVED}
)

#: Where the holder votes, when the census has the cédula (the model's columns of the same names).
PLACE_FIELDS = ("departamento", "municipio", "puesto", "direccion", "mesa")
#: The census's note on a cancelled cédula.
NOVEDAD_FIELDS = ("novedad", "resolucion", "fecha_novedad")
#: Every field of an answer that the row stores.
DATA_FIELDS = (*PLACE_FIELDS, *NOVEDAD_FIELDS)


@dataclasses.dataclass(frozen=True)
class ScrapeResult:
    """The outcome of one lookup of one cédula."""

    status: ScrapeStatus
    departamento: str = ""
    municipio: str = ""
    puesto: str = ""
    direccion: str = ""
    mesa: str = ""
    novedad: str = ""
    resolucion: str = ""
    fecha_novedad: str = ""
    #: A short, human-readable reason for a failure. Never contains the full cédula.
    error: str = ""
    #: The source's answer (HTML or JSON text) as received; may be empty.
    raw_html: str = ""
    #: Which source answered: the ``source_name`` of the scraper (an entry of ``CEDULA_SOURCES``)
    #: that produced this result. Scrapers may leave it empty; the job and the chain fill it in.
    source: str = ""
    #: The HTTP status of a server error (5xx) the source answered with, whatever ``status`` it was
    #: read as (``network_error``, or ``timeout`` for a gateway's timeout); 0 for any other answer.
    #: Lets a chain of scrapers tell a source that is down from other failures.
    http_status: int = 0

    def __post_init__(self) -> None:
        # Accept "found" as well as ScrapeStatus.FOUND; reject anything else early.
        object.__setattr__(self, "status", ScrapeStatus(self.status))
        if not isinstance(self.http_status, int) or isinstance(self.http_status, bool):
            object.__setattr__(self, "http_status", _as_http_status(self.http_status))

    @classmethod
    def coerce(cls, value: ScrapeResult | Mapping[str, Any]) -> ScrapeResult:
        """Return ``value`` as a :class:`ScrapeResult`.

        Accepts the package's own result or a mapping with a ``status`` key and any of
        the data fields; ``None`` values become empty strings and unknown keys are
        ignored. Raises :class:`ValueError` for an unknown status or another type.
        """
        if isinstance(value, ScrapeResult):
            return value
        if not isinstance(value, Mapping):
            raise ValueError(f"a scraper must return a ScrapeResult or a mapping, not {type(value).__name__}")
        if "status" not in value:
            raise ValueError("a scraper's result has no 'status'")
        fields: dict[str, Any] = {
            field.name: "" if value.get(field.name) is None else str(value[field.name])
            for field in dataclasses.fields(cls)
            if field.name not in ("status", "http_status") and field.name in value
        }
        if "http_status" in value:
            fields["http_status"] = _as_http_status(value["http_status"])
        return cls(status=ScrapeStatus(value["status"]), **fields)

    def as_dict(self) -> dict[str, str]:
        """The result as plain strings, e.g. for JSON output."""
        data = {name: str(value) for name, value in dataclasses.asdict(self).items()}
        data["status"] = self.status.value
        return data


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    """What a free look at a source's form page found (:meth:`BaseScraper.probe
    <django_cedula.scrapers.base.BaseScraper.probe>`): a GET, no solve, no lookup."""

    #: The page has the shape the scraper needs (its fields, the site key, the script's endpoint).
    ok: bool
    #: Why not, when not ``ok``: ``form_changed``, ``page_moved``, ``blocked``, ``network_error``...
    status: ScrapeStatus | None = None
    #: A short, human-readable account (what is missing, the HTTP status). No secret, no cédula.
    detail: str = ""
    #: The page as received (bounded by the caller), for the sample a maintainer fixes the reader from.
    raw_html: str = ""


class Vigencia(str, enum.Enum):
    """What the Registraduría's vigencia service (its deaths registry) says of a number, free and
    without a captcha: the pre-check's answer (:mod:`django_cedula.scrapers.vigencia`)."""

    #: "Vigente (Vivo)": the cédula exists and its holder lives.
    ALIVE = "alive"
    #: "Cancelada por Muerte".
    DECEASED = "deceased"
    #: "Cedula no Existe".
    NONEXISTENT = "nonexistent"
    #: "Sin datos para consultar": the service knows nothing either way.
    NO_DATA = "no_data"

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class PrecheckResult:
    """One answer of a pre-check (or why there is none): ``vigencia`` is ``None`` when the service
    could not be asked or gave nothing readable (``error`` says why); the census lookup then runs as
    if there were no pre-check."""

    vigencia: Vigencia | None = None
    #: The date the service gives with its answer (of the death, for a deceased holder), as written.
    fecha: str = ""
    error: str = ""
    #: The service's answer as received (bounded), for the row's raw response when it is final.
    raw: str = ""
    #: The pre-check's ``source_name`` (the row's ``source`` when its answer ends the validation).
    source: str = ""


def _as_http_status(value: object) -> int:
    """An HTTP status given as a number or its digits; 0 for anything else."""
    if isinstance(value, bool):
        return 0
    try:
        return int(value) if isinstance(value, (int, float, str)) else 0
    except (ValueError, OverflowError):
        return 0


_DEATH_WORDS = re.compile(r"\b(?:muerte|muert[oa]s?|fallec\w*|defuncion\w*|deceso)\b")


def is_death_novedad(novedad: str) -> bool:
    """Whether a cancellation's novedad speaks of death ("Cancelada por Muerte", ...).

    Accents and case are ignored.
    """
    folded = unicodedata.normalize("NFKD", novedad).encode("ascii", "ignore").decode().lower()
    return bool(_DEATH_WORDS.search(folded))
