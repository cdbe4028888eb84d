from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from django_cedula import privacy
from django_cedula.exceptions import InvalidCedulaError
from django_cedula.numbers import is_valid_cedula, mask_cedula, normalize_cedula, validate_cedula_number


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1020304050", "1020304050"),
        ("1.020.304.050", "1020304050"),
        (" 79 123-456 ", "79123456"),
        ("1 020 304 050", "1020304050"),
        ("1020-304-050", "1020304050"),
        ("1.020.304-050", "1020304050"),
        ("1020 - 304 - 050", "1020304050"),
        ("1020  304", "1020304"),
        ("1\u00a0020\u00a0304", "1020304"),  # non-breaking spaces, pasted from a spreadsheet
        ("\t1020304050\n", "1020304050"),
        ("123", "123"),
        (52123456, "52123456"),
    ],
)
def test_normalize_strips_separators(value: object, expected: str) -> None:
    assert normalize_cedula(value) == expected


@pytest.mark.parametrize(
    "value",
    ["", "  ", "12", "12345678901", "0123456", "12a456", "１２３４５", None, True, 12.5, "12_345"],
)
def test_normalize_rejects_malformed_numbers(value: object) -> None:
    with pytest.raises(InvalidCedulaError):
        normalize_cedula(value)
    assert not is_valid_cedula(value)


AT_AN_END = "a cédula number does not start or end with a dot or a dash"
TOGETHER = "a cédula number has at most one dot or dash between two digits"
MISPLACED = {
    "-1020304050": AT_AN_END,
    "1020304050-": AT_AN_END,
    ".123456": AT_AN_END,
    "123456.": AT_AN_END,
    " -1020304050 ": AT_AN_END,
    "- 1020304050": AT_AN_END,
    "12..34": TOGETHER,
    "1020--304": TOGETHER,
    "12.-34": TOGETHER,
    "1020 . - 304": TOGETHER,
}


@pytest.mark.parametrize(("value", "reason"), MISPLACED.items(), ids=list(MISPLACED))
def test_separators_stand_only_between_digits_one_mark_at_a_time(value: str, reason: str) -> None:
    with pytest.raises(InvalidCedulaError) as excinfo:
        normalize_cedula(value)
    assert str(excinfo.value) == reason
    assert not is_valid_cedula(value)
    with pytest.raises(ValidationError) as invalid:
        validate_cedula_number(value)
    assert invalid.value.messages == [f"Enter a valid cédula number: {reason}."]


def test_only_separators_is_no_number() -> None:
    with pytest.raises(InvalidCedulaError, match="is required"):
        normalize_cedula(" .-. ")


def test_mask_cedula_is_the_privacy_modules() -> None:
    # One masker for the whole package: numbers re-exports it, it does not keep a copy.
    assert mask_cedula is privacy.mask_cedula


def test_error_message_never_repeats_the_number() -> None:
    with pytest.raises(InvalidCedulaError) as excinfo:
        normalize_cedula("98765432109")
    assert "98765432109" not in str(excinfo.value)
    assert "11" in str(excinfo.value)  # says how many digits it had


def test_django_validator_raises_validation_error_with_code() -> None:
    validate_cedula_number("1.020.304.050")
    with pytest.raises(ValidationError) as excinfo:
        validate_cedula_number("abc")
    assert excinfo.value.code == "invalid_cedula"


@pytest.mark.parametrize(
    ("value", "masked"),
    [("1020304050", "******4050"), ("79123456", "****3456"), ("123", "**3"), ("", "")],
)
def test_mask_keeps_at_most_four_and_at_most_half(value: str, masked: str) -> None:
    assert mask_cedula(value) == masked
