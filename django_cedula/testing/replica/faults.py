"""Faults: the misbehaviours the replica can be switched into (:class:`FaultMode`), an active one
(:class:`Fault`), and :class:`FaultSwitch`, which keeps the active faults and hands one out where it
applies. :class:`~.control.Replica` exposes it as ``set_fault``/``clear_fault``/``faults``."""

from __future__ import annotations

import dataclasses
import enum
import re
import threading
from collections.abc import Iterable

_SEPARATORS = re.compile(r"[.\s\-]")


class FaultMode(str, enum.Enum):
    """A misbehaviour the replica can be switched into, for one number or for every request.

    Faults that concern lookups fire on the lookup request (Source A's POST, Source B's
    ``back/api/consulta``); ``get500`` fires on the page GET (when set for a number, the
    lookup of that number answers reload and the reloaded page answers 500); ``block``
    fires on page GETs, lookups and the election list; ``block_wsp`` and ``block_censo`` do the
    same for one source only (the other answers as usual).

    ``huge``, ``gzip_bomb`` and ``deep_json`` are oversized answers: a found answer padded to
    :attr:`Replica.huge_bytes <django_cedula.testing.replica.Replica.huge_bytes>` (20 MiB by
    default); the same padded to :attr:`~django_cedula.testing.replica.Replica.bomb_bytes`
    (100 MiB) and sent gzip-compressed (``Content-Encoding: gzip``, about 100 KiB on the wire);
    JSON nested :attr:`~django_cedula.testing.replica.Replica.deep_json_depth` (50,000) deep.

    ``hostile_markup`` answers the lookup with HTTP 200 and :data:`HOSTILE_MARKUP_BYTES` (1 MiB, as
    much as a client reads) of unclosed HTML comments (:func:`hostile_markup`), which the standard
    library's ``html.parser`` takes time quadratic in their length to read.

    ``fingerprint`` answers the firewall's block page with HTTP 403 to page GETs, lookups and the
    election list whose request has not the shape of a browser's (:mod:`.fingerprint`: Chrome's
    User-Agent, client hints, ``Sec-Fetch-*`` headers, their order); a browser's requests pass and
    do not use up its firings. Set for every request (a number's applies to its lookups only).

    ``http429``, ``http407``, ``http404`` and ``http410`` answer with that HTTP status and a short
    HTML page, as a front server would: 429 with ``Retry-After`` (:data:`RETRY_AFTER` seconds), 407
    with ``Proxy-Authenticate`` (a proxy on the way wants credentials), 404 and 410 (the page moved,
    or is gone). Set for every request they fire on page GETs; set for a number, on that number's
    lookups (the answer).

    ``latin1`` answers a lookup in ISO-8859-1, declared so in its ``Content-Type`` (Source A's
    accents as raw bytes instead of PHP's ``\\uXXXX`` escapes).

    Three faults change the site as the Registraduría changes it between election seasons; set them
    for every request on a running replica (:meth:`~django_cedula.testing.replica.Replica.set_fault`,
    or ``POST /__replica__/fault`` from another process) and clear them to switch it back:

    ``new_markup`` (``new_markup_wsp`` and ``new_markup_censo``: that source's lookups only)
        Every lookup that passes the captcha check is answered with a well-formed answer of a new
        shape the package's readers cannot read (:mod:`.changed_pages`: Source A's JSON without
        ``success``/``data.message``, its HTML in a ``<dl>``; Source B's keys renamed): the scrapers
        read ``parse_error``, and each such lookup cost a solve.
    ``form_shape``
        The page GETs serve a changed form: Source A's ``#nuip`` field renamed ``#numdoc`` and its site
        key moved from ``div.g-recaptcha[data-sitekey]`` to another element and attribute; Source B's
        script posting to another API path (``/consultacenso/api/v2/``, which the replica does not
        serve). The scrapers read ``form_changed`` before any solve: 0 solves.
    ``refuse_tokens``
        The site refuses every captcha token, as after a switch of site key or captcha kind: each
        lookup's token is checked (and counted in ``captcha_counts()``) and the lookup answered with
        the page's captcha message. The scrapers read ``token_refused``.

    Five faults concern the vigencia service only (``POST /VigenciaCedula/consulta``, the pre-check's,
    :mod:`.vigencia_endpoints`), for one number or every request; the census pages never take them:

    ``vigencia_429``
        HTTP 429 with ``Retry-After`` (as peers met after pacing themselves too fast).
    ``vigencia_reset``
        The connection reset (TCP RST) without an answer, as peers report of port 8443.
    ``vigencia_shell``
        HTTP 200 with the service's empty Angular page (``<app-root></app-root>``) instead of its JSON.
    ``vigencia_slow``
        The answer (alive) after ``slow_seconds``.
    ``vigencia_garbage``
        HTTP 200, ``application/json``, with JSON cut in the middle.

    Two take the election-season site (:mod:`.elecciones_endpoints`) out of its season, its page and
    its API alike, until cleared; the census sources answer as usual:

    ``elecciones_offline``
        Every connection is closed at once, without an answer (the hosts have no DNS out of season:
        the browser sees a failed load, as for a name that does not resolve).
    ``elecciones_502``
        Every request is answered by a gateway's HTTP 502 page.
    """

    SLOW = "slow"
    DROP = "drop"
    GET500 = "get500"
    BLOCK = "block"
    GARBAGE = "garbage"
    CURL_ERROR = "curl_error"
    CAPTCHA_REJECT = "captcha_reject"
    RELOAD = "reload"
    UPDATING = "updating"
    HUGE = "huge"
    GZIP_BOMB = "gzip_bomb"
    DEEP_JSON = "deep_json"
    # ``block`` for one source only (page GETs, lookups, the election list of that source).
    BLOCK_WSP = "block_wsp"
    BLOCK_CENSO = "block_censo"
    FINGERPRINT = "fingerprint"
    # An HTTP status instead of the page (set for every request) or of a number's answer.
    HTTP429 = "http429"
    HTTP407 = "http407"
    HTTP404 = "http404"
    HTTP410 = "http410"
    LATIN1 = "latin1"
    HOSTILE_MARKUP = "hostile_markup"
    # The site changed: answers, form page, captcha verification (see the docstring).
    NEW_MARKUP = "new_markup"
    NEW_MARKUP_WSP = "new_markup_wsp"
    NEW_MARKUP_CENSO = "new_markup_censo"
    FORM_SHAPE = "form_shape"
    REFUSE_TOKENS = "refuse_tokens"
    # The vigencia service's own (see the docstring).
    VIGENCIA_429 = "vigencia_429"
    VIGENCIA_RESET = "vigencia_reset"
    VIGENCIA_SHELL = "vigencia_shell"
    VIGENCIA_SLOW = "vigencia_slow"
    VIGENCIA_GARBAGE = "vigencia_garbage"
    # The election-season site out of its season (see the docstring).
    ELECCIONES_OFFLINE = "elecciones_offline"
    ELECCIONES_502 = "elecciones_502"

    def __str__(self) -> str:
        return self.value


