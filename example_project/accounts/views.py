"""Registration, the profile page with the cédula's validation, and its "Try again" button.

The profile's status card, its JSON and its polling script are django-cedula's host pieces
(``{% cedula_status_card %}``, ``django_cedula.urls``, ``django_cedula/cedula-status.js``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django.views.generic import CreateView

from django_cedula.conf import app_settings
from django_cedula.models import RETRYABLE_STATUSES, CedulaInfo
from django_cedula.services import request_validation

from .forms import RegistrationForm

Status = CedulaInfo.Status

#: The session key that shows the welcome banner on the profile, until the result is known.
WELCOME_KEY = "example_welcome"
IN_PROGRESS_STATUSES = frozenset({Status.PENDING, Status.PROCESSING, Status.RETRYING})


class RegisterView(CreateView):
    """Create the account and log in; django-cedula queues the validation when the user is saved."""

    form_class = RegistrationForm
    template_name = "accounts/register.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            return redirect("profile")
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: RegistrationForm) -> HttpResponse:
        user = form.save()
        login(self.request, user)
        self.request.session[WELCOME_KEY] = True
        return redirect("profile")


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def _current_info(user: Any) -> CedulaInfo | None:
    # A fresh read every time: a worker process updates the row behind our back.
    return CedulaInfo.objects.filter(user=user).first()


@never_cache
@login_required
@require_GET
def profile(request: HttpRequest) -> HttpResponse:
    """The profile: the package's status card, and a welcome banner until the result is known."""
    info = _current_info(request.user)
    welcome = bool(request.session.get(WELCOME_KEY)) and info is not None and not info.is_final
    if not welcome:
        request.session.pop(WELCOME_KEY, None)
    return render(request, "accounts/profile.html", {"welcome": welcome})


@login_required
@require_POST
def retry_validation(request: HttpRequest) -> HttpResponse:
    """The "Try again" button: ask for a new lookup, unless the cooldown says it is too soon."""
    info = _current_info(request.user)
    if info is not None and info.status not in RETRYABLE_STATUSES:
        messages.info(request, _("Your cédula does not need another check."))
        return redirect("profile")
    requested_before = info.requested_at if info is not None else None
    info = request_validation(request.user)
    if info is None:
        messages.error(request, _("There is no cédula on your account."))
    elif info.status == Status.INVALID:
        messages.error(request, _("Your cédula number is not valid, so it cannot be checked."))
    elif info.requested_at != requested_before and info.status in IN_PROGRESS_STATUSES:
        messages.success(request, _("We are checking your cédula again."))
    elif info.status in IN_PROGRESS_STATUSES:
        messages.info(request, _("A check of your cédula is already under way."))
    else:
        messages.warning(request, _cooldown_message(info))
    return redirect("profile")


def _cooldown_message(info: CedulaInfo) -> str:
    elapsed = (timezone.now() - info.requested_at).total_seconds() if info.requested_at else 0.0
    seconds = max(int(app_settings.REFRESH_COOLDOWN - elapsed) + 1, 1)
    if seconds >= 120:
        minutes = -(-seconds // 60)
        return ngettext(
            "Your cédula was checked a moment ago. You can try again in %(count)d minute.",
            "Your cédula was checked a moment ago. You can try again in %(count)d minutes.",
            minutes,
        ) % {"count": minutes}
    return ngettext(
        "Your cédula was checked a moment ago. You can try again in %(count)d second.",
        "Your cédula was checked a moment ago. You can try again in %(count)d seconds.",
        seconds,
    ) % {"count": seconds}
