"""Times in the package's admin: the date and the time to the second, with the zone.

Django's admin shows a date-time field in the language's ``DATETIME_FORMAT``, which in English
drops the minutes of a round hour ("Dec. 1, 2026, 4 a.m.") and never shows the seconds or the zone.
A validation's times are read to the second (when was it requested, answered, retried), so the
package's admin pages show them as ``2026-12-01 04:00:07 -05``: in the current time zone (the
project's ``TIME_ZONE`` unless a middleware activates another), whose name or offset ends the text.
This applies to the package's admin only; the host's ``DATETIME_FORMAT`` is left alone.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.utils import dateformat, timezone

#: The format of :func:`format_full_time` (Django's ``date`` filter syntax): ISO 8601's order,
#: which reads the same in every language, then the zone's abbreviation (``UTC``, ``CET``) or, for a
#: zone without one such as ``America/Bogota``, its offset (``-05``).
FULL_TIME_FORMAT = "Y-m-d H:i:s T"


def format_full_time(value: datetime.datetime | None) -> str | None:
    """``value`` in the current time zone as ``2026-12-01 04:00:07 -05``; ``None`` stays ``None``
    (the admin then shows its empty value)."""
    if value is None:
        return None
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return dateformat.format(value, FULL_TIME_FORMAT)


def full_time_display(model: type[Model], name: str) -> Callable[[Any, Any], str]:
    """An admin display method for the date-time field ``name`` of ``model``: headed by the field's
    own verbose name, sorted by the field, showing :func:`format_full_time` (the admin's empty value,
    ``-``, for no time: a read-only field would otherwise show ``None``).

    Set it on a ``ModelAdmin`` or an inline as ``<name>_full = full_time_display(Model, "<name>")``
    and list ``"<name>_full"`` in ``list_display`` or ``readonly_fields``.
    """
    field = model._meta.get_field(name)

    def display(model_admin: Any, obj: Any) -> str:
        text = format_full_time(getattr(obj, name))
        return str(model_admin.get_empty_value_display()) if text is None else text

    display.__name__ = f"{name}_full"
    display.__qualname__ = f"{name}_full"
    return admin.display(description=getattr(field, "verbose_name", name), ordering=name)(display)
