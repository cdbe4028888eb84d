from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from django_cedula.exceptions import InvalidCedulaError
from django_cedula.numbers import is_valid_cedula, mask_cedula, normalize_cedula, validate_cedula_number


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1020304050", "1020304050"),
        ("1.020.304.050", "1020304050"),
        (" 79 123-456 ", "79123456"),
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
