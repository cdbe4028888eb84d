"""Cédula numbers: normalising, validating and masking.

Colombian cédulas are 3 to 10 digits once dots, spaces and dashes are removed,
with no check digit and no leading zero. Anything else is refused here, before
any network traffic.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _gettext
from django.utils.translation import gettext_lazy as _

from .exceptions import InvalidCedulaError

MIN_LENGTH = 3
MAX_LENGTH = 10

_SEPARATORS = re.compile(r"[.\s\-]")
_VALID = re.compile(rf"[1-9][0-9]{{{MIN_LENGTH - 1},{MAX_LENGTH - 1}}}")


def normalize_cedula(value: object) -> str:
    """Return ``value`` as a bare string of digits, or raise :class:`InvalidCedulaError`.

    Dots, spaces and dashes are stripped (``"1.020.304-050"`` -> ``"1020304050"``).
    The error message never repeats the number.
    """
    if value is None or isinstance(value, bool):
        raise InvalidCedulaError(_gettext("a cédula number is required"))
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidCedulaError(_gettext("a cédula number must be text"))
    digits = _SEPARATORS.sub("", value)
    if not digits:
        raise InvalidCedulaError(_gettext("a cédula number is required"))
    if not digits.isascii() or not digits.isdigit():
        raise InvalidCedulaError(
            _gettext("a cédula number has digits only (dots, spaces and dashes are ignored)")
        )
    if digits.startswith("0"):
        raise InvalidCedulaError(_gettext("a cédula number does not start with 0"))
    if not _VALID.fullmatch(digits):
        raise InvalidCedulaError(
            _gettext("a cédula number has %(min)d to %(max)d digits, not %(count)d")
            % {"min": MIN_LENGTH, "max": MAX_LENGTH, "count": len(digits)}
        )
    return digits


def is_valid_cedula(value: object) -> bool:
    """Whether ``value`` normalises to a well-formed cédula number."""
    try:
        normalize_cedula(value)
    except InvalidCedulaError:
        return False
    return True


def validate_cedula_number(value: object) -> None:
    """A Django validator for model and form fields that hold a cédula."""
    try:
        normalize_cedula(value)
    except InvalidCedulaError as exc:
        raise ValidationError(
            _("Enter a valid cédula number: %(reason)s."),
            code="invalid_cedula",
            params={"reason": str(exc)},
        ) from exc


def mask_cedula(value: object) -> str:
    """Mask a number for logs and messages: ``"1020304050"`` -> ``"******4050"``.

    At most the last four characters stay visible, and never more than half of them.
    """
    text = "" if value is None else str(value)
    visible = min(4, len(text) // 2)
    return "*" * (len(text) - visible) + text[len(text) - visible :]
