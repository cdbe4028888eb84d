"""Who sees the voting place: its holder, and staff with ``django_cedula.view_cedulainfo``, in every
view (the JSON view, the status card, the DRF serializer, the admin list, the user admin's
inline); and never a log line. Also the statuses of #22 and #23 wherever a status shows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, Permission
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from django_cedula.contrib.rest_framework import CedulaInfoSerializer
from django_cedula.models import CedulaInfo, CedulaStatus
from django_cedula.services import record_consent

from .conftest import Capture, grant, row

pytestmark = pytest.mark.django_db
Status = CedulaStatus
PLACE = {
    "departamento": "ANTIOQUIA",
    "municipio": "MEDELLÍN",
    "puesto": "IE SAN JOSÉ",
    "direccion": "CALLE 10 # 20-30",
    "mesa": "7",
}


@pytest.fixture
def holder(registered: Callable[..., Any]) -> Any:
    user = registered("1020304050", username="holder")
    CedulaInfo.objects.filter(user=user).update(status=Status.ACTIVE, **PLACE)
    return user


def card(viewer: Any, user: Any) -> str:
    request = RequestFactory().get("/")
    request.user = viewer
    template = Template("{% load cedula %}{% cedula_status_card user script=False %}")
    return template.render(Context({"request": request, "user": user}))


def serialize(viewer: Any, user: Any) -> dict[str, Any]:
    request = RequestFactory().get("/")
    request.user = viewer
    return dict(CedulaInfoSerializer(row(user), context={"request": request}).data)


def test_the_json_view_answers_only_the_users_own_row(
    client: Client, holder: Any, make_user: Callable[..., Any]
) -> None:
    client.force_login(holder)
    assert client.get("/cedula/status/").json()["place"] == PLACE
    client.force_login(make_user(username="other"))
    answer = client.get("/cedula/status/")
    assert answer.status_code == 404  # no row of their own; never the holder's
    assert "MEDELLÍN" not in answer.content.decode()


def test_the_card_shows_the_place_to_the_holder_and_permitted_staff_only(
    holder: Any, make_user: Callable[..., Any]
) -> None:
    assert "IE SAN JOSÉ" in card(holder, holder)
    other = make_user(username="other", is_staff=True)
    html = card(other, holder)
    assert "Status:" in html
    assert "Active" in html
    assert not any(value in html for value in PLACE.values() if len(value) > 1)
    assert "IE SAN JOSÉ" not in card(AnonymousUser(), holder)
    grant(other, "view_cedulainfo")
    other = type(other).objects.get(pk=other.pk)  # permissions are cached per instance
    assert "IE SAN JOSÉ" in card(other, holder)


def test_the_serializer_shows_the_place_to_the_holder_and_permitted_staff_only(
    holder: Any, make_user: Callable[..., Any]
) -> None:
    assert serialize(holder, holder)["place"] == PLACE
    other = make_user(username="other")
    assert serialize(other, holder)["place"] is None
    assert serialize(AnonymousUser(), holder)["place"] is None
    assert CedulaInfoSerializer(row(holder)).data["place"] is None  # no request: hidden
    grant(other, "view_cedulainfo")
    assert serialize(type(other).objects.get(pk=other.pk), holder)["place"] == PLACE
    superuser = make_user(username="root", is_superuser=True)
    assert serialize(superuser, holder)["place"] == PLACE


def test_the_admin_list_needs_the_view_permission(
    client: Client, holder: Any, make_user: Callable[..., Any]
) -> None:
    staff = make_user(username="staff", is_staff=True)
    client.force_login(staff)
    changelist = reverse("admin:django_cedula_cedulainfo_changelist")
    assert client.get(changelist).status_code == 403
    assert (
        client.get(reverse("admin:django_cedula_cedulainfo_change", args=[row(holder).pk])).status_code == 403
    )
    grant(staff, "view_cedulainfo")
    page = client.get(changelist).content.decode()
    assert "MEDELLÍN, ANTIOQUIA" in page


@pytest.mark.urls("tests.admin.urls")
def test_the_user_admins_inline_needs_the_view_permission(
    client: Client, holder: Any, make_user: Callable[..., Any]
) -> None:
    staff = make_user(username="staff", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user"]))
    client.force_login(staff)
    url = reverse("host_admin:testapp_user_change", args=[holder.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "IE SAN JOSÉ" not in page.content.decode()
    grant(staff, "view_cedulainfo")
    assert "IE SAN JOSÉ" in client.get(url).content.decode()


def test_no_log_line_carries_the_place(
    make_user: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        user = make_user(cedula="1020304050")
        record_consent(user)
    info = row(user)
    assert info.status == Status.ACTIVE
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged  # the validation was logged
    for name in ("puesto", "direccion"):
        assert getattr(info, name) not in logged
    assert "1020304050" not in logged


# -- the statuses of #22 and #23, wherever a status shows


@pytest.mark.parametrize(
    ("status", "vigencia", "display", "exists", "message"),
    [
        (
            Status.NONEXISTENT,
            "nonexistent",
            "Number does not exist",
            False,
            "no cédula with this number exists",
        ),
        (
            Status.NOT_FOUND,
            "alive",
            "Not registered to vote; the cédula exists",
            True,
            "not registered to vote",
        ),
        (Status.NOT_FOUND, "", "Not in the census", None, "not in the census"),
        (
            Status.AWAITING_CONSENT,
            "",
            "Waiting for the holder's authorization",
            None,
            "once you authorize it",
        ),
        (Status.CANCELLED_DECEASED, "deceased", "Cancelled (deceased)", True, "record note"),
    ],
)
def test_each_status_said_in_every_view(
    client: Client,
    registered: Callable[..., Any],
    make_user: Callable[..., Any],
    status: str,
    vigencia: str,
    display: str,
    exists: bool | None,
    message: str,
) -> None:
    user = registered()
    CedulaInfo.objects.filter(user=user).update(status=status, vigencia=vigencia)
    client.force_login(user)
    data = client.get("/cedula/status/").json()
    assert (data["status"], data["status_display"], data["exists"]) == (status, display, exists)
    assert message in data["message"]
    assert data["place"] is None
    if status == Status.AWAITING_CONSENT:
        assert data["retry"] == {"allowed": False, "refusal": "awaiting_consent", "wait": None}
    assert serialize(user, user)["status_display"] == display
    assert serialize(user, user)["exists"] is exists
    html = card(user, user)
    escaped = display.replace("'", "&#x27;")
    assert f"status-{status}" in html
    assert escaped in html
    staff = make_user(username="staff", is_staff=True)
    grant(staff, "view_cedulainfo")
    client.force_login(staff)
    changelist = reverse("admin:django_cedula_cedulainfo_changelist")
    page = client.get(changelist).content.decode()
    assert f'<td class="field-status_label">{escaped}</td>' in page
    filtered = client.get(changelist, {"vigencia__exact": "alive"}).content.decode()
    assert ("field-status_label" in filtered) is (vigencia == "alive")


def test_a_purged_place_is_said_so(client: Client, holder: Any) -> None:
    CedulaInfo.objects.filter(user=holder).update(purged_at=timezone.now(), **dict.fromkeys(PLACE, ""))
    client.force_login(holder)
    data = client.get("/cedula/status/").json()
    assert data["place"] is None
    assert "no longer kept" in data["message"]
