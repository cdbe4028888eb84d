"""``CEDULA_USER_FIELD`` against the host's user model: E007."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage
from django.core.exceptions import FieldDoesNotExist

from .messages import error, raw


def check_user_field(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E007."""
    name = raw("USER_FIELD")
    try:
        user_model = apps.get_model(settings.AUTH_USER_MODEL)
    except (LookupError, ValueError):
        return []  # Django's own checks report a broken AUTH_USER_MODEL
    if isinstance(name, str):
        try:
            user_model._meta.get_field(name)
            return []
        except FieldDoesNotExist:
            if isinstance(getattr(user_model, name, None), property):
                return []  # a computed attribute is fine: the receiver only reads it
    fields = ", ".join(sorted(f.name for f in user_model._meta.concrete_fields))
    return [
        error(
            7,
            "USER_FIELD",
            f"{name!r} is not a field of {settings.AUTH_USER_MODEL}",
            f"Name the field that holds the cédula; {settings.AUTH_USER_MODEL} has: {fields}.",
        )
    ]
