"""The sign-up form's half of the holder's authorization: a mixin that adds the checkbox and
records it when the form saves the user.

::

    from django.contrib.auth.forms import UserCreationForm
    from django_cedula.forms import CedulaConsentFormMixin

    class RegistrationForm(CedulaConsentFormMixin, UserCreationForm):
        class Meta(UserCreationForm.Meta):
            model = User
            fields = ("username", "cedula")

A form that saves the user some other way records it with one call once the user exists::

    record_consent(user, method="form", text=form.fields["cedula_consent"].label)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms

from .fields import CedulaConsentField
from .models import CedulaConsent
from .services import record_consent

__all__ = ["CedulaConsentFormMixin"]


class CedulaConsentFormMixin:
    """For a ``ModelForm`` of the user model: adds :class:`~django_cedula.fields.CedulaConsentField`
    as ``cedula_consent`` (after the form's own fields) unless the form declares it, and records the
    authorization (:func:`~django_cedula.services.record_consent`, method ``form``, the label shown
    as its text) once the user is saved: at once with ``save()``, or with ``save_m2m()`` after
    ``save(commit=False)``.

    ``consent_field_name`` names the field; ``consent_version`` the text's version (default
    ``CEDULA_PRIVACY["CONSENT_VERSION"]``).
    """

    consent_field_name = "cedula_consent"
    consent_version: str | None = None

    # What the ModelForm this is mixed into has.
    fields: dict[str, forms.Field]
    cleaned_data: dict[str, Any]
    save_m2m: Callable[[], None]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.consent_field_name not in self.fields:
            self.fields[self.consent_field_name] = CedulaConsentField()

    def consent_text(self) -> str:
        """The words the holder agreed to: the field's label, in the language the page was shown in."""
        return str(self.fields[self.consent_field_name].label or "")

    def record_cedula_consent(self, user: Any) -> CedulaConsent | None:
        """Record the authorization of ``user`` if the box was ticked; ``None`` when it was not
        (an optional field left empty)."""
        if not self.cleaned_data.get(self.consent_field_name):
            return None
        return record_consent(
            user,
            version=self.consent_version,
            text=self.consent_text(),
            method=CedulaConsent.Method.FORM,
        )

    def save(self, commit: bool = True) -> Any:
        user = super().save(commit=commit)  # type: ignore[misc]
        if commit:
            self.record_cedula_consent(user)
            return user
        save_m2m = self.save_m2m

        def save_m2m_and_consent() -> None:
            save_m2m()
            self.record_cedula_consent(user)

        self.save_m2m = save_m2m_and_consent
        return user
