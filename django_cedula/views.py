"""What a user may see of their own validation: one payload for the host pieces, and its view.

:func:`status_payload` is the JSON of :func:`status` (what ``cedula-status.js`` polls), the context
of the ``{% cedula_status_card %}`` tag and the output of the DRF serializer. It holds the masked
cédula only, and none of the row's internals (``raw_response``, ``error_message``,
``error_code``). The voting place says roughly where the holder lives: it is given only to the
holder and to staff with the ``django_cedula.view_cedulainfo`` permission (:func:`may_see_place`).

Include ``django_cedula.urls`` in the project's URLconf::

    path("cedula/", include("django_cedula.urls")),

and ``{% url "django_cedula:status" %}`` is ``/cedula/status/``.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .models import CANCELLED_STATUSES, RETRYABLE_STATUSES, CedulaInfo, CedulaStatus
from .privacy import mask_cedula
from .results import NOVEDAD_FIELDS, PLACE_FIELDS
from .services import RequestDecision, retry_allowed_at

#: Beyond this many minutes the relative time counts hours.
_MINUTE_STEPS = 90


def field_labels(names: tuple[str, ...]) -> dict[str, str]:
    """The translated labels of ``CedulaInfo`` fields (``"Department"``, ...), capitalised."""
    labels = {}
    for name in names:
        field = CedulaInfo._meta.get_field(name)
        label = str(getattr(field, "verbose_name", name))
        labels[name] = label[:1].upper() + label[1:]
    return labels


#: The permission that shows another user's voting place (Django's own ``view`` permission of the model).
VIEW_PERMISSION = "django_cedula.view_cedulainfo"


def may_see_place(viewer: Any, info: CedulaInfo) -> bool:
    """Whether ``viewer`` (a user, or ``None``) may see ``info``'s voting place: its holder, or a
    user with ``django_cedula.view_cedulainfo`` (a superuser has every permission)."""
    if viewer is None or not getattr(viewer, "is_authenticated", False):
        return False
    return bool(viewer.pk == info.user_id or viewer.has_perm(VIEW_PERMISSION))


def cedula_exists(info: CedulaInfo) -> bool | None:
    """Whether the cédula exists, as far as the row knows: ``True`` for a number in the census or
    with a record note, or one the vigencia pre-check found (alive or cancelled by death);
    ``False`` for a number that does not exist; ``None`` when nothing says (not in the census
    without a pre-check, under way, failed)."""
    if info.status == CedulaStatus.NONEXISTENT or info.vigencia == "nonexistent":
        return False
    if info.status == CedulaStatus.ACTIVE or info.status in CANCELLED_STATUSES:
        return True
    if info.vigencia in ("alive", "deceased"):
        return True
    return None


def status_display(info: CedulaInfo) -> str:
    """The status's label; "not in the census" said apart when the cédula is known to exist."""
    if info.exists_but_not_registered:
        return gettext("Not registered to vote; the cédula exists")
    return str(info.get_status_display())


def status_message(info: CedulaInfo) -> str:
    """A sentence for the user about where their validation stands (translated)."""
    status = info.status
    if status == CedulaStatus.AWAITING_CONSENT:
        return gettext(
            "Your cédula will be checked with the Registraduría once you authorize it; nothing has "
            "been looked up yet."
        )
    if status == CedulaStatus.NONEXISTENT:
        return gettext("The Registraduría says no cédula with this number exists. Check the number.")
    if info.exists_but_not_registered:
        return gettext(
            "Your cédula exists, but the Registraduría says it is not registered to vote in the "
            "current census."
        )
    if status == CedulaStatus.ACTIVE and info.purged_at is not None:
        return gettext(
            "Your cédula is in the census. Your voting place is no longer kept here (it is deleted "
            "after a while); ask the Registraduría for it."
        )
    if status == CedulaStatus.PENDING:
        return gettext("Your cédula is waiting to be checked with the Registraduría.")
    if status == CedulaStatus.PROCESSING:
        return gettext("We are asking the Registraduría about your cédula.")
    if status == CedulaStatus.RETRYING:
        return gettext("The Registraduría did not answer properly; we will ask again.")
    if status == CedulaStatus.ACTIVE:
        return gettext("Your cédula is in the census. This is where you vote:")
    if status == CedulaStatus.NOT_FOUND:
        return gettext("The Registraduría says this cédula is not in the census for the current election.")
    if status in CANCELLED_STATUSES:
        return gettext("The Registraduría has a record note on this cédula, so it cannot vote:")
    if status == CedulaStatus.INVALID:
        return gettext("This is not a valid cédula number, so it was not looked up.")
    if status == CedulaStatus.TIMEOUT:
        return gettext("The Registraduría took too long to answer.")
    if status == CedulaStatus.BLOCKED:
        return gettext("The Registraduría's site refused our requests for now.")
    return gettext("Something went wrong while asking the Registraduría.")


