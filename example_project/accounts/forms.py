from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from django_cedula.forms import CedulaConsentFormMixin

from .models import User


class RegistrationForm(CedulaConsentFormMixin, UserCreationForm):
    """Username, password (twice), cédula, and the holder's authorization to look it up.

    The model's ``CedulaField`` gives the form its ``CedulaFormField``: the number is cleaned to
    bare digits, so the model's ``unique`` refuses one already registered however it is written.
    ``CedulaConsentFormMixin`` adds the required checkbox (``cedula_consent``) and records the
    authorization when the user is saved, which queues the lookup (``CEDULA_PRIVACY
    ["REQUIRE_CONSENT"]`` is on, its default: no lookup without it).
    """

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "cedula")
        help_texts = {
            "cedula": _("Dots, spaces and dashes are ignored: 1.020.304.050 is fine."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Optional on the model (staff accounts have none), required to register here.
        self.fields["cedula"].required = True
