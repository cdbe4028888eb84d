"""The commands' helpers: the progress bar, durations and shortened values."""

from __future__ import annotations

import io

import pytest
from django.core.management.base import OutputWrapper

from django_cedula.management.console import ProgressBar, format_duration, parse_duration, shorten

from .conftest import FakeTTY


def test_the_progress_bar_draws_about_once_per_percent() -> None:
    stream = FakeTTY()
    with ProgressBar(OutputWrapper(stream), 10_000, label="rows") as bar:
        for _ in range(10_000):
            bar.advance(1)
    text = stream.getvalue()
    assert text.count("\r") == 101  # 0% to 100%
    assert text.endswith("[##############################] 100% 10000/10000\n")


def test_the_progress_bar_stays_silent_off_a_terminal() -> None:
    stream = io.StringIO()
    with ProgressBar(OutputWrapper(stream), 10, label="rows") as bar:
        bar.advance(10)
    assert stream.getvalue() == ""


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("1d12h", 129600), ("2w", 1209600)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "soon", "12", "0d", "3x", "1d soon", "\uff13\uff10d", "\u0663d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_shorten_cuts_long_values_and_says_how_long() -> None:
    assert shorten("ana") == "'ana'"
    assert shorten("x" * 20) == repr("x" * 20)
    assert shorten("x" * 21) == f"{'x' * 20!r}… (21 characters)"
    assert shorten("\x1b[2J" + "y" * 30) == "'\\x1b[2J" + "y" * 16 + "'… (34 characters)"


def test_format_duration() -> None:
    assert format_duration(parse_duration("1d3h5m")) == "1d 3h"
    assert format_duration(parse_duration("5m10s")) == "5m 10s"
    assert format_duration(parse_duration("1s") * 0) == "0s"
