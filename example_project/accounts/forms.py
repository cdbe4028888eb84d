from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from django_cedula.numbers import normalize_cedula, validate_cedula_number

from .models import User


class RegistrationForm(UserCreationForm):
    """Username, password (twice) and cédula; the number is stored as bare digits."""

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
        self.fields["cedula"].widget.attrs.update({"inputmode": "numeric", "autocomplete": "off"})

    def clean_cedula(self) -> str:
        value = self.cleaned_data["cedula"]
        validate_cedula_number(value)
        return normalize_cedula(value)