#: The faults of the vigencia service (the census pages never take them).
VIGENCIA_FAULTS = (
    FaultMode.VIGENCIA_429,
    FaultMode.VIGENCIA_RESET,
    FaultMode.VIGENCIA_SHELL,
    FaultMode.VIGENCIA_SLOW,
    FaultMode.VIGENCIA_GARBAGE,
)

#: Bytes of a ``hostile_markup`` answer: 1 MiB, the most the scrapers read of an answer.
HOSTILE_MARKUP_BYTES = 1024 * 1024

#: Markup that costs a naive HTML reader time or memory out of proportion to its length, by kind:
#: the text it opens with and the unit repeated after it (see :func:`hostile_markup`).
HOSTILE_MARKUP: dict[str, tuple[bytes, bytes]] = {
    "unclosed_comments": (b"", b"<!--"),
    "repeated_attributes": (b"<a", b" x=y"),
    "deep_nesting": (b"", b"<div>"),
    "huge_text": (b"<p>", b"lorem ipsum "),
    "entity_flood": (b"", b"&amp;"),
    "unclosed_tags": (b"", b"<b>"),
    "table_cells": (b"<table>", b"<td>"),
    "stray_brackets": (b"", b"<"),
}


def hostile_markup(kind: str = "unclosed_comments", size: int = HOSTILE_MARKUP_BYTES) -> bytes:
    """``size`` bytes of the ``kind`` of :data:`HOSTILE_MARKUP` (ASCII). The ``hostile_markup`` fault
    answers with unclosed comments, on which the standard library's ``html.parser`` is quadratic."""
    head, unit = HOSTILE_MARKUP[kind]
    return (head + unit * (size // len(unit) + 1))[:size]


#: The block faults that apply to each source (:attr:`RequestRecord.source <.records.RequestRecord.source>`).
_SOURCE_BLOCKS = {"wsp": FaultMode.BLOCK_WSP, "censo": FaultMode.BLOCK_CENSO}


#: The faults that answer with an HTTP status of their own (:attr:`FaultMode.HTTP429` ...), by status.
STATUS_FAULTS = {
    FaultMode.HTTP429: 429,
    FaultMode.HTTP407: 407,
    FaultMode.HTTP404: 404,
    FaultMode.HTTP410: 410,
}
#: The ``Retry-After`` (seconds) of the ``http429`` fault's answer.
RETRY_AFTER = 120


def block_modes(source: str) -> tuple[FaultMode, ...]:
    """The faults that block a request to ``source``: ``block`` and that source's own."""
    own = _SOURCE_BLOCKS.get(source)
    return (FaultMode.BLOCK,) if own is None else (FaultMode.BLOCK, own)


@dataclasses.dataclass
class Fault:
    """An active fault: ``mode`` for ``cedula`` (``None``: every request) for ``remaining`` more firings."""

    mode: FaultMode
    cedula: str | None = None
    #: Firings left; ``None`` means until cleared.
    remaining: int | None = None
    fired: int = 0


def normalize_number(value: str | int) -> str:
    """``"1.000.000-001"`` -> ``"1000000001"``: how fault keys are stored and matched."""
    return _SEPARATORS.sub("", str(value))


class FaultSwitch:
    """The active faults, guarded by the replica's lock (shared, so that ``reset`` is one step)."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._faults: list[Fault] = []

    def set(self, mode: FaultMode | str, cedula: str | int | None, times: int | None) -> None:
        """Switch ``mode`` on for ``cedula`` for ``times`` firings (see :meth:`Replica.set_fault`)."""
        fault_mode = FaultMode(mode)
        if times is not None and times < 1:
            raise ValueError("times must be a positive number of firings, or None")
        key = None if cedula is None else normalize_number(cedula)
        with self._lock:
            self._faults = [f for f in self._faults if not (f.mode is fault_mode and f.cedula == key)]
            self._faults.append(Fault(fault_mode, key, times))

    def clear(self, mode: FaultMode | str, cedula: str | int | None) -> None:
        """Switch off ``mode`` for ``cedula`` (``None``: the one set for every request)."""
        fault_mode = FaultMode(mode)
        key = None if cedula is None else normalize_number(cedula)
        with self._lock:
            self._faults = [f for f in self._faults if not (f.mode is fault_mode and f.cedula == key)]

    def clear_all(self) -> None:
        """Switch off every fault."""
        with self._lock:
            self._faults = []

    def active(self) -> list[Fault]:
        """The active faults (copies)."""
        with self._lock:
            return [dataclasses.replace(f) for f in self._faults]

    def take(
        self, modes: Iterable[FaultMode], cedula: str | None, *, run_modes: Iterable[FaultMode] | None = None
    ) -> Fault | None:
        """The fault that fires here, if any (a copy), counted as fired and used up by one firing."""
        # Called where a fault would apply; a fault is used up only when it actually fires.
        # ``run_modes`` narrows which faults set for every request apply here (default: ``modes``).
        wanted = frozenset(modes)
        wanted_run = wanted if run_modes is None else frozenset(run_modes)
        with self._lock:
            candidates = [f for f in self._faults if f.cedula is not None and f.cedula == cedula]
            candidates += [f for f in self._faults if f.cedula is None]
            for fault in candidates:
                if fault.mode not in (wanted if fault.cedula is not None else wanted_run):
                    continue
                fault.fired += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return dataclasses.replace(fault)
        return None