def time_with_zone(moment: datetime.datetime) -> str:
    """``moment`` in the current time zone as ``"14:05:08 UTC-05:00"`` (or ``"14:05:08 CET"``).

    The zone's abbreviation when it has a real one; otherwise the UTC offset (America/Bogota's
    abbreviation in the tz database is just ``-05``).
    """
    local = timezone.localtime(moment)
    name = local.tzname() or ""
    if not name[:1].isalpha():
        offset = local.strftime("%z")  # "-0500"
        name = f"UTC{offset[:3]}:{offset[3:5]}" if offset else "UTC"
    return f"{local:%H:%M:%S} {name}"


def in_words(seconds: float) -> str:
    """How long until something, in words: ``"in about a minute"``; ``"any moment now"`` once past.

    A delayed job may start some 30 s after its time (Django-Q2's scheduler ticks), so a time
    just past is "any moment now", never "late".
    """
    if seconds <= 0:
        return gettext("any moment now")
    if seconds <= 10:
        return gettext("in a few seconds")
    if seconds <= 45:
        return gettext("in less than a minute")
    if seconds <= 90:
        return gettext("in about a minute")
    if seconds <= _MINUTE_STEPS * 60:
        minutes = max(round(seconds / 60), 2)
        return ngettext("in about %(count)d minute", "in about %(count)d minutes", minutes) % {
            "count": minutes
        }
    hours = round(seconds / 3600)
    return ngettext("in about %(count)d hour", "in about %(count)d hours", hours) % {"count": hours}


def words_steps(seconds: float) -> list[dict[str, Any]]:
    """The words of :func:`in_words` from ``seconds`` down to past, for a script to count down with.

    Each step is ``{"above": s, "text": ...}``: its text holds while more than ``s`` seconds
    remain (``None``: whatever remains). Highest first.
    """
    steps: list[dict[str, Any]] = []
    if seconds > _MINUTE_STEPS * 60:
        steps.append({"above": _MINUTE_STEPS * 60, "text": in_words(seconds)})
    top = min(max(round(seconds / 60), 2), _MINUTE_STEPS)
    if seconds > 90:
        for minutes in range(top, 1, -1):
            steps.append({"above": max(60 * minutes - 30, 90), "text": in_words(60 * minutes)})
    steps += [
        {"above": 45, "text": in_words(90)},
        {"above": 10, "text": in_words(45)},
        {"above": 0, "text": in_words(10)},
        {"above": None, "text": in_words(0)},
    ]
    return steps


