"""The groups of ``CedulaInfo``'s fields, shared so that the row's page (:mod:`.cedula_info`) and
the host's user page (:mod:`.inline`) show the same place and record note fields, and the times
in full (:class:`FullTimes`)."""

from __future__ import annotations

from ..models import CedulaInfo
from .times import full_time_display

IDENTITY_FIELDS = ("user", "cedula", "status")
PLACE_FIELDS = ("departamento", "municipio", "puesto", "direccion", "mesa")
NOVEDAD_FIELDS = ("novedad", "resolucion", "fecha_novedad")
#: The date-time fields, each shown through its ``<name>_full`` display of :class:`FullTimes`.
TIME_FIELDS = ("requested_at", "fetched_at", "next_attempt_at", "created_at", "updated_at")
ATTEMPT_FIELDS = (
    "requested_at_full",
    "fetched_at_full",
    "source",
    "retry_count",
    "next_attempt_at_full",
    "error_code",
    "error_message",
    "created_at_full",
    "updated_at_full",
)


class FullTimes:
    """Display methods for the date-time fields of ``CedulaInfo``, to the second with the zone
    (:func:`~.times.format_full_time`), for a ``ModelAdmin`` or inline to inherit."""

    requested_at_full = full_time_display(CedulaInfo, "requested_at")
    fetched_at_full = full_time_display(CedulaInfo, "fetched_at")
    next_attempt_at_full = full_time_display(CedulaInfo, "next_attempt_at")
    created_at_full = full_time_display(CedulaInfo, "created_at")
    updated_at_full = full_time_display(CedulaInfo, "updated_at")
