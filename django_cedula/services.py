"""The package's public operations on users, used by every entry point."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from .conf import app_settings
from .exceptions import InvalidCedulaError
from .models import CedulaInfo
from .numbers import normalize_cedula
from .queueing import enqueue_validation_on_commit

logger = logging.getLogger(__name__)


def user_cedula(user: Any) -> object:
    """The raw value of the user's cédula field (``CEDULA_USER_FIELD``)."""
    return getattr(user, app_settings.USER_FIELD, None)


def start_validation(user: Any, *, using: str | None = None) -> CedulaInfo | None:
    """Create the user's PENDING row and queue its first attempt once the transaction commits.

    Returns ``None`` for a user without a cédula. A malformed number gets an INVALID row
    and no job, so it never reaches the network.
    """
    value = user_cedula(user)
    if value is None or value == "":
        return None
    try:
        cedula = normalize_cedula(value)
    except InvalidCedulaError as exc:
        logger.info("User %s has a malformed cédula; not validated: %s", user.pk, exc)
        return CedulaInfo.objects.using(using).create(
            user=user, cedula="", status=CedulaInfo.Status.INVALID, error_message=str(exc)
        )
    with transaction.atomic(using=using):
        info = CedulaInfo.objects.using(using).create(user=user, cedula=cedula)
        enqueue_validation_on_commit(user.pk, 1, using=using)
    return info
