"""Cédula numbers: normalising and validating (the masker lives in :mod:`django_cedula.privacy`).

Colombian cédulas are 3 to 10 digits once dots, spaces and dashes are removed,
with no check digit and no leading zero. Anything else is refused here, before
any network traffic.

Separators are accepted only between digits, as people write the number on the card or in a
form: ``"1.020.304.050"``, ``"1 020 304 050"``, ``"1020-304-050"``, ``"1.020.304-050"``. Between two
groups of digits there is either whitespace or a single dot or dash (with whitespace around it
if one likes: ``"1020 - 304"``). Surrounding whitespace is trimmed, as form fields do. A dot or a
dash at either end (``"-1020304050"``, ``"1020304050-"``, ``".123456"``) or two marks together
(``"12..34"``, ``"12.-34"``) is refused: it is a typing slip or part of something else, not a
number to look up.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .exceptions import InvalidCedulaError
from .privacy import mask_cedula

# The reasons below are translated when the number is refused (``gettext``, not lazily): the
# message of an InvalidCedulaError is a plain string. They are called ``gettext(...)`` by name so
# that makemessages extracts them (it knows gettext, ngettext, _ and their lazy forms, not aliases).

__all__ = [
    "MAX_LENGTH",
    "MIN_LENGTH",
    "is_valid_cedula",
    "mask_cedula",
    "normalize_cedula",
    "validate_cedula_number",
]

MIN_LENGTH = 3
MAX_LENGTH = 10

_SEPARATORS = re.compile(r"[.\s\-]")
#: Digit groups joined by whitespace or by one dot or dash (whitespace around it allowed).
_WRITTEN = re.compile(r"[0-9]+(?:(?:\s*[.\-]\s*|\s+)[0-9]+)*")
_MARK_AT_AN_END = re.compile(r"^[.\-]|[.\-]$")
_VALID = re.compile(rf"[1-9][0-9]{{{MIN_LENGTH - 1},{MAX_LENGTH - 1}}}")


def normalize_cedula(value: object) -> str:
    """Return ``value`` as a bare string of digits, or raise :class:`InvalidCedulaError`.

    Dots, spaces and dashes between digits are stripped (``"1.020.304-050"`` -> ``"1020304050"``);
    see the module's documentation for where they may stand. The error message never repeats the
    number.
    """
    if value is None or isinstance(value, bool):
        raise InvalidCedulaError(gettext("a cédula number is required"))
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidCedulaError(gettext("a cédula number must be text"))
    written = value.strip()
    digits = _SEPARATORS.sub("", written)
    if not digits:
        raise InvalidCedulaError(gettext("a cédula number is required"))
    if not digits.isascii() or not digits.isdigit():
        raise InvalidCedulaError(
            gettext("a cédula number has digits only (dots, spaces and dashes may separate them)")
        )
    if not _WRITTEN.fullmatch(written):
        if _MARK_AT_AN_END.search(written):
            raise InvalidCedulaError(gettext("a cédula number does not start or end with a dot or a dash"))
        raise InvalidCedulaError(gettext("a cédula number has at most one dot or dash between two digits"))
    if digits.startswith("0"):
        raise InvalidCedulaError(gettext("a cédula number does not start with 0"))
    if not _VALID.fullmatch(digits):
        raise InvalidCedulaError(
            gettext("a cédula number has %(min)d to %(max)d digits, not %(count)d")
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
