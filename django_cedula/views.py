"""The host pieces' view: the logged-in user's validation as JSON (what ``cedula-status.js`` polls).

Include ``django_cedula.urls`` in the project's URLconf::

    path("cedula/", include("django_cedula.urls")),

and ``{% url "django_cedula:status" %}`` is ``/cedula/status/``.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .models import CedulaInfo
from .status import status_payload

__all__ = ["status"]


@never_cache
@require_GET
def status(request: HttpRequest) -> JsonResponse:
    """The user's own validation (:func:`django_cedula.status.status_payload`), never cached.

    Anonymous: 401 with a JSON body (not a redirect to the login page: a script polls this).
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
