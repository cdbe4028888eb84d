"""The package's public operations on users, used by every entry point (receiver, admin, commands)."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from typing import Any

from django.db import router, transaction
from django.utils import timezone

from .conf import app_settings
from .exceptions import InvalidCedulaError
from .models import CedulaInfo, CedulaStatus
from .numbers import normalize_cedula
from .queueing import enqueue_validation_on_commit

logger = logging.getLogger(__name__)

#: States in which a validation is already under way.
IN_PROGRESS = (CedulaStatus.PENDING, CedulaStatus.PROCESSING, CedulaStatus.RETRYING)

_CLEARED: dict[str, Any] = {
    "departamento": "",
    "municipio": "",
    "puesto": "",
    "direccion": "",
    "mesa": "",
    "novedad": "",
    "resolucion": "",
    "fecha_novedad": "",
    "fetched_at": None,
    "error_code": "",
    "error_message": "",
    "raw_response": "",
    "retry_count": 0,
    "next_attempt_at": None,
}


def user_cedula(user: Any) -> object:
    """The raw value of the user's cédula field (``CEDULA_USER_FIELD``)."""
    return getattr(user, app_settings.USER_FIELD, None)


def request_validation(user: Any, *, force: bool = False, using: str | None = None) -> CedulaInfo | None:
    """Ask for ``user``'s cédula to be validated; the first attempt is queued once the transaction commits.

    Creates the user's row, or resets an existing one to PENDING. Without ``force`` it does
    nothing (and returns the row as it is) while a validation is under way, or when the last
    request was less than ``CEDULA_REFRESH_COOLDOWN`` seconds ago. ``force`` restarts it
    regardless; a lookup still running then has its result discarded.

    Returns ``None`` for a user without a cédula. A malformed number gets an INVALID row and no
    job, so it never reaches the network.
    """
    value = user_cedula(user)
    if value is None or value == "":
        return None
    using = using or router.db_for_write(CedulaInfo, instance=user)
    now = timezone.now()
    try:
        cedula = normalize_cedula(value)
    except InvalidCedulaError as exc:
        logger.info("User %s has a malformed cédula; not validated: %s", user.pk, exc)
        info, _ = CedulaInfo.objects.using(using).update_or_create(
            user=user,
            defaults={**_CLEARED, "cedula": "", "status": CedulaStatus.INVALID, "error_message": str(exc),
                      "requested_at": now},
        )  # fmt: skip
        return info
    with transaction.atomic(using=using):
        info = CedulaInfo.objects.using(using).select_for_update().filter(user=user).first()
        if info is not None and not force and info.cedula == cedula:
            if info.status in IN_PROGRESS:
                return info
            cooldown = datetime.timedelta(seconds=app_settings.REFRESH_COOLDOWN)
            if info.requested_at is not None and now - info.requested_at < cooldown:
                return info
        fields = {**_CLEARED, "cedula": cedula, "status": CedulaStatus.PENDING, "requested_at": now}
        if info is None:
            info = CedulaInfo.objects.using(using).create(user=user, **fields)
        else:
            for name, field_value in fields.items():
                setattr(info, name, field_value)
            info.save(using=using)
        enqueue_validation_on_commit(user.pk, 1, using=using)
    return info


def request_validations(users: Iterable[Any], *, force: bool = False) -> int:
    """:func:`request_validation` for many users; returns how many validations were queued or restarted."""
    started = 0
    for user in users:
        before = CedulaInfo.objects.filter(user=user).values_list("requested_at", flat=True).first()
        info = request_validation(user, force=force)
        if info is not None and info.status == CedulaStatus.PENDING and info.requested_at != before:
            started += 1
    return started


def start_validation(user: Any, *, using: str | None = None) -> CedulaInfo | None:
    """What the receiver does for a new user: :func:`request_validation` on the user's database."""
    return request_validation(user, using=using)
