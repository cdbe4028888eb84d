"""A model field and a form field for a cédula number, stored as bare digits.

:class:`CedulaField` keeps what :func:`~django_cedula.numbers.normalize_cedula` returns: a value
assigned as ``"1.020.304.050"`` reads back, is saved and is looked up as ``"1020304050"``. So
``CedulaField(unique=True)`` means one account per number, however people type it. A value that
is not a cédula is kept as typed, so that :func:`~django_cedula.numbers.validate_cedula_number`
(the field's validator) can say what is wrong with it.

:class:`CedulaFormField` is the form field the model field gives forms: it accepts the number as
people write it (dots, spaces, dashes) and cleans it to digits.

:class:`CedulaConsentField` is the sign-up form's checkbox for the holder's authorization to look
the cédula up (``CEDULA_PRIVACY["REQUIRE_CONSENT"]``); :class:`django_cedula.forms.CedulaConsentFormMixin`
records it when the form saves the user.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models
from django.db.models.query_utils import DeferredAttribute
from django.utils.translation import gettext_lazy as _

from .exceptions import InvalidCedulaError
from .numbers import MAX_LENGTH, normalize_cedula, validate_cedula_number

__all__ = ["CedulaConsentField", "CedulaField", "CedulaFormField", "normalized_or_as_is"]

#: How long a number may be as people write it ("1 . 020 . 304 . 050"), for the form's input.
WRITTEN_MAX_LENGTH = 32


def normalized_or_as_is(value: Any) -> Any:
    """``value`` as bare digits if it is a cédula; anything else (``None``, ``""``, a typo) unchanged.

    Strings are stripped of surrounding whitespace either way, as form fields do.
    """
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return value
    try:
        return normalize_cedula(value)
    except InvalidCedulaError:
        return value.strip()


class _NormalisingAttribute(DeferredAttribute):
    """The model attribute of a :class:`CedulaField`: normalises what is assigned to it."""

    def __set__(self, instance: models.Model, value: Any) -> None:
        instance.__dict__[self.field.attname] = normalized_or_as_is(value)


class CedulaFormField(forms.CharField):
    """A form field for a cédula: accepts ``1.020.304.050``, cleans to ``"1020304050"``.

    Its error is the validator's (``Enter a valid cédula number: ...``), translated.
    """

    default_validators = [validate_cedula_number]

    def __init__(self, *, max_length: int | None = None, **kwargs: Any) -> None:
        # The length is the validator's business, on the digits: the written number is longer.
        kwargs.setdefault("strip", True)
        super().__init__(max_length=None, **kwargs)

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        return normalized_or_as_is(value)

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        if not widget.is_hidden:
            attrs.setdefault("maxlength", str(WRITTEN_MAX_LENGTH))
            attrs.setdefault("inputmode", "numeric")
            attrs.setdefault("autocomplete", "off")
        return attrs


#: The checkbox's default label: the purpose the holder authorizes, in their language (Ley 1581 de
#: 2012, art. 12: the holder is told what their data is for).
CONSENT_LABEL = _(
    "I authorize this site to check my cédula against the Registraduría Nacional del Estado Civil's "
    "electoral census and to show me my voting place."
)


class CedulaConsentField(forms.BooleanField):
    """The holder's authorization to look their cédula up: a required checkbox.

    Its label names the purpose (:data:`CONSENT_LABEL`, translated); pass ``label=`` for your own
    words, and change ``CEDULA_PRIVACY["CONSENT_VERSION"]`` with them. The form's mixin records the
    label shown as the authorization's text.
    """

    default_error_messages = {
        "required": _("Your authorization is needed to check your cédula with the Registraduría."),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", CONSENT_LABEL)
        kwargs.setdefault("required", True)
        super().__init__(**kwargs)


class CedulaField(models.CharField):  # type: ignore[type-arg]
    """A ``CharField`` holding a cédula number as bare digits (``max_length`` 10, validated).

    With ``null=True``, an empty value is saved as ``NULL``, so that ``unique=True`` allows any
    number of users without a cédula.
    """

    description = _("Cédula number")
    default_validators = [validate_cedula_number]
    descriptor_class = _NormalisingAttribute

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_LENGTH)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if kwargs.get("max_length") == MAX_LENGTH:
            del kwargs["max_length"]
        return name, path, args, kwargs

    def to_python(self, value: Any) -> Any:
        return normalized_or_as_is(super().to_python(value))

    def get_prep_value(self, value: Any) -> Any:
        # Lookups too: filter(cedula="1 020 304 050") finds "1020304050".
        return normalized_or_as_is(super().get_prep_value(value))

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = normalized_or_as_is(getattr(model_instance, self.attname))
        if value == "" and self.null:
            value = None
        setattr(model_instance, self.attname, value)
        return value

    def formfield(self, **kwargs: Any) -> Any:
        defaults: dict[str, Any] = {"form_class": CedulaFormField}
        defaults.update(kwargs)
        return super().formfield(**defaults)
