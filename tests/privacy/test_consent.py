"""No lookup of any kind without the holder's authorization (``CEDULA_PRIVACY["REQUIRE_CONSENT"]``),
at every entry point; the queue the moment one is recorded; withdrawal."""

from __future__ import annotations

import logging
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_cedula.job import validate_user_cedula
from django_cedula.management.commands.cedula_lookup import EXIT_NO_CONSENT
from django_cedula.models import CedulaConsent, CedulaInfo, CedulaStatus
from django_cedula.services import (
    RequestDecision,
    record_consent,
    record_consents,
    request_validation,
    request_validation_decision,
    request_validations,
    withdraw_consent,
)
from django_cedula.sweeper import sweep
from django_cedula.testing.backends import RecordingBackend
from django_cedula.testing.scrapers import FakeScraper

from .conftest import Capture, grant, no_lookup, row

pytestmark = pytest.mark.django_db
Status = CedulaStatus


# -- every entry point, without an authorization: the row waits, nothing is queued or looked up


def test_a_registration_waits_for_the_authorization(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> None:
    user = registered("1020304050")
    info = row(user)
    assert info.status == Status.AWAITING_CONSENT
    assert info.cedula == "1020304050"
    assert info.requested_at is not None
    assert info.retry_count == 0
    assert recording_backend.jobs == []
    assert no_lookup()


def test_the_job_itself_holds_a_row_queued_before_the_authorization(registered: Callable[..., Any]) -> None:
    # A row made PENDING by hand (or queued before the requirement was turned on): the job holds it.
    user = registered()
    CedulaInfo.objects.filter(user=user).update(status=Status.PENDING)
    assert validate_user_cedula(user.pk, 1) == Status.AWAITING_CONSENT
    assert row(user).status == Status.AWAITING_CONSENT
    assert no_lookup()


def test_request_validation_of_a_new_number_waits(
    make_user: Callable[..., Any], settings: Any, recording_backend: type[RecordingBackend]
) -> None:
    settings.CEDULA_AUTO_VALIDATE = False
    user = make_user(cedula="1020304050")
    info, decision = request_validation_decision(user, force=True)
    assert decision is RequestDecision.AWAITING_CONSENT
    assert info is not None
    assert info.status == Status.AWAITING_CONSENT
    assert recording_backend.jobs == []


def test_a_forced_request_leaves_an_answered_row_as_it_is(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> None:
    # An upgrading site's answered rows keep their answer: no authorization, no new lookup either.
    user = registered()
    CedulaInfo.objects.filter(user=user).update(status=Status.ACTIVE, departamento="ANTIOQUIA")
    info, decision = request_validation_decision(user, force=True)
    assert decision is RequestDecision.AWAITING_CONSENT
    assert info is not None
    assert (row(user).status, row(user).departamento) == (Status.ACTIVE, "ANTIOQUIA")
    assert recording_backend.jobs == []
    assert no_lookup()


def test_a_changed_cedula_waits_with_the_new_number(
    registered: Callable[..., Any], django_capture_on_commit_callbacks: Capture
) -> None:
    user = registered("1020304050")
    CedulaInfo.objects.filter(user=user).update(status=Status.ACTIVE, departamento="ANTIOQUIA")
    user.cedula = "1020304051"
    with django_capture_on_commit_callbacks(execute=True):
        user.save()
    info = row(user)
    assert (info.status, info.cedula, info.departamento) == (Status.AWAITING_CONSENT, "1020304051", "")
    assert no_lookup()


def test_batches_wait_and_count_the_waiting(
    make_user: Callable[..., Any],
    settings: Any,
    recording_backend: type[RecordingBackend],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    settings.CEDULA_AUTO_VALIDATE = False
    users = [make_user(cedula=f"102030405{index}") for index in range(3)]
    record_consent(users[0])  # AUTO_VALIDATE off: recording starts nothing by itself
    assert recording_backend.jobs == []
    with django_capture_on_commit_callbacks(execute=True):
        queued = request_validations(users, force=True)
    assert queued == 1
    assert [job.user_id for job in recording_backend.jobs] == [users[0].pk]
    assert [row(user).status for user in users] == [
        Status.PENDING,
        Status.AWAITING_CONSENT,
        Status.AWAITING_CONSENT,
    ]


def test_the_admins_validate_again_looks_nothing_up(
    registered: Callable[..., Any], client: Client, make_user: Callable[..., Any]
) -> None:
    user = registered()
    CedulaInfo.objects.filter(user=user).update(status=Status.ERROR)
    staff = make_user(username="staff", is_staff=True)
    grant(staff, "view_cedulainfo", "change_cedulainfo")
    client.force_login(staff)
    response = client.post(
        reverse("admin:django_cedula_cedulainfo_changelist"),
        {"action": "validate_again", "_selected_action": [row(user).pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert row(user).status == Status.ERROR  # the same number: left as it is
    assert "1 validation waits for the holder&#x27;s authorization" in response.content.decode()
    assert no_lookup()


def test_cedula_revalidate_looks_nothing_up(
    registered: Callable[..., Any], django_capture_on_commit_callbacks: Capture
) -> None:
    users = [registered(f"102030405{index}") for index in range(2)]
    CedulaInfo.objects.filter(user=users[0]).update(status=Status.ERROR)
    dry = StringIO()
    call_command("cedula_revalidate", "--all", "--force", "--dry-run", stdout=dry)
    assert "Dry run: would queue 0 of 2 users" in dry.getvalue()
    assert "2 would wait for their holders' authorization" in dry.getvalue()
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("cedula_revalidate", "--all", "--force", stdout=out)
    assert "Queued 0 of 2 users." in out.getvalue()
    assert "2 wait for their holders' authorization" in out.getvalue()
    assert no_lookup()


def test_the_sweep_requeues_a_waiting_row_only_to_be_held(
    registered: Callable[..., Any], django_capture_on_commit_callbacks: Capture
) -> None:
    user = registered()
    long_ago = timezone.now() - timezone.timedelta(hours=2)
    CedulaInfo.objects.filter(user=user).update(
        status=Status.PENDING, requested_at=long_ago, updated_at=long_ago
    )
    with django_capture_on_commit_callbacks(execute=True):
        report = sweep()
    assert report.pending == 1
    assert row(user).status == Status.AWAITING_CONSENT
    assert no_lookup()


def test_cedula_lookup_refuses_a_number_nobody_authorized(make_user: Callable[..., Any]) -> None:
    make_user(cedula="1020304050")  # a user holds it, without an authorization
    with pytest.raises(CommandError) as refused:
        call_command("cedula_lookup", "1020304050", stdout=StringIO())
    assert refused.value.returncode == EXIT_NO_CONSENT
    assert "--holder-authorized" in str(refused.value)
    with pytest.raises(CommandError):
        call_command("cedula_lookup", "1020304059", stdout=StringIO())  # nobody holds it
    assert no_lookup()


def test_cedula_lookup_of_a_holder_who_authorized_it(make_user: Callable[..., Any], settings: Any) -> None:
    settings.CEDULA_AUTO_VALIDATE = False
    record_consent(make_user(cedula="1020304050"))  # found through the user field
    CedulaInfo.objects.create(user=make_user(cedula=""), cedula="1020304051")
    out = StringIO()
    call_command("cedula_lookup", "1020304050", stdout=out)
    assert "status: found" in out.getvalue()
    # Found through the validation row: its user authorized it.
    record_consent(CedulaInfo.objects.get(cedula="1020304051").user)
    call_command("cedula_lookup", "1020304051", stdout=StringIO())
    assert FakeScraper.calls == ["1020304050", "1020304051"]


def test_cedula_lookup_under_the_operators_statement(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="django_cedula")
    out = StringIO()
    call_command("cedula_lookup", "1020304059", "--holder-authorized", stdout=out)
    assert "status: found" in out.getvalue()
    assert FakeScraper.calls == ["1020304059"]
    (line,) = [
        record.getMessage() for record in caplog.records if "--holder-authorized" in record.getMessage()
    ]
    assert "******4059" in line
    assert "1020304059" not in line
    assert not CedulaConsent.objects.exists()  # a statement, not a record


def test_cedula_lookup_without_the_requirement(settings: Any) -> None:
    settings.CEDULA_PRIVACY = {"REQUIRE_CONSENT": False}
    call_command("cedula_lookup", "1020304059", stdout=StringIO())
    assert FakeScraper.calls == ["1020304059"]


# -- recording: the waiting row is queued at once, in the same transaction


def test_recording_queues_the_waiting_row_on_commit(
    registered: Callable[..., Any], make_user: Callable[..., Any], django_capture_on_commit_callbacks: Capture
) -> None:
    user = registered("1020304050")
    staff = make_user(username="clerk")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        consent = record_consent(
            user, version="2026-12", text="Autorizo...", method="admin", recorded_by=staff
        )
    assert len(callbacks) == 1  # the job waits for the commit
    assert row(user).status == Status.PENDING
    assert no_lookup()
    callbacks[0]()
    info = row(user)
    assert info.status == Status.ACTIVE
    assert info.departamento
    assert FakeScraper.calls == ["1020304050"]
    consent.refresh_from_db()
    assert (consent.version, consent.text, consent.method, consent.recorded_by_id, consent.user_ref) == (
        "2026-12",
        "Autorizo...",
        CedulaConsent.Method.ADMIN,
        staff.pk,
        str(user.pk),
    )
    assert consent.in_force
    assert consent.granted_at is not None


def test_recording_defaults_to_the_settings_version(
    registered: Callable[..., Any], require_consent: dict[str, Any], settings: Any
) -> None:
    settings.CEDULA_PRIVACY = {**require_consent, "CONSENT_VERSION": "v7"}
    consent = record_consent(registered())
    assert (consent.version, consent.method) == ("v7", CedulaConsent.Method.API)
    with pytest.raises(ValueError, match="'paper'"):
        record_consent(registered("1020304051"), method="paper")


def test_recording_starts_a_user_without_a_row(
    make_user: Callable[..., Any], django_capture_on_commit_callbacks: Capture
) -> None:
    user = make_user(cedula="")  # registered without a cédula: no row
    user.cedula = "1020304050"
    CedulaInfo.objects.filter(user=user).delete()
    with django_capture_on_commit_callbacks(execute=True):
        record_consent(user)
    assert row(user).status == Status.ACTIVE
    assert FakeScraper.calls == ["1020304050"]


def test_recording_leaves_an_answered_row_alone(
    registered: Callable[..., Any], django_capture_on_commit_callbacks: Capture
) -> None:
    user = registered()
    CedulaInfo.objects.filter(user=user).update(status=Status.NOT_FOUND)
    with django_capture_on_commit_callbacks(execute=True):
        record_consent(user)
    assert row(user).status == Status.NOT_FOUND
    assert no_lookup()


def test_record_consents_imports_in_batches(
    registered: Callable[..., Any],
    make_user: Callable[..., Any],
    django_capture_on_commit_callbacks: Capture,
    django_assert_num_queries: Any,
) -> None:
    waiting = [registered(f"102030405{index}") for index in range(3)]
    answered = registered("1020304059")
    CedulaInfo.objects.filter(user=answered).update(status=Status.ACTIVE, departamento="CALDAS")
    rowless = make_user(cedula="")
    with django_capture_on_commit_callbacks(execute=True):
        recorded = record_consents([*waiting, answered, rowless], version="terms-2025", batch_size=2)
    assert recorded == 5
    consents = CedulaConsent.objects.all()
    assert {c.method for c in consents} == {CedulaConsent.Method.IMPORT}
    assert {c.version for c in consents} == {"terms-2025"}
    assert [row(user).status for user in waiting] == [Status.ACTIVE] * 3
    assert row(answered).departamento == "CALDAS"  # not looked up again
    assert not CedulaInfo.objects.filter(user=rowless).exists()  # not started
    assert sorted(FakeScraper.calls) == ["1020304050", "1020304051", "1020304052"]


# -- withdrawal


def test_withdrawal_stops_further_lookups(
    registered: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> None:
    user = registered()
    first = record_consent(user)
    second = record_consent(user, version="2")
    assert row(user).status == Status.PENDING  # queued (the recording backend keeps the job)
    assert withdraw_consent(user) == 2
    assert row(user).status == Status.AWAITING_CONSENT
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.withdrawn_at is not None
    assert second.withdrawn_at is not None
    assert CedulaConsent.objects.filter(user=user).count() == 2  # kept as proof
    # The job queued before the withdrawal finds nothing it may do.
    assert validate_user_cedula(user.pk, 1) is None
    assert request_validation(user, force=True) is not None
    assert row(user).status == Status.AWAITING_CONSENT
    assert no_lookup()
    assert withdraw_consent(user) == 0


def test_withdrawal_holds_a_retrying_row(registered: Callable[..., Any], recording_backend: Any) -> None:
    user = registered()
    record_consent(user)
    CedulaInfo.objects.filter(user=user).update(status=Status.RETRYING, retry_count=1)
    withdraw_consent(user)
    assert row(user).status == Status.AWAITING_CONSENT
    assert validate_user_cedula(user.pk, 2) is None
    assert no_lookup()
