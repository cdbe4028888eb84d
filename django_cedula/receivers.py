"""The ``post_save`` receiver that starts a validation when a user is created."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db.models.signals import post_save

from .conf import app_settings
from .services import start_validation

logger = logging.getLogger(__name__)

DISPATCH_UID = "django_cedula.receivers.user_created"


def user_created(
    sender: type[Any], instance: Any, created: bool, raw: bool, using: str, **kwargs: Any
) -> None:
    """Create a PENDING ``CedulaInfo`` for a new user and queue its validation after commit.

    Skips updates, fixture loading (``raw``), users without a cédula and projects that
    turned ``CEDULA_AUTO_VALIDATE`` off.
    """
    if not created or raw or not app_settings.AUTO_VALIDATE:
        return
    start_validation(instance, using=using)


def connect() -> None:
    """Bind the receiver to the model that ``AUTH_USER_MODEL`` names."""
    post_save.connect(user_created, sender=settings.AUTH_USER_MODEL, dispatch_uid=DISPATCH_UID)
