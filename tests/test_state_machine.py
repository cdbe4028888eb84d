from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from django_cedula import models
from django_cedula.models import CedulaInfo, Outcome, outcome_for
from django_cedula.results import ScrapeResult, ScrapeStatus
from django_cedula.services import request_validation
from django_cedula.testing.backends import RecordingBackend

NOW = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.timezone.utc)
DELAYS = [60, 300, 900]
Status = CedulaInfo.Status


def decide(
    result: ScrapeResult,
    *,
    attempt: int,
    retry_delays: list[int],
    now: datetime.datetime,
    raw_response: str = "",
) -> Outcome:
    """:func:`outcome_for` under ``CEDULA_RETRY_DELAYS = retry_delays``."""
    with override_settings(CEDULA_RETRY_DELAYS=retry_delays):
        return outcome_for(result, attempt=attempt, now=now, raw_response=raw_response)


def bounded_raw_response(raw: str, *, store: bool, max_length: int) -> str:
    with override_settings(CEDULA_STORE_RAW_RESPONSE=store, CEDULA_RAW_RESPONSE_MAX_LENGTH=max_length):
        return models.bounded_raw_response(raw)


def test_found_is_final_with_the_voting_place() -> None:
    result = ScrapeResult(
        status=ScrapeStatus.FOUND,
        departamento="ANTIOQUIA",
        municipio="MEDELLÍN",
        puesto="I.E. No. 5",
        direccion="CL 10 # 4-20",
        mesa="12",
    )
    outcome = decide(result, attempt=2, retry_delays=DELAYS, now=NOW)
    assert outcome.status == Status.ACTIVE
    assert outcome.retry_delay is None
    assert outcome.fields["municipio"] == "MEDELLÍN"
    assert outcome.fields["mesa"] == "12"
    assert outcome.fields["fetched_at"] == NOW
    assert outcome.fields["error_message"] == ""
    assert outcome.fields["novedad"] == ""


def test_not_found_is_final_and_clears_the_place() -> None:
    outcome = decide(ScrapeResult(status=ScrapeStatus.NOT_FOUND), attempt=1, retry_delays=DELAYS, now=NOW)
    assert outcome.status == Status.NOT_FOUND
    assert outcome.is_final
    assert outcome.fields["departamento"] == ""


@pytest.mark.parametrize(
    ("novedad", "status"),
    [
        ("Cancelada por Muerte", Status.CANCELLED_DECEASED),
        ("Cancelada por Doble Cedulación", Status.CANCELLED_OTHER),
        ("no se encuentra habilitado para votar", Status.CANCELLED_OTHER),
    ],
)
def test_cancelled_splits_death_from_other(novedad: str, status: str) -> None:
    result = ScrapeResult(
        status=ScrapeStatus.CANCELLED, novedad=novedad, resolucion="1234 DE 2020", fecha_novedad="2020-01-02"
    )
    outcome = decide(result, attempt=1, retry_delays=DELAYS, now=NOW)
    assert outcome.status == status
    assert outcome.is_final
    assert outcome.fields["novedad"] == novedad
    assert outcome.fields["resolucion"] == "1234 DE 2020"
    assert outcome.fields["fecha_novedad"] == "2020-01-02"


@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_transient_failures_retry_on_the_configured_schedule(attempt: int) -> None:
    result = ScrapeResult(status=ScrapeStatus.CAPTCHA_FAILED, error="rejected")
    outcome = decide(result, attempt=attempt, retry_delays=DELAYS, now=NOW)
    assert outcome.status == Status.RETRYING
    assert outcome.retry_delay == DELAYS[attempt - 1]
    assert outcome.fields["retry_count"] == attempt
    assert outcome.fields["next_attempt_at"] == NOW + datetime.timedelta(seconds=DELAYS[attempt - 1])
    assert outcome.fields["error_code"] == "captcha_failed"
    assert outcome.fields["error_message"] == "captcha_failed: rejected"


@pytest.mark.parametrize(
    ("kind", "final"),
    [
        (ScrapeStatus.TIMEOUT, Status.TIMEOUT),
        (ScrapeStatus.BLOCKED, Status.BLOCKED),
        (ScrapeStatus.NETWORK_ERROR, Status.ERROR),
        (ScrapeStatus.CAPTCHA_FAILED, Status.ERROR),
        (ScrapeStatus.PARSE_ERROR, Status.ERROR),
    ],
)
def test_the_fourth_attempt_gives_up_with_a_status_that_says_why(kind: ScrapeStatus, final: str) -> None:
    outcome = decide(ScrapeResult(status=kind), attempt=4, retry_delays=DELAYS, now=NOW, raw_response="<x>")
    assert outcome.status == final
    assert outcome.retry_delay is None
    assert "retry_count" not in outcome.fields  # the row keeps its 3 retries
    assert outcome.fields["error_code"] == kind.value
    assert outcome.fields["raw_response"] == "<x>"