def _iso(moment: datetime.datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat() if moment is not None else None


def _countdown(moment: datetime.datetime, now: datetime.datetime) -> dict[str, Any]:
    """``moment`` for a page to show and count down to: ISO, displayed with its zone, in words."""
    seconds = (moment - now).total_seconds()
    return {
        "at": _iso(moment),
        "at_display": time_with_zone(moment),
        "time_zone": timezone.get_current_timezone_name(),
        "in_seconds": math.floor(seconds * 10) / 10,
        "in_words": in_words(seconds),
        "steps": words_steps(seconds),
    }


def _next_attempt(info: CedulaInfo, now: datetime.datetime) -> dict[str, Any] | None:
    if info.status != CedulaStatus.RETRYING or info.next_attempt_at is None:
        return None
    return _countdown(info.next_attempt_at, now)


def _retry(info: CedulaInfo, now: datetime.datetime) -> tuple[datetime.datetime | None, dict[str, Any]]:
    """From when :func:`~django_cedula.services.request_validation` (without ``force``) would
    queue a new validation (not before ``now``; ``None`` while one is under way, or for a number
    that is not one), and what it would answer now."""
    if info.status == CedulaStatus.INVALID:
        # The row keeps no number: only a corrected one can be validated.
        return None, {"allowed": False, "refusal": RequestDecision.INVALID.value, "wait": None}
    if info.status == CedulaStatus.AWAITING_CONSENT:
        # Nothing to retry: the lookup waits for the holder's authorization, then runs by itself.
        return None, {"allowed": False, "refusal": RequestDecision.AWAITING_CONSENT.value, "wait": None}
    allowed_at = retry_allowed_at(info)
    if allowed_at is None:
        return None, {"allowed": False, "refusal": RequestDecision.IN_PROGRESS.value, "wait": None}
    if allowed_at <= now:
        return now, {"allowed": True, "refusal": None, "wait": None}
    wait = _countdown(allowed_at, now)
    return allowed_at, {"allowed": False, "refusal": RequestDecision.COOLDOWN.value, "wait": wait}


def status_payload(
    info: CedulaInfo, *, now: datetime.datetime | None = None, show_place: bool = True
) -> dict[str, Any]:
    """Where ``info``'s validation stands, for its own user: JSON-ready, translated, masked.

    ``place`` is ``None`` unless the row has one (ACTIVE, not purged) and ``show_place``: pass
    :func:`may_see_place` of the viewer when the viewer may not be the holder. ``exists`` is
    :func:`cedula_exists`.
    """
    now = now or timezone.now()
    next_attempt = _next_attempt(info, now)
    retry_at, retry = _retry(info, now)
    has_place = info.status == CedulaStatus.ACTIVE and info.purged_at is None
    return {
        "status": str(info.status),
        "status_display": status_display(info),
        "is_final": info.is_final,
        "retryable": info.status in RETRYABLE_STATUSES,
        "exists": cedula_exists(info),
        "cedula_masked": mask_cedula(info.cedula),
        "message": status_message(info),
        "place": ({name: getattr(info, name) for name in PLACE_FIELDS} if has_place and show_place else None),
        "novedad": (
            {name: getattr(info, name) for name in NOVEDAD_FIELDS}
            if info.status in CANCELLED_STATUSES
            else None
        ),
        "next_attempt_at": next_attempt["at"] if next_attempt else None,
        "next_attempt": next_attempt,
        "retry_count": info.retry_count,
        "fetched_at": _iso(info.fetched_at),
        "retry_allowed_at": _iso(retry_at),
        "retry": retry,
        "now": _iso(now),
    }


# Exempt from LoginRequiredMiddleware: it answers an anonymous request itself, with a 401 a script
# understands, where the middleware would redirect the script to an HTML login page.
@login_not_required
@never_cache
@require_GET
def status(request: HttpRequest) -> JsonResponse:
    """The user's own validation (:func:`status_payload`), never cached: only ever the
    requesting user's own row, so its place is theirs to see.

    Anonymous: 401 with a JSON body (not a redirect to the login page: a script polls this), also
    under ``LoginRequiredMiddleware``, which this view is exempt from.
    A user without a ``CedulaInfo``: 404 with a JSON body. The cédula is masked.
    """
    if not request.user.is_authenticated:
        return JsonResponse(
            {"error": "not_authenticated", "detail": gettext("Log in to see your cédula's status.")},
            status=401,
        )
    # A fresh read every time: a worker process updates the row behind the request's back.
    info = CedulaInfo.objects.filter(user_id=request.user.pk).first()
    if info is None:
        return JsonResponse(
            {"error": "not_found", "detail": gettext("There is no cédula validation on your account.")},
            status=404,
        )
    return JsonResponse(status_payload(info))
