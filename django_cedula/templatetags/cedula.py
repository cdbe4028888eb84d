"""``{% load cedula %}{% cedula_status_card %}``: the logged-in user's validation, rendered server-side.

The card works without JavaScript (it shows the state at render time); with
``django_cedula/cedula-status.js`` (included by the card unless ``script=False``) it follows the
validation until it is final by polling :func:`django_cedula.views.status`.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse

from ..models import CedulaInfo
from ..results import NOVEDAD_FIELDS, PLACE_FIELDS
from ..views import field_labels, may_see_place, status_payload

register = template.Library()

SCRIPT = "django_cedula/cedula-status.js"


def _status_url() -> str:
    try:
        return reverse("django_cedula:status")
    except NoReverseMatch:
        return ""  # django_cedula.urls not included: the card shows the state at render time only


def _script_url() -> str:
    try:
        return static(SCRIPT)
    except (ImproperlyConfigured, TypeError, ValueError):
        return ""


@register.inclusion_tag("django_cedula/status_card.html", takes_context=True)
def cedula_status_card(
    context: template.Context,
    user: Any = None,
    *,
    retry_url: str = "",
    script: bool = True,
    card_id: str = "cedula-status",
) -> dict[str, Any]:
    """The status card of ``user`` (default: the request's user; another user's card is not
    followed by the script, since the JSON view answers only the viewer's own validation, and
    shows the voting place only to a viewer with ``django_cedula.view_cedulainfo``).

    ``retry_url``: where a "Try again" form posts (shown on ERROR, TIMEOUT and BLOCKED only);
    ``script=False`` leaves the ``<script>`` out (include ``django_cedula/cedula-status.js``
    yourself); ``card_id`` is the card's ``id``.
    """
    request = context.get("request")
    viewer = getattr(request, "user", None) or context.get("user")
    if user is None:
        user = viewer
    # The JSON view answers the viewer's own row: another user's card (a staff page, say) is
    # rendered once and not followed, or the script would replace it with the viewer's status.
    own = viewer is not None and user is not None and getattr(user, "pk", None) == getattr(viewer, "pk", None)
    info = None
    if user is not None and getattr(user, "is_authenticated", False):
        info = CedulaInfo.objects.filter(user_id=user.pk).first()
    # The place only for its holder, or staff with the view permission (a staff page showing a
    # user's card); anyone else sees the status without it.
    payload = status_payload(info, show_place=may_see_place(viewer, info)) if info is not None else None
    place_labels = field_labels(PLACE_FIELDS)
    novedad_labels = field_labels(NOVEDAD_FIELDS)
    place = (payload or {}).get("place") or {}
    novedad = (payload or {}).get("novedad") or {}
    return {
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
        "card_id": card_id,
        "json_id": f"{card_id}-data",
        "info": payload,
        "status_url": _status_url() if payload is not None and own else "",
        "script_url": _script_url() if script else "",
        "retry_url": retry_url,
        "place_items": [(name, place_labels[name], place.get(name, "")) for name in PLACE_FIELDS],
        "novedad_items": [(name, novedad_labels[name], novedad.get(name, "")) for name in NOVEDAD_FIELDS],
    }
