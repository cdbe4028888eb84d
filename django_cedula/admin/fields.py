"""The groups of ``CedulaInfo``'s fields, shared so that the row's page (:mod:`.cedula_info`) and
the host's user page (:mod:`.inline`) show the same place and novedad fields."""

from __future__ import annotations

IDENTITY_FIELDS = ("user", "cedula", "status")
PLACE_FIELDS = ("departamento", "municipio", "puesto", "direccion", "mesa")
NOVEDAD_FIELDS = ("novedad", "resolucion", "fecha_novedad")
ATTEMPT_FIELDS = (
    "requested_at",
    "fetched_at",
    "retry_count",
    "next_attempt_at",
    "error_code",
    "error_message",
    "created_at",
    "updated_at",
)
