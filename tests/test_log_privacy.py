"""The whole-suite log guard finds a full cédula however it is written, and lets masked ones pass."""

from __future__ import annotations

import logging

import pytest

from django_cedula.numbers import mask_cedula

from .log_privacy import CedulaLogGuard, digit_runs


@pytest.mark.parametrize(
    "line",
    [
        "lookup for 1020304050 failed",
        "lookup for 1.020.304.050 failed",
        "lookup for 1020-304-050",
        "numbers: 77 1020304050",
        "(1020304050)",
    ],
)
def test_a_full_cedula_is_a_leak_in_any_spelling(line: str) -> None:
    guard = CedulaLogGuard()
    guard.remember(["1020304050"])
    guard.scan(line, "here")
    assert guard.leaks() == [("here", line)]


@pytest.mark.parametrize(
    "line",
    [
        f"lookup for {mask_cedula('1020304050')} failed",
        "user 1020304 (not a cédula we used)",
        "port 38123, pid 12345",
        "",
    ],
)
def test_masked_numbers_and_other_numbers_pass(line: str) -> None:
    guard = CedulaLogGuard()
    guard.remember(["1020304050"])
    guard.scan(line, "here")
    assert guard.leaks() == []


def test_records_are_judged_with_their_arguments_and_exception() -> None:
    guard = CedulaLogGuard()
    guard.remember(["52123456"])
    logger = logging.getLogger("tests.log_privacy_probe")
    logger.addHandler(guard)
    # These leaks are on purpose: keep them from the session's own guard on the root logger.
    logger.propagate = False
    try:
        logger.warning("number %s", "52123456")
        try:
            raise ValueError("bad 52.123.456")
        except ValueError:
            logger.exception("masked %s", mask_cedula("52123456"))
    finally:
        logger.removeHandler(guard)
        logger.propagate = True
    assert len(guard.leaks()) == 2


def test_digit_runs_ignore_short_numbers() -> None:
    assert digit_runs("a 12345 b 123456") == {"123456"}
