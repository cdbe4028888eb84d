"""The sign-up form's checkbox (CedulaConsentField) and the mixin that records it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from django_cedula.fields import CedulaConsentField
from django_cedula.forms import CedulaConsentFormMixin
from django_cedula.models import CedulaConsent, CedulaInfo, CedulaStatus
from django_cedula.testing.scrapers import FakeScraper

from .conftest import Capture, no_lookup

pytestmark = pytest.mark.django_db


class SignUpForm(CedulaConsentFormMixin, UserCreationForm):  # type: ignore[type-arg]
    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "cedula")


def data(**extra: Any) -> dict[str, Any]:
    return {
        "username": "ana",
        "password1": "a long enough passphrase",
        "password2": "a long enough passphrase",
        "cedula": "1020304050",
        **extra,
    }


def test_the_field_is_a_required_checkbox_naming_the_purpose() -> None:
    field = CedulaConsentField()
    assert isinstance(field, forms.BooleanField)
    assert field.required
    label = str(field.label)
    assert "Registraduría" in label
    assert "census" in label
    assert "voting place" in label
    with pytest.raises(forms.ValidationError, match="authorization is needed"):
        field.clean(False)
    assert CedulaConsentField(label="Mi texto", required=False).label == "Mi texto"


def test_the_form_refuses_an_unticked_box(django_capture_on_commit_callbacks: Capture) -> None:
    form = SignUpForm(data=data())
    assert list(form.fields)[-1] == "cedula_consent"
    assert not form.is_valid()
    assert "cedula_consent" in form.errors
    assert 'type="checkbox"' in str(form["cedula_consent"])


def test_saving_records_the_authorization_and_queues_the_lookup(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    form = SignUpForm(data=data(cedula_consent="on"))
    assert form.is_valid(), form.errors
    with django_capture_on_commit_callbacks(execute=True):
        user = form.save()
    consent = CedulaConsent.objects.get(user=user)
    assert consent.method == CedulaConsent.Method.FORM
    assert consent.version == "1"
    assert consent.text == str(CedulaConsentField().label)
    assert consent.recorded_by is None
    assert CedulaInfo.objects.get(user=user).status == CedulaStatus.ACTIVE
    assert FakeScraper.calls == ["1020304050"]


def test_commit_false_records_with_save_m2m(django_capture_on_commit_callbacks: Capture) -> None:
    form = SignUpForm(data=data(cedula_consent="on"))
    assert form.is_valid(), form.errors
    user = form.save(commit=False)
    with django_capture_on_commit_callbacks(execute=True):
        user.save()
        assert CedulaInfo.objects.get(user=user).status == CedulaStatus.AWAITING_CONSENT
        assert not CedulaConsent.objects.exists()
        form.save_m2m()
    assert CedulaConsent.objects.get(user=user).method == CedulaConsent.Method.FORM
    assert CedulaInfo.objects.get(user=user).status == CedulaStatus.ACTIVE


def test_an_optional_box_left_empty_records_nothing(
    django_capture_on_commit_callbacks: Capture, make_user: Callable[..., Any]
) -> None:
    class OptionalForm(SignUpForm):
        cedula_consent = CedulaConsentField(required=False)

    form = OptionalForm(data=data())
    assert form.is_valid(), form.errors
    with django_capture_on_commit_callbacks(execute=True):
        user = form.save()
    assert not CedulaConsent.objects.exists()
    assert CedulaInfo.objects.get(user=user).status == CedulaStatus.AWAITING_CONSENT
    assert no_lookup()
