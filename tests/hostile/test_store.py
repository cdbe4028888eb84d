"""Hostile text on its way to the database: whatever a source answers, a paid answer is stored.

A source (or a parser, or a browser reading a page's script) can hand the job text no database
takes: a lone UTF-16 surrogate (a JSON ``\\ud800`` escape), a NUL, control characters. The driver
refuses a surrogate with ``UnicodeEncodeError``, not a ``DatabaseError``: the job read that as its
own failure (``internal_error``), retried, paid for every lookup and lost every answer. These run on
SQLite and on PostgreSQL (``CEDULA_TEST_DATABASE=postgres``), whose drivers both refuse such text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from django_cedula import models
from django_cedula.backends import ValidationJob
from django_cedula.models import CedulaInfo
from django_cedula.results import NOVEDAD_FIELDS, PLACE_FIELDS
from django_cedula.scrapers import BaseScraper
from django_cedula.testing.backends import RecordingBackend
from django_cedula.testing.scrapers import FakeScraper

pytestmark = pytest.mark.django_db(transaction=True)
Status = CedulaInfo.Status
CEDULA = "1020304050"

#: A lone surrogate, a NUL, an escape, and a surrogate pair (one character in UTF-16's spelling).
HOSTILE = "A\ud800B\x00C\x1bD\ud83d\ude00"
#: What the row keeps of it: the pair joined, every other one replaced.
STORED = "A\ufffdB\ufffdC\ufffdD\U0001f600"


@pytest.fixture
def user(recording_backend: type[RecordingBackend], make_user: Callable[..., Any]) -> Any:
    created = make_user(cedula=CEDULA)
    assert recording_backend.jobs == [ValidationJob(created.pk, 1)]
    return created


def test_a_found_answer_with_a_lone_surrogate_is_stored_after_one_lookup(
    user: Any, recording_backend: type[RecordingBackend]
) -> None:
    """The issue's probe: ``municipio='M\\ud800'``. Before: UnicodeEncodeError read as internal_error,
    three paid lookups, all found, all lost, the row ended error."""
    FakeScraper.set_outcome(
        CEDULA, {"status": "found", "departamento": "ANTIOQUIA", "municipio": "M\ud800", "mesa": "7"}
    )

    assert recording_backend.run_next() == Status.ACTIVE

    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count, info.error_code) == (Status.ACTIVE, 0, "")
    assert (info.departamento, info.municipio, info.mesa) == ("ANTIOQUIA", "M\ufffd", "7")
    assert FakeScraper.calls == [CEDULA]
    assert recording_backend.jobs == []


@pytest.mark.parametrize(
    ("status", "names", "final"),
    [
        ("found", PLACE_FIELDS, Status.ACTIVE),
        ("cancelled", NOVEDAD_FIELDS, Status.CANCELLED_OTHER),
    ],
)
def test_every_field_of_an_answer_is_made_storable(
    user: Any,
    recording_backend: type[RecordingBackend],
    status: str,
    names: tuple[str, ...],
    final: str,
) -> None:
    FakeScraper.set_outcome(
        CEDULA,
        {"status": status, **dict.fromkeys(names, HOSTILE), "raw_html": f"<p>{HOSTILE}</p>"},
    )

    assert recording_backend.run_next() == final

    info = CedulaInfo.objects.get(user=user)
    assert {name: getattr(info, name) for name in names} == dict.fromkeys(names, STORED)
    assert info.raw_response == f"<p>{STORED}</p>"
    assert FakeScraper.calls == [CEDULA]


def test_a_failures_error_and_raw_answer_are_made_storable(
    user: Any, recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_RETRY_DELAYS = [60]
    FakeScraper.set_outcome(
        CEDULA, {"status": "network_error", "error": f"reset {HOSTILE}", "raw_html": HOSTILE}
    )

    assert recording_backend.run_next() == Status.RETRYING

    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.error_code, info.retry_count) == (Status.RETRYING, "network_error", 1)
    assert info.error_message == f"network_error: reset {STORED}"
    assert info.raw_response == STORED


class SurrogateRaisingScraper(BaseScraper):
    """A host's scraper whose exception quotes a page's text as it read it."""

    def scrape_cedula(self, cedula: str) -> Any:
        raise RuntimeError(f"unexpected text {HOSTILE!s}")


class SurrogatePrepareScraper(BaseScraper):
    """Fails after the claim, outside the lookup, with a message no database takes."""

    def prepare(self) -> None:
        raise RuntimeError(f"the browser said {HOSTILE!s}")

    def scrape_cedula(self, cedula: str) -> Any:
        return {"status": "not_found"}


def test_a_scrapers_exception_with_hostile_text_is_stored_as_its_failure(
    user: Any, recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_SOURCES = [{"BACKEND": f"{__name__}.SurrogateRaisingScraper"}]
    settings.CEDULA_RETRY_DELAYS = [60]

    assert recording_backend.run_next() == Status.RETRYING

    info = CedulaInfo.objects.get(user=user)
    assert info.error_code == "network_error"
    assert STORED in info.error_message


def test_an_error_after_the_claim_with_hostile_text_is_stored_as_internal_error(
    user: Any, recording_backend: type[RecordingBackend], settings: Any
) -> None:
    """Before: the internal error's own store raised UnicodeEncodeError and the row stayed PROCESSING."""
    settings.CEDULA_SOURCES = [{"BACKEND": f"{__name__}.SurrogatePrepareScraper"}]
    settings.CEDULA_RATE_LIMIT = "100/s"  # the job calls prepare() before it waits for a turn
    settings.CEDULA_RETRY_DELAYS = [60]

    assert recording_backend.run_next() == Status.RETRYING

    info = CedulaInfo.objects.get(user=user)
    assert info.error_code == "internal_error"
    assert STORED in info.error_message


def test_an_answer_the_database_still_cannot_take_ends_as_store_error_after_one_lookup(
    user: Any,
    recording_backend: type[RecordingBackend],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Text the cleaning does not know yet reaches the driver, which raises UnicodeEncodeError (not a
    DatabaseError). Before: read as internal_error and retried, a paid lookup each time, every answer
    lost. Now: final error / store_error at once, the answer quoted in the row and the log."""
    monkeypatch.setattr(models, "storable", lambda text: text if isinstance(text, str) else str(text))
    settings.CEDULA_RETRY_DELAYS = [0, 0]
    FakeScraper.set_outcome(
        CEDULA, {"status": "found", "departamento": "ANTIOQUIA", "municipio": "M\ud800", "mesa": "7"}
    )
    caplog.set_level(logging.WARNING, logger="django_cedula.job")

    assert recording_backend.run_next() == Status.ERROR

    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.error_code, info.retry_count) == (Status.ERROR, "store_error", 0)
    assert info.is_final
    assert (info.departamento, info.municipio) == ("", "")
    assert "UnicodeEncodeError" in info.error_message
    # The paid answer, as far as a message holds it (escaped, so that it stores).
    assert '"departamento": "ANTIOQUIA"' in info.error_message
    assert '"municipio": "M\\ud800"' in info.error_message
    assert FakeScraper.calls == [CEDULA], "one paid lookup: not retried as the source's failure"
    assert recording_backend.jobs == []
    assert "could not be stored" in caplog.text
    assert "the database cannot take it" in caplog.text
    assert "ANTIOQUIA" in caplog.text