def test_no_delays_means_no_retries() -> None:
    outcome = decide(ScrapeResult(status=ScrapeStatus.TIMEOUT), attempt=1, retry_delays=[], now=NOW)
    assert outcome.status == Status.TIMEOUT


def test_raw_response_is_optional_and_bounded() -> None:
    assert bounded_raw_response("abcdef", store=True, max_length=3) == "abc"
    assert bounded_raw_response("abcdef", store=False, max_length=3) == ""
    assert bounded_raw_response("abcdef", store=True, max_length=0) == ""


def test_control_characters_never_reach_the_database() -> None:
    # PostgreSQL refuses a NUL in a text column: the whole outcome would fail to store.
    result = ScrapeResult(
        status=ScrapeStatus.PARSE_ERROR, error="cut short \x00\x1b here\n", raw_html="<p>\x00</p>"
    )
    raw = bounded_raw_response(result.raw_html, store=True, max_length=100)
    now = datetime.datetime.now(datetime.timezone.utc)
    outcome = decide(result, attempt=1, retry_delays=[], now=now, raw_response=raw)
    assert "\x00" not in outcome.fields["error_message"]
    assert "\x1b" not in outcome.fields["error_message"]
    assert outcome.fields["error_message"].endswith("here\n")
    assert outcome.fields["raw_response"] == "<p>\ufffd</p>"


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("M\ud800", "M\ufffd"),  # a lone high surrogate (the probe)
        ("\udfffM", "\ufffdM"),  # a lone low one
        ("\ud83d\ude00", "\U0001f600"),  # a pair: the character it spells
        ("\ude00\ud83d", "\ufffd\ufffd"),  # the wrong way round: two lone ones
        ("a\x00b\x07c\x7f", "a\ufffdb\ufffdc\ufffd"),
        ("tab\tnew\nline\r", "tab\tnew\nline\r"),  # kept
        ("MEDELLÍN", "MEDELLÍN"),
        (7, "7"),  # a host scraper's number
    ],
)
def test_storable_text_is_what_every_driver_encodes(text: Any, stored: str) -> None:
    assert models.storable(text) == stored
    stored.encode("utf-8")  # what the drivers do; a surrogate would raise UnicodeEncodeError


def test_every_text_of_an_outcome_is_made_storable_and_cut_to_its_column() -> None:
    fitted = models.fit_to_columns(
        {"mesa": "\ud800" * 30, "error_message": "x\ud800", "raw_response": "\x00", "retry_count": 2}
    )
    assert fitted["mesa"] == "\ufffd" * 19 + "…"
    assert (fitted["error_message"], fitted["raw_response"], fitted["retry_count"]) == (
        "x\ufffd",
        "\ufffd",
        2,
    )


# --------------------------------------------------------------------------- the "as seen" rule


@pytest.fixture
def waiting_row(recording_backend: type[RecordingBackend], make_user: Callable[..., Any]) -> CedulaInfo:
    """A user's row, PENDING for its first attempt (its job recorded, not run)."""
    return CedulaInfo.objects.get(user=make_user(cedula="1020304050"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"status": Status.RETRYING},
        {"retry_count": 1},
        {"requested_at": NOW},
        {"updated_at": NOW},
    ],
    ids=["state", "attempt", "validation", "write"],
)
def test_a_row_changed_in_any_column_of_the_rule_is_no_longer_as_seen(
    waiting_row: CedulaInfo, change: dict[str, Any]
) -> None:
    assert CedulaInfo.objects.as_seen(waiting_row).get() == waiting_row
    CedulaInfo.objects.filter(pk=waiting_row.pk).update(**change)
    assert not CedulaInfo.objects.as_seen(waiting_row).exists()


@pytest.mark.django_db
def test_a_row_without_a_request_time_is_as_seen_while_unchanged(waiting_row: CedulaInfo) -> None:
    """``requested_at`` is NULL on rows never requested through the package: ``= NULL`` would
    match nothing in SQL, so the rule compares it with ``IS NULL``."""
    CedulaInfo.objects.filter(pk=waiting_row.pk).update(requested_at=None)
    seen = CedulaInfo.objects.get(pk=waiting_row.pk)
    assert CedulaInfo.objects.as_seen(seen).exists()
    assert CedulaInfo.objects.touch(seen, now=timezone.now())


