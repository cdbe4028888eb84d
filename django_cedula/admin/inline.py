"""The read-only inline that shows a user's validation on the host's own user admin."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from ..models import CedulaInfo
from .bases import CedulaInfoStackedInline
from .fields import NOVEDAD_FIELDS, PLACE_FIELDS, FullTimes


class CedulaInfoInline(FullTimes, CedulaInfoStackedInline):
    """A user's validation, read-only, for the host's user admin (``inlines = [CedulaInfoInline]``).

    Shown to staff with the ``view`` (or ``change``) permission of cédula validations; it never
    adds, changes or deletes a row, and never shows ``raw_response``. When
    :class:`~django_cedula.admin.CedulaInfoAdmin` is registered on the same admin site, a link
    leads to the full page. Times are shown to the second, with the zone.
    """

    model = CedulaInfo
    fk_name = "user"
    # The model's own name, also as the plural: a user has one validation.
    verbose_name = verbose_name_plural = CedulaInfo._meta.verbose_name
    can_delete = False
    show_change_link = True
    fields = readonly_fields = (
        "cedula",
        "status",
        *PLACE_FIELDS,
        *NOVEDAD_FIELDS,
        "requested_at_full",
        "fetched_at_full",
        "source",
        "retry_count",
        "error_code",
        "error_message",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any | None = None) -> bool:
        # The package creates the row when the user's validation is requested.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any | None = None) -> bool:
        # Saving the user must never write the row back over a job's result.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any | None = None) -> bool:
        return False
