"""A scraper for tests whose outcome per number the test decides.

Configure it as the one source and either call :meth:`FakeScraper.set_outcome` in the test
(same process) or give the outcomes as options, which also reach worker processes::

    CEDULA_SOURCES = [{
        "BACKEND": "django_cedula.testing.scrapers.FakeScraper",
        "OPTIONS": {
            "outcomes": {"1020304050": ["timeout", "found"]},
            "state_dir": "/tmp/fake-scraper",   # shares call counts between processes
        },
    }]

An outcome is a status word (``"found"``, ``"timeout"``, ...) or a mapping with a
``status`` and data fields. A list gives one outcome per call, the last one repeating.
Numbers with no outcome are found, with a voting place derived from the number.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ..results import ScrapeResult, ScrapeStatus
from ..scrapers.base import BaseScraper

OutcomeSpec = str | Mapping[str, Any] | ScrapeResult

_DEPARTAMENTOS = ("ANTIOQUIA", "BOGOTÁ D.C.", "VALLE", "ATLÁNTICO", "SANTANDER")
_MUNICIPIOS = ("MEDELLÍN", "BOGOTÁ D.C.", "CALI", "BARRANQUILLA", "BUCARAMANGA")


def default_found(cedula: str) -> ScrapeResult:
    """The deterministic found answer for a number without a configured outcome."""
    index = sum(int(digit) for digit in cedula) % len(_DEPARTAMENTOS)
    return ScrapeResult(
        status=ScrapeStatus.FOUND,
        departamento=_DEPARTAMENTOS[index],
        municipio=_MUNICIPIOS[index],
        puesto=f"PUESTO No. {int(cedula[-2:]) + 1}",
        direccion=f"CALLE {int(cedula[-3:]) % 100 + 1} # {index + 10}-{index + 20}",
        mesa=str(int(cedula[-1]) + 1),
        raw_html="<table id='consulta'>fake</table>",
    )


class FakeScraper(BaseScraper):
    """Returns configured outcomes without any network traffic and records every call."""

    #: Outcomes set from test code, shared by every instance in the process.
    outcomes: ClassVar[dict[str, list[OutcomeSpec]]] = {}
    #: Every number looked up in this process, in order.
    calls: ClassVar[list[str]] = []
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        *,
        outcomes: Mapping[str, OutcomeSpec | Sequence[OutcomeSpec]] | None = None,
        state_dir: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.option_outcomes = {number: _as_list(spec) for number, spec in (outcomes or {}).items()}
        self.state_dir = Path(state_dir) if state_dir else None

    @classmethod
    def set_outcome(cls, cedula: str, *outcomes: OutcomeSpec) -> None:
        """Make lookups of ``cedula`` answer ``outcomes`` in turn (the last one repeats)."""
        with cls._lock:
            cls.outcomes[cedula] = list(outcomes)

    @classmethod
    def reset(cls) -> None:
        """Forget outcomes and calls set in this process."""
        with cls._lock:
            cls.outcomes.clear()
            cls.calls.clear()

    def scrape_cedula(self, cedula: str) -> ScrapeResult:
        with self._lock:
            call_index = self._count_call(cedula)
            self.calls.append(cedula)
            specs = self.outcomes.get(cedula) or self.option_outcomes.get(cedula)
        if not specs:
            return default_found(cedula)
        spec = specs[min(call_index, len(specs) - 1)]
        if isinstance(spec, ScrapeResult):
            return spec
        if isinstance(spec, str):
            status = ScrapeStatus(spec)
            if status is ScrapeStatus.FOUND:
                return default_found(cedula)
            return ScrapeResult(
                status=status, error=f"fake {status.value}", raw_html=f"<p>fake {status.value}</p>"
            )
        return ScrapeResult.coerce(spec)

    def _count_call(self, cedula: str) -> int:
        """How many earlier calls this number had: in this process, or across processes with a state_dir."""
        if self.state_dir is None:
            return self.calls.count(cedula)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # One byte appended per call; O_APPEND writes are atomic, so concurrent workers count right.
        fd = os.open(self.state_dir / cedula, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, b".")
            # The offset after our own append counts every call before it, whichever process made them.
            return os.lseek(fd, 0, os.SEEK_CUR) - 1
        finally:
            os.close(fd)

    def call_count(self, cedula: str) -> int:
        """How many lookups of ``cedula`` were made (across processes when a state_dir is set)."""
        if self.state_dir is None:
            return self.calls.count(cedula)
        path = self.state_dir / cedula
        return path.stat().st_size if path.exists() else 0


def _as_list(spec: OutcomeSpec | Sequence[OutcomeSpec]) -> list[OutcomeSpec]:
    if isinstance(spec, (str, Mapping, ScrapeResult)):
        return [spec]
    return list(spec)
