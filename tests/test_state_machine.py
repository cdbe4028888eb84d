from __future__ import annotations

import datetime

import pytest
from django.test import override_settings

from django_cedula import models
from django_cedula.models import CedulaInfo, Outcome, outcome_for
from django_cedula.results import ScrapeResult, ScrapeStatus

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
