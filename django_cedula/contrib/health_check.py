"""A check for django-health-check (4.x): ``pip install django-cedula[health]``.

:class:`SourceHealth` fails while the site cannot validate a cédula at all: every configured source
(``CEDULA_SOURCES``: the one scraper, or each entry of a chain) is out of service
(:mod:`django_cedula.health`). With a chain, one source out of several is not a failure, since the
others still answer every row: the check passes and logs a warning naming the sources out (the
mail to ``ADMINS`` and the admin's line tell the operators). django-health-check 4 answers HTTP 500
for a ``ServiceWarning`` as for any failure, and shows no text for a check that passed, so a
warning would page as loudly as an outage; a host that wants exactly that sets
``any_source=True``. List it with the host's other checks::

    path("ht/", HealthCheckView.as_view(checks=[
        "health_check.checks.Cache",
        "health_check.checks.Database",
        "django_cedula.contrib.health_check.SourceHealth",
    ])),

A cache that cannot be read fails the check too: the sources' health is unknown then.
"""

from __future__ import annotations

import dataclasses
import logging

try:
    from health_check.base import HealthCheck  # type: ignore[import-untyped]
    from health_check.exceptions import ServiceUnavailable  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "django_cedula.contrib.health_check needs django-health-check 4: "
        "pip install 'django-cedula[health]' (django-health-check>=4)."
    ) from exc

from .. import health
from ..scrapers.chain import source_names

__all__ = ["SourceHealth"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class SourceHealth(HealthCheck):  # type: ignore[misc]
    """Fails while every configured source is out of service (``any_source``: while any one is)."""

    #: Fail as soon as one source is out of service, even when a chain's others still answer.
    any_source: bool = False

    def run(self) -> None:
        names = source_names()
        try:
            out = [state for state in health.states(names) if not state.in_service]
        except Exception as exc:  # a cache that is down raises its client's own errors
            raise ServiceUnavailable(f"the sources' health could not be read ({type(exc).__name__})") from exc
        if not out:
            return
        if len(out) < len(names) and not self.any_source:
            logger.warning(
                "Health check: %s out of service; the other sources answer",
                ", ".join(state.source for state in out),
            )
            return
        described = "; ".join(
            f"{state.source} since {health.since_text(state.since)}: {state.reason_text}" for state in out
        )
        raise ServiceUnavailable(
            f"out of service: {described} (manage.py cedula_sources; rows wait, none is lost)"
        )
