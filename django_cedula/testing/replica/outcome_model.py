"""The outcome model: what kinds of outcome there are and what an outcome carries (a voting place,
a novedad). The table of which number gets which outcome is :mod:`.outcomes`."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping


class OutcomeKind(str, enum.Enum):
    """What the outcome table says about a number."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    CANCELLED = "cancelled"
    UPDATING = "updating"
    CURL_ERROR = "curl_error"
    CURL_ERROR_ONCE = "curl_error_once"
    RELOAD_ONCE = "reload_once"
    CAPTCHA_REJECT = "captcha_reject"
    BLOCK = "block"
    GET500 = "get500"
    SLOW = "slow"
    DROP = "drop"
    GARBAGE = "garbage"
    HUGE = "huge"
    GZIP_BOMB = "gzip_bomb"
    DEEP_JSON = "deep_json"

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class Place:
    """A voting place as the sources show it: upper case, accents, ``No.``, ``#`` and dashes."""

    departamento: str
    municipio: str
    puesto: str
    direccion: str
    mesa: str
    lat: float
    lng: float


@dataclasses.dataclass(frozen=True)
class Novedad:
    """A note on a cédula that keeps it out of the census (cancellation and the like)."""

    text: str
    resolucion: str = ""
    fecha: str = ""
    #: Whether the note means the holder died (the only cancellation with that meaning).
    deceased: bool = False


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The replica's answer for one number, before faults are applied."""

    kind: OutcomeKind
    #: One line for the documentation table.
    summary: str = ""
    #: The voting place; outcomes that end in a found answer always have one after :func:`outcome_for`.
    place: Place | None = None
    novedad: Novedad | None = None
    #: Source B: the ``data`` and ``mapa`` keys are upper case and ``mesa`` is a number, not a string.
    upper_keys: bool = False
    #: Source A: the MESA and DIRECCIÓN columns trade places, to catch parsers that count columns.
    swap_columns: bool = False

    @property
    def label(self) -> str:
        """The short outcome name used in the documentation table."""
        if self.kind is OutcomeKind.CANCELLED and self.novedad is not None and self.novedad.deceased:
            return "cancelled (deceased)"
        return _LABELS[self.kind]


_LABELS: Mapping[OutcomeKind, str] = {
    OutcomeKind.FOUND: "found",
    OutcomeKind.NOT_FOUND: "not found",
    OutcomeKind.CANCELLED: "cancelled (other)",
    OutcomeKind.UPDATING: "en actualización (transient)",
    OutcomeKind.CURL_ERROR: "curl error (transient)",
    OutcomeKind.CURL_ERROR_ONCE: "curl error once",
    OutcomeKind.RELOAD_ONCE: "reload once",
    OutcomeKind.CAPTCHA_REJECT: "captcha rejected",
    OutcomeKind.BLOCK: "block page",
    OutcomeKind.GET500: "500 on GET",
    OutcomeKind.SLOW: "slow",
    OutcomeKind.DROP: "dropped connection",
    OutcomeKind.GARBAGE: "garbage",
    OutcomeKind.HUGE: "huge answer",
    OutcomeKind.GZIP_BOMB: "gzip bomb",
    OutcomeKind.DEEP_JSON: "deep JSON",
}
