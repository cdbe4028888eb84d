"""The holder's rights (Ley 1581 de 2012, art. 8): to know what is kept about them, and to have it
deleted. One call each, for the site's own pages, its support staff and the admin's actions.

:func:`export` gives everything the package keeps about a user, JSON-ready (a request to know);
:func:`forget` withdraws their authorization and deletes their validation row, keeping the
authorization records (``CedulaConsent``) the law requires as proof. Deleting the user deletes the
row too (``CASCADE``); the authorization records then keep the holder's id as text (``user_ref``).

Neither touches the host's own user model: the cédula in the user's field (``CEDULA_USER_FIELD``)
is the site's to clear or delete with the account.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from typing import Any

from django.db import router, transaction
from django.utils import timezone

from .conf import app_settings
from .models import CedulaConsent, CedulaInfo, forget_outcome
from .services import withdraw_consent

logger = logging.getLogger(__name__)

#: The version of :func:`export`'s layout, in its ``format`` key.
EXPORT_FORMAT = "django-cedula.export/1"

# The row's columns :func:`export` leaves out: its keys (the holder is the export's subject), and
# the raw answer, which is given apart, only when kept.
_NOT_EXPORTED = frozenset({"id", "user", "raw_response"})


def _value(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


def _row(info: CedulaInfo) -> dict[str, Any]:
    """Every field of the row, by name, with the status and vigencia also as their labels."""
    data: dict[str, Any] = {}
    for field in CedulaInfo._meta.concrete_fields:
        if field.name in _NOT_EXPORTED:
            continue
        data[field.name] = _value(getattr(info, field.attname))
    data["status_display"] = str(info.get_status_display())
    data["vigencia_display"] = str(info.get_vigencia_display()) if info.vigencia else ""
    if info.raw_response:
        data["raw_response"] = info.raw_response
    return data


def _authorization(consent: CedulaConsent) -> dict[str, Any]:
    return {
        "version": consent.version,
        "text": consent.text,
        "method": consent.method,
        "method_display": str(consent.get_method_display()),
        "recorded_by": None if consent.recorded_by_id is None else str(consent.recorded_by_id),
        "granted_at": _value(consent.granted_at),
        "withdrawn_at": _value(consent.withdrawn_at),
        "in_force": consent.in_force,
    }


def export(user: Any, *, using: str | None = None) -> dict[str, Any]:
    """What the package keeps about ``user``, as a JSON-ready dict (``json.dumps`` takes it as is).

    ``validation``: the validation row (``None`` without one): the full cédula (it is the holder's
    own), the status, the voting place and record note, the source that answered and every date;
    ``raw_response`` only while the source's raw answer is kept (``CEDULA_PRIVACY
    ["RAW_RESPONSE_DAYS"]``). ``authorizations``: every authorization recorded, newest first, with
    its version, text, how and by whom (an id) it was recorded, and when it was granted and
    withdrawn. ``retention``: how long the raw answer and the place are kept, in days (``None``:
    as long as the row).
    """
    using = using or router.db_for_read(CedulaInfo)
    info = CedulaInfo.objects.using(using).filter(user_id=user.pk).first()
    consents = CedulaConsent.objects.using(using).filter(user_id=user.pk).order_by("-granted_at", "-pk")
    privacy = app_settings.PRIVACY
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _value(timezone.now()),
        "holder": str(user.pk),
        "validation": None if info is None else _row(info),
        "authorizations": [_authorization(consent) for consent in consents],
        "retention": {
            "raw_response_days": privacy["RAW_RESPONSE_DAYS"],
            "place_days": privacy["PLACE_DAYS"],
        },
    }


@dataclasses.dataclass(frozen=True)
class Forgotten:
    """What :func:`forget` did."""

    #: Authorizations in force that were withdrawn (their records stay, as proof).
    authorizations_withdrawn: int
    #: Validation rows deleted (0 or 1).
    rows_deleted: int


def forget(user: Any, *, using: str | None = None) -> Forgotten:
    """Delete what the package keeps about ``user`` beyond what the law requires to keep.

    In one transaction: the authorizations in force are withdrawn (:func:`~.services.withdraw_consent`:
    no further lookup), and the validation row is deleted: the cédula, the place, the raw answer,
    the dates. The authorization records stay (``CedulaConsent``): they are the proof that the
    lookups made were authorized (Decreto 1377 de 2013, art. 8), and hold no cédula. A lookup
    running at that moment finds the row gone and stores nothing.
    """
    using = using or router.db_for_write(CedulaInfo, instance=user)
    with transaction.atomic(using=using):
        withdrawn = withdraw_consent(user, using=using)
        rows = CedulaInfo.objects.using(using).filter(user_id=user.pk)
        seen = rows.first()
        deleted, _ = rows.delete()
        if seen is not None:
            # An outcome a job kept for the sweeper (a database outage) is the holder's data too.
            transaction.on_commit(lambda: forget_outcome(seen, seen.retry_count + 1), using=using)
    logger.info("Forgot user %s: %s authorizations withdrawn, %s rows deleted", user.pk, withdrawn, deleted)
    return Forgotten(authorizations_withdrawn=withdrawn, rows_deleted=deleted)
