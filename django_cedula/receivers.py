"""``post_save`` receivers on the user model: validate new users, and validate again when a cédula changes."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db.models.signals import post_save

from .conf import app_settings
from .exceptions import InvalidCedulaError
from .models import CedulaInfo
from .numbers import normalize_cedula
from .services import request_validation, start_validation, user_cedula

logger = logging.getLogger(__name__)

DISPATCH_UID = "django_cedula.receivers.user_created"
CHANGE_DISPATCH_UID = "django_cedula.receivers.user_cedula_changed"


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


def user_cedula_changed(
    sender: type[Any],
    instance: Any,
    created: bool,
    raw: bool,
    using: str,
    update_fields: frozenset[str] | None = None,
    **kwargs: Any,
) -> None:
    """Validate again (``force``) when a saved user's cédula differs from the one on their row.

    The saved value, normalised, is compared with ``CedulaInfo.cedula``: the row says what was
    actually validated, so the comparison holds however the instance was loaded or how many
    times it was saved, and it works when ``CEDULA_USER_FIELD`` names a property. (Remembering
    the loaded value in ``post_init`` would instead cost work on every user loaded anywhere,
    and go stale after the first save.) The price is one indexed query per user save, skipped
    when ``update_fields`` leaves the field out, as ``update_last_login`` does on every login.

    A change of format only (``1.020.304.050`` for ``1020304050``) is no change. A cleared
    cédula leaves the row as it is. A user without a row who now has a cédula (registered
    without one) is validated as a new user would be, if ``CEDULA_AUTO_VALIDATE`` is on.
    The new job is queued when the user's transaction commits; a lookup of the old number
    still running has its result discarded.
    """
    if created or raw or not app_settings.REVALIDATE_ON_CHANGE:
        return
    field = app_settings.USER_FIELD
    if update_fields is not None and field not in update_fields and _is_concrete_field(sender, field):
        return  # the field was not written (update_last_login, or an instance loaded without it)
    value = user_cedula(instance)
    row = CedulaInfo.objects.using(using).filter(user_id=instance.pk).values_list("cedula", flat=True).first()
    if row is None:
        if value not in (None, "") and app_settings.AUTO_VALIDATE:
            start_validation(instance, using=using)
        return
    if value is None or value == "":
        return
    try:
        cedula = normalize_cedula(value)
    except InvalidCedulaError:
        cedula = ""  # what an INVALID row stores: malformed before, malformed now, nothing to do
    if cedula == row:
        return
    logger.info("User %s changed their cédula; validating it again", instance.pk)
    request_validation(instance, force=True, using=using)


def _is_concrete_field(model: type[Any], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def connect() -> None:
    """Bind the receivers to the model that ``AUTH_USER_MODEL`` names."""
    post_save.connect(user_created, sender=settings.AUTH_USER_MODEL, dispatch_uid=DISPATCH_UID)
    post_save.connect(user_cedula_changed, sender=settings.AUTH_USER_MODEL, dispatch_uid=CHANGE_DISPATCH_UID)
