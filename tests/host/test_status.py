"""django_cedula.views: the words of the next attempt and the time with its zone."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.utils import timezone

from django_cedula.views import in_words, time_with_zone, words_steps

MOMENT = datetime.datetime(2026, 12, 1, 19, 5, 8, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (-30, "any moment now"),
        (0, "any moment now"),
        (5, "in a few seconds"),
        (30, "in less than a minute"),
        (70, "in about a minute"),
        (150, "in about 2 minutes"),
        (600, "in about 10 minutes"),
        (3 * 3600, "in about 3 hours"),
    ],
)
def test_in_words(seconds: float, words: str) -> None:
    assert in_words(seconds) == words


@pytest.mark.parametrize("seconds", [5, 44, 70, 130, 899, 6000])
def test_the_steps_count_down_to_any_moment_now_as_in_words_does(seconds: float) -> None:
    steps = words_steps(seconds)
    assert steps[-1] == {"above": None, "text": "any moment now"}
    aboves = [step["above"] for step in steps[:-1]]
    assert aboves == sorted(aboves, reverse=True)

    def pick(remaining: float) -> str:
        return next(s["text"] for s in steps if s["above"] is None or remaining > s["above"])

    for remaining in [seconds, seconds * 0.6, 46, 44, 11, 9, 0.5, -1, -40]:
        if remaining <= seconds and remaining <= 90 * 60:
            assert pick(remaining) == in_words(remaining), remaining


def test_time_with_zone_names_the_offset_where_the_zone_has_no_abbreviation() -> None:
    with timezone.override(zoneinfo.ZoneInfo("America/Bogota")):
        assert time_with_zone(MOMENT) == "14:05:08 UTC-05:00"
    with timezone.override(zoneinfo.ZoneInfo("Europe/Madrid")):
        assert time_with_zone(MOMENT) == "20:05:08 CET"
    with timezone.override(datetime.timezone.utc):
        assert time_with_zone(MOMENT) == "19:05:08 UTC"
    with timezone.override(zoneinfo.ZoneInfo("Asia/Kolkata")):
        assert time_with_zone(MOMENT) == "00:35:08 IST"
