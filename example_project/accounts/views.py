"""Registration, the profile page with the cédula's validation, and its "Try again" button.

The profile's status card, its JSON and its polling script are django-cedula's host pieces
(``{% cedula_status_card %}``, ``django_cedula.urls``, ``django_cedula/cedula-status.js``).
"""

from __future__ import annotations

import math
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

from django_cedula.models import RETRYABLE_STATUSES, CedulaInfo
from django_cedula.services import RequestDecision, request_validation_decision, retry_allowed_at

from .forms import RegistrationForm

#: The session key that shows the welcome banner on the profile, until the result is known.
WELCOME_KEY = "example_welcome"


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
    """The "Try again" button: ask for a new lookup, and say why nothing happened when it is too soon.

    The card disables the button until the status JSON's ``retry_allowed_at``; this view still
    reads the service's decision, for a click from a page left open elsewhere.
    """
    info = _current_info(request.user)
    if info is not None and info.status not in RETRYABLE_STATUSES:
        messages.info(request, _("Your cédula does not need another check."))
        return redirect("profile")
    info, decision = request_validation_decision(request.user)
    if decision is RequestDecision.QUEUED:
        messages.success(request, _("We are checking your cédula again."))
    elif decision is RequestDecision.IN_PROGRESS:
        messages.info(request, _("A check of your cédula is already under way."))
    elif decision is RequestDecision.COOLDOWN and info is not None:
        messages.warning(request, _cooldown_message(info))
    elif decision is RequestDecision.INVALID:
        messages.error(request, _("Your cédula number is not valid, so it cannot be checked."))
    else:
        messages.error(request, _("There is no cédula on your account."))
    return redirect("profile")


def _cooldown_message(info: CedulaInfo) -> str:
    allowed_at = retry_allowed_at(info) or timezone.now()
    seconds = max(math.ceil((allowed_at - timezone.now()).total_seconds()), 1)
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
