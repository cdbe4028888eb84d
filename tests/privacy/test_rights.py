"""The holder's rights (django_cedula.rights): export and forget, and the admin's actions for them
with their permissions. Run on PostgreSQL too (``CEDULA_TEST_DATABASE=postgres``), as the brief of
#23 asks: the forget is one transaction, and a user deleted leaves the proof behind."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_cedula.models import CedulaConsent, CedulaInfo, CedulaStatus
from django_cedula.rights import EXPORT_FORMAT, export, forget
from django_cedula.services import record_consent, withdraw_consent

from .conftest import Capture, grant, row

pytestmark = pytest.mark.django_db
Status = CedulaStatus
CHANGELIST = "admin:django_cedula_cedulainfo_changelist"


@pytest.fixture
def validated(registered: Callable[..., Any], django_capture_on_commit_callbacks: Capture) -> Any:
    """A holder who authorized the lookup (twice: a new text version), looked up (ACTIVE)."""
    user = registered("1020304050", username="holder")
    with django_capture_on_commit_callbacks(execute=True):
        record_consent(user, version="1", text="Autorizo la consulta.", method="form")
    withdraw_consent(user)
    with django_capture_on_commit_callbacks(execute=True):
        record_consent(user, version="2", text="Autorizo la consulta (v2).", method="form")
    CedulaInfo.objects.filter(user=user).update(status=Status.ACTIVE, vigencia="alive")
    assert row(user).departamento
    return user


def test_export_holds_everything_kept(validated: Any) -> None:
    info = row(validated)
    data = export(validated)
    assert json.loads(json.dumps(data)) == data  # JSON-ready
    assert data["format"] == EXPORT_FORMAT
    assert data["holder"] == str(validated.pk)
    validation = data["validation"]
    assert validation["cedula"] == "1020304050"  # the holder's own number, in full
    assert (validation["status"], validation["status_display"]) == ("active", "Active")
    assert (validation["vigencia"], validation["vigencia_display"]) == ("alive", "Exists, holder alive")
    for name in ("departamento", "municipio", "puesto", "direccion", "mesa"):
        assert validation[name] == getattr(info, name)
    assert validation["fetched_at"] == info.fetched_at.isoformat()
    assert validation["requested_at"] == info.requested_at.isoformat()
    assert validation["purged_at"] is None
    assert validation["raw_response"] == info.raw_response != ""
    assert "id" not in validation
    assert "user" not in validation
    versions = [(a["version"], a["method"], a["in_force"]) for a in data["authorizations"]]
    assert versions == [("2", "form", True), ("1", "form", False)]
    assert data["authorizations"][1]["withdrawn_at"] is not None
    assert data["authorizations"][0]["text"] == "Autorizo la consulta (v2)."
    assert data["retention"] == {"raw_response_days": 7, "place_days": None}


def test_export_leaves_out_a_raw_answer_no_longer_kept(validated: Any, make_user: Callable[..., Any]) -> None:
    CedulaInfo.objects.filter(user=validated).update(raw_response="")
    assert "raw_response" not in export(validated)["validation"]
    nobody = make_user(cedula="")
    assert export(nobody)["validation"] is None
    assert export(nobody)["authorizations"] == []


def test_forget_deletes_the_row_and_keeps_the_proof(
    validated: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        done = forget(validated)
    assert (done.authorizations_withdrawn, done.rows_deleted) == (1, 1)
    assert not CedulaInfo.objects.filter(user=validated).exists()
    consents = CedulaConsent.objects.filter(user=validated)
    assert consents.count() == 2
    assert not consents.in_force().exists()
    # Nothing of the number or the place remains in the package's tables.
    assert "1020304050" not in json.dumps(list(CedulaConsent.objects.values()), default=str)
    assert export(validated)["validation"] is None
    assert forget(validated).rows_deleted == 0


def test_forget_is_one_transaction(validated: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db.models import QuerySet

    def fail(self: Any) -> Any:
        raise RuntimeError("delete failed")

    monkeypatch.setattr(QuerySet, "delete", fail)
    with pytest.raises(RuntimeError):
        forget(validated)
    # The withdrawal was rolled back with it.
    assert CedulaConsent.objects.in_force().filter(user=validated).exists()
    assert row(validated).status == Status.ACTIVE


def test_a_deleted_user_leaves_the_proof_with_their_id(validated: Any) -> None:
    pk = validated.pk
    validated.delete()
    assert not CedulaInfo.objects.filter(user_id=pk).exists()
    consents = CedulaConsent.objects.filter(user_ref=str(pk))
    assert consents.count() == 2
    assert set(consents.values_list("user_id", flat=True)) == {None}


# -- the admin's actions and their permissions


@pytest.fixture
def staff(client: Client, make_user: Callable[..., Any]) -> Any:
    user = make_user(username="staff", is_staff=True)
    grant(user, "view_cedulainfo")
    client.force_login(user)
    return user


def actions(client: Client) -> list[str]:
    response = client.get(reverse(CHANGELIST))
    form = response.context["action_form"]  # None when no action is allowed
    return [] if form is None else [name for name, _label in form.fields["action"].choices if name]


def test_each_action_needs_its_permission(client: Client, staff: Any, validated: Any) -> None:
    assert actions(client) == []
    grant(staff, "export_cedulainfo")
    assert actions(client) == ["export_holders"]
    grant(staff, "forget_cedulainfo", "add_cedulaconsent")
    assert sorted(actions(client)) == ["export_holders", "forget_holders", "record_authorization"]
    # A crafted post without the permission is refused.
    staff.user_permissions.clear()
    grant(staff, "view_cedulainfo")
    client.post(
        reverse(CHANGELIST),
        {"action": "forget_holders", "post": "yes", "_selected_action": [row(validated).pk]},
    )
    assert CedulaInfo.objects.filter(user=validated).exists()


def test_the_export_action_downloads_json(client: Client, staff: Any, validated: Any) -> None:
    grant(staff, "export_cedulainfo")
    response = client.post(
        reverse(CHANGELIST), {"action": "export_holders", "_selected_action": [row(validated).pk]}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith('attachment; filename="cedula-export-')
    (holder,) = json.loads(response.content)["holders"]
    assert holder["holder"] == str(validated.pk)
    assert holder["validation"]["cedula"] == "1020304050"


def test_the_forget_action_asks_first(
    client: Client, staff: Any, validated: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    grant(staff, "forget_cedulainfo")
    pk = row(validated).pk
    page = client.post(reverse(CHANGELIST), {"action": "forget_holders", "_selected_action": [pk]})
    assert page.status_code == 200
    html = page.content.decode()
    assert "cedula-forget-confirm" in html
    assert "holder" in html  # the holder named
    assert "are kept, as the proof the law requires" in html
    assert CedulaInfo.objects.filter(pk=pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            reverse(CHANGELIST),
            {"action": "forget_holders", "post": "yes", "_selected_action": [pk]},
            follow=True,
        )
    assert "Forgot 1 holder" in done.content.decode()
    assert not CedulaInfo.objects.filter(pk=pk).exists()
    assert CedulaConsent.objects.filter(user=validated).count() == 2


def test_the_record_action_queues_the_waiting_row(
    client: Client, staff: Any, registered: Callable[..., Any], django_capture_on_commit_callbacks: Capture
) -> None:
    grant(staff, "add_cedulaconsent")
    user = registered("1020304051")
    assert row(user).status == Status.AWAITING_CONSENT
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse(CHANGELIST), {"action": "record_authorization", "_selected_action": [row(user).pk]}
        )
    consent = CedulaConsent.objects.get(user=user)
    assert (consent.method, consent.recorded_by_id) == (CedulaConsent.Method.ADMIN, staff.pk)
    assert row(user).status == Status.ACTIVE


def test_the_authorizations_admin_is_read_only(client: Client, staff: Any, validated: Any) -> None:
    grant(staff, "view_cedulaconsent", "add_cedulaconsent", "change_cedulaconsent", "delete_cedulaconsent")
    consent = CedulaConsent.objects.filter(user=validated).first()
    assert consent is not None
    changelist = client.get(reverse("admin:django_cedula_cedulaconsent_changelist"))
    assert changelist.status_code == 200
    assert str(validated.pk) in changelist.content.decode()
    in_force = client.get(reverse("admin:django_cedula_cedulaconsent_changelist"), {"in_force": "no"})
    assert list(in_force.context["cl"].result_list) == list(
        CedulaConsent.objects.filter(withdrawn_at__isnull=False)
    )
    change = reverse("admin:django_cedula_cedulaconsent_change", args=[consent.pk])
    client.post(change, {"version": "forged"})
    consent.refresh_from_db()
    assert consent.version == "2"
    assert client.get(reverse("admin:django_cedula_cedulaconsent_add")).status_code == 403
    assert (
        client.post(reverse("admin:django_cedula_cedulaconsent_delete", args=[consent.pk])).status_code == 403
    )
    assert timezone.now() - consent.granted_at < datetime.timedelta(minutes=5)