@pytest.mark.django_db
def test_a_job_whose_row_was_restarted_and_claimed_again_stores_nothing(waiting_row: CedulaInfo) -> None:
    """The row is in the state (PROCESSING) and at the attempt (the first) the job saw, but it is
    another validation's now: what the job found must not be stored over it."""
    user = waiting_row.user
    mine = CedulaInfo.objects.claim(user.pk, 1)
    assert mine is not None
    request_validation(user, force=True)  # a staff "Validate again" while the lookup runs
    theirs = CedulaInfo.objects.claim(user.pk, 1)
    assert theirs is not None
    assert (theirs.status, theirs.retry_count) == (mine.status, mine.retry_count)

    found = outcome_for(ScrapeResult(status=ScrapeStatus.NOT_FOUND), attempt=1, now=timezone.now())
    assert CedulaInfo.objects.record(mine, found.fields) is False
    assert CedulaInfo.objects.release(mine, 1, wait=5) is None
    assert CedulaInfo.objects.mark_lost(mine, now=timezone.now(), message="lost") is None
    assert CedulaInfo.objects.get(pk=waiting_row.pk).status == Status.PROCESSING, (
        "the new job's row, untouched"
    )

    active = outcome_for(ScrapeResult(status=ScrapeStatus.FOUND, mesa="7"), attempt=1, now=timezone.now())
    assert CedulaInfo.objects.record(theirs, active.fields) is True
    stored = CedulaInfo.objects.get(pk=waiting_row.pk)
    assert (stored.status, stored.mesa) == (Status.ACTIVE, "7")


@pytest.mark.django_db
def test_a_job_whose_attempt_was_counted_lost_and_claimed_again_stores_nothing(
    waiting_row: CedulaInfo,
) -> None:
    user = waiting_row.user
    first = CedulaInfo.objects.claim(user.pk, 1)
    assert first is not None
    # The sweeper takes the first attempt for lost; the second attempt's job claims the row.
    assert CedulaInfo.objects.mark_lost(first, now=timezone.now(), message="worker gone") is not None
    second = CedulaInfo.objects.claim(user.pk, 2)
    assert second is not None
    assert second.status == Status.PROCESSING

    late = outcome_for(ScrapeResult(status=ScrapeStatus.NOT_FOUND), attempt=1, now=timezone.now())
    assert CedulaInfo.objects.record(first, late.fields) is False
    stored = CedulaInfo.objects.get(pk=waiting_row.pk)
    assert (stored.status, stored.retry_count) == (Status.PROCESSING, 1)


@pytest.mark.django_db
def test_a_row_touched_since_it_was_read_is_not_written_over(waiting_row: CedulaInfo) -> None:
    """Two sweeps read the same stale row; the first re-queues it (a touch), the second finds it
    changed and neither touches it again nor counts its attempt lost."""
    stale = CedulaInfo.objects.get(pk=waiting_row.pk)
    assert CedulaInfo.objects.touch(stale, now=timezone.now()) is True
    assert CedulaInfo.objects.touch(stale, now=timezone.now()) is False
    assert CedulaInfo.objects.mark_lost(stale, now=timezone.now(), message="lost") is None
    assert CedulaInfo.objects.get(pk=waiting_row.pk).retry_count == 0


@pytest.mark.django_db
def test_a_recorded_row_stays_in_step_with_what_its_job_holds(waiting_row: CedulaInfo) -> None:
    """``record`` updates the job's copy (``updated_at`` included), so the job can store again."""
    mine = CedulaInfo.objects.claim(waiting_row.user.pk, 1)
    assert mine is not None
    assert CedulaInfo.objects.record(mine, {"error_message": "first"}) is True
    assert CedulaInfo.objects.record(mine, {"error_message": "second"}) is True
    stored = CedulaInfo.objects.get(pk=waiting_row.pk)
    assert (stored.error_message, stored.updated_at) == ("second", mine.updated_at)


@pytest.mark.django_db(transaction=True)
def test_record_and_mark_lost_store_hostile_text(waiting_row: CedulaInfo) -> None:
    """Every write of an outcome goes through :func:`~django_cedula.models.fit_to_columns`, whoever
    built the fields (the job, the sweeper, a receiver's own code)."""
    mine = CedulaInfo.objects.claim(waiting_row.user.pk, 1)
    assert mine is not None
    assert CedulaInfo.objects.record(mine, {"municipio": "M\ud800", "novedad": "\x00"}) is True
    stored = CedulaInfo.objects.get(pk=waiting_row.pk)
    assert (stored.municipio, stored.novedad) == ("M\ufffd", "\ufffd")
    assert (mine.municipio, mine.novedad) == ("M\ufffd", "\ufffd"), "the job's copy in step"
    with override_settings(CEDULA_RETRY_DELAYS=[60]):
        lost = CedulaInfo.objects.mark_lost(stored, now=timezone.now(), message="gone \udc80")
    assert lost is not None
    assert CedulaInfo.objects.get(pk=waiting_row.pk).error_message == "gone \ufffd"
