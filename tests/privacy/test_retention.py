"""Retention (``CEDULA_PRIVACY["RAW_RESPONSE_DAYS"]`` and ``["PLACE_DAYS"]``): the purge of every
sweep, ``cedula_purge`` and its dry run, and the sweep's line."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_cedula.models import CedulaInfo, CedulaStatus
from django_cedula.sweeper import purge_expired, sweep

pytestmark = pytest.mark.django_db
Status = CedulaStatus
PLACE = {
    "departamento": "ANTIOQUIA",
    "municipio": "MEDELLÍN",
    "puesto": "IE",
    "direccion": "CALLE 1",
    "mesa": "7",
}


def days_ago(days: float) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)


@pytest.fixture
def answered(make_user: Callable[..., Any], settings: Any) -> Callable[..., CedulaInfo]:
    """``answered(days, **fields)``: a row answered ``days`` ago, ACTIVE with a place and a raw answer."""
    settings.CEDULA_AUTO_VALIDATE = False
    counter = iter(range(100))

    def make(days: float, **fields: Any) -> CedulaInfo:
        user = make_user(cedula=f"10203040{next(counter):02d}")
        values: dict[str, Any] = {
            "cedula": user.cedula,
            "status": Status.ACTIVE,
            "raw_response": "<table>answer</table>",
            "fetched_at": days_ago(days),
            "requested_at": days_ago(days),
            **PLACE,
            **fields,
        }
        info = CedulaInfo.objects.create(user=user, **values)
        CedulaInfo.objects.filter(pk=info.pk).update(updated_at=fields.get("updated_at", days_ago(days)))
        return CedulaInfo.objects.get(pk=info.pk)

    return make


def test_raw_answers_expire_after_their_days_and_nothing_else_changes(
    answered: Callable[..., CedulaInfo],
) -> None:
    old, fresh = answered(8), answered(6)
    report = purge_expired()
    assert (report.raw_responses, report.places) == (1, 0)  # PLACE_DAYS None: places kept
    purged = CedulaInfo.objects.get(pk=old.pk)
    assert purged.raw_response == ""
    # The status, the place, the dates (updated_at too: the validation did not change) stay.
    assert (purged.status, purged.departamento, purged.fetched_at, purged.updated_at, purged.purged_at) == (
        old.status,
        "ANTIOQUIA",
        old.fetched_at,
        old.updated_at,
        None,
    )
    assert CedulaInfo.objects.get(pk=fresh.pk).raw_response == "<table>answer</table>"
    assert purge_expired().raw_responses == 0


def test_a_final_failure_expires_from_its_last_change(answered: Callable[..., CedulaInfo]) -> None:
    failed = answered(0, status=Status.ERROR, fetched_at=None, updated_at=days_ago(9))
    retrying = answered(0, status=Status.RETRYING, fetched_at=None, updated_at=days_ago(9))
    assert purge_expired().raw_responses == 1
    assert CedulaInfo.objects.get(pk=failed.pk).raw_response == ""
    assert CedulaInfo.objects.get(pk=retrying.pk).raw_response  # still being validated


def test_places_expire_after_their_days(
    answered: Callable[..., CedulaInfo], require_consent: dict[str, Any], settings: Any
) -> None:
    settings.CEDULA_PRIVACY = {**require_consent, "PLACE_DAYS": 30, "RAW_RESPONSE_DAYS": None}
    old, fresh = answered(31), answered(29)
    cancelled = answered(
        40, status=Status.CANCELLED_DECEASED, novedad="Cancelada por Muerte", **dict.fromkeys(PLACE, "")
    )
    now = timezone.now()
    report = purge_expired(now=now)
    assert (report.raw_responses, report.places) == (0, 1)
    purged = CedulaInfo.objects.get(pk=old.pk)
    assert {name: getattr(purged, name) for name in PLACE} == dict.fromkeys(PLACE, "")
    assert purged.purged_at == now
    assert (purged.status, purged.fetched_at, purged.raw_response) == (
        Status.ACTIVE,
        old.fetched_at,
        old.raw_response,
    )
    assert CedulaInfo.objects.get(pk=fresh.pk).departamento == "ANTIOQUIA"
    assert CedulaInfo.objects.get(pk=cancelled.pk).novedad == "Cancelada por Muerte"  # not a place
    assert purge_expired().places == 0  # once


def test_zero_days_purges_at_the_next_sweep(
    answered: Callable[..., CedulaInfo], require_consent: dict[str, Any], settings: Any
) -> None:
    settings.CEDULA_PRIVACY = {**require_consent, "RAW_RESPONSE_DAYS": 0, "PLACE_DAYS": 0}
    answered(0.001)
    assert purge_expired().as_dict() == {"dry_run": False, "raw_responses": 1, "places": 1}


def test_the_purge_goes_by_ranges_of_keys(
    answered: Callable[..., CedulaInfo], django_assert_num_queries: Any
) -> None:
    rows = [answered(10) for _ in range(5)]
    answered(1)  # not expired: inside a range, left alone
    # Ranges of 2: three (2, 2, 1), each its end and its UPDATE; the last finds no end.
    with django_assert_num_queries(6):
        assert purge_expired(chunk_size=2).raw_responses == 5
    assert not CedulaInfo.objects.filter(pk__in=[r.pk for r in rows]).exclude(raw_response="").exists()
    assert CedulaInfo.objects.exclude(raw_response="").count() == 1


def test_a_row_restarted_meanwhile_is_left_alone(answered: Callable[..., CedulaInfo]) -> None:
    info = answered(10)
    # A new request clears fetched_at: the answer it would purge is about to be replaced anyway,
    # and the purge's UPDATE checks its conditions again.
    CedulaInfo.objects.filter(pk=info.pk).update(status=Status.PENDING, fetched_at=None)
    assert purge_expired().raw_responses == 0


def test_dry_run_counts_and_changes_nothing(answered: Callable[..., CedulaInfo]) -> None:
    info = answered(10)
    report = purge_expired(dry_run=True)
    assert (report.dry_run, report.raw_responses) == (True, 1)
    assert CedulaInfo.objects.get(pk=info.pk).raw_response


def test_cedula_purge_dry_run_then_for_real(
    answered: Callable[..., CedulaInfo], require_consent: dict[str, Any], settings: Any
) -> None:
    settings.CEDULA_PRIVACY = {**require_consent, "PLACE_DAYS": 365}
    info = answered(400)
    answered(1)
    out = StringIO()
    call_command("cedula_purge", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "Retention: raw answers 7 days, voting places 365 days." in text
    assert "1 raw answer would be blanked" in text
    assert "1 voting place would be blanked" in text
    assert "Dry run: nothing was changed." in text
    assert CedulaInfo.objects.get(pk=info.pk).departamento == "ANTIOQUIA"
    out = StringIO()
    call_command("cedula_purge", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"dry_run": False, "raw_responses": 1, "places": 1}
    assert CedulaInfo.objects.get(pk=info.pk).departamento == ""


def test_every_sweep_purges_and_says_so(answered: Callable[..., CedulaInfo]) -> None:
    answered(10)
    out = StringIO()
    call_command("cedula_sweep", stdout=out)
    assert "1 raw answer blanked (older than CEDULA_PRIVACY's RAW_RESPONSE_DAYS)" in out.getvalue()
    report = sweep()
    assert (report.purged_raw_responses, report.purged_places) == (0, 0)
    assert report.as_dict()["purged_raw_responses"] == 0


def test_retention_kept_for_ever(answered: Callable[..., CedulaInfo], settings: Any) -> None:
    settings.CEDULA_PRIVACY = {"RAW_RESPONSE_DAYS": None, "PLACE_DAYS": None}
    answered(10_000)
    out = StringIO()
    call_command("cedula_purge", stdout=out)
    assert "raw answers never (kept as long as the row)" in out.getvalue()
    assert "0 raw answers blanked" in out.getvalue()
