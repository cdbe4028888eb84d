"""The free pre-check: the Registraduría's vigencia service, asked before a paid census lookup.

``CEDULA_PRECHECK`` names the part (``{"BACKEND": ..., "OPTIONS": {...}}``, ``None`` by default).
:class:`Precheck` is what its ``BACKEND`` must be; :func:`precheck` is how the job asks it: never
raising, never for longer than the part's own short timeout, and never counting an attempt. Its
answer ends the validation only when it says the number does not exist or its holder died;
anything else (alive, no data, a failure, a pause) lets the census lookup run as if it were not
there.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from ..conf import Configurable, ConfiguredPart, build_part, part_setting
from ..privacy import redact
from ..results import PrecheckResult

logger = logging.getLogger(__name__)

SETTING = "CEDULA_PRECHECK"


class Precheck(Configurable):
    """What ``CEDULA_PRECHECK["BACKEND"]`` must name. Options are keyword arguments of ``__init__``,
    validated there (a wrong one raises :class:`~django_cedula.exceptions.ConfigurationError`)."""

    #: The name its answers are stored under (``CedulaInfo.source``) and its health is kept by.
    source_name: ClassVar[str] = "vigencia"

    def check(self, cedula: str) -> PrecheckResult:
        """Ask about ``cedula`` (digits only) from a plain thread, no ORM; a failure is a result with
        ``vigencia=None`` and ``error`` set. May raise: :func:`precheck` turns it into a result."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the part holds (connections)."""


def build_precheck() -> Precheck | None:
    config = part_setting("PRECHECK")
    if config is None:
        return None
    return build_part(config, Precheck, SETTING)


_precheck: ConfiguredPart[Precheck | None] = ConfiguredPart(SETTING, build_precheck)


def get_precheck() -> Precheck | None:
    """The configured pre-check, created once per process; ``None`` when ``CEDULA_PRECHECK`` is unset."""
    if part_setting("PRECHECK") is None:
        return None
    return _precheck.get()


def precheck(cedula: str) -> PrecheckResult | None:
    """The configured pre-check's answer about ``cedula``; ``None`` when none is configured. Never
    raises: a part that cannot be built or fails is a result without a ``vigencia``, logged."""
    try:
        part = get_precheck()
    except Exception as exc:
        logger.error("The pre-check could not be built (%s): the census lookup runs without it", redact(exc))
        return PrecheckResult(error=f"not built: {type(exc).__name__}")
    if part is None:
        return None
    try:
        given: Any = part.check(cedula)
        if not isinstance(given, PrecheckResult):
            raise TypeError(f"check() returned {type(given).__name__}, not a PrecheckResult")
        answer = given
    except Exception as exc:
        error = redact(f"{type(exc).__name__}: {exc}", cedula)[:500]
        logger.warning("The pre-check failed (%s): the census lookup runs without it", error)
        return PrecheckResult(error=error, source=part.source_name)
    if not answer.source:
        answer = PrecheckResult(
            vigencia=answer.vigencia,
            fecha=answer.fecha,
            error=answer.error,
            raw=answer.raw,
            source=part.source_name,
        )
    return answer
