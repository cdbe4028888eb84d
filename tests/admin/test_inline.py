"""``CedulaInfoInline`` on a host's own user admin (a test-only admin site, ``tests.admin.urls``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from django_cedula.models import CedulaInfo

from .conftest import grant

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.admin.urls")]


@pytest.fixture
def user_admin_client(client: Client, make_user: Callable[..., Any]) -> Client:
    """Staff who manage users and may view validations."""
    staff = make_user(username="staff", is_staff=True)
    staff.user_permissions.add(
        *type(staff).user_permissions.field.related_model.objects.filter(
            content_type__app_label="testapp", codename__in=["view_user", "change_user"]
        )
    )
    grant(staff, "view_cedulainfo")
    client.force_login(staff)
    return client


def user_change_url(user: Any) -> str:
    return reverse("host_admin:testapp_user_change", args=[user.pk])


def test_the_inline_shows_the_validation_read_only(
    user_admin_client: Client, make_row: Callable[..., CedulaInfo]
) -> None:
    info = make_row(
        "1020304050", departamento="ANTIOQUIA", puesto="IE SAN JOSÉ", raw_response="RAW-MARKER", source="wsp"
    )

    response = user_admin_client.get(user_change_url(info.user))

    assert response.status_code == 200
    html = response.content.decode()
    (formset,) = response.context["inline_admin_formsets"]
    assert formset.opts.model is CedulaInfo
    assert not formset.has_add_permission
    assert not formset.has_change_permission
    assert not formset.has_delete_permission
    assert "ANTIOQUIA" in html
    assert "IE SAN JOSÉ" in html
    # The source that answered, as on the row's page.
    assert re.search(
        r"<label>Answered by:</label>(?:(?!<label>).)*<div class=\"readonly\">wsp</div>", html, re.S
    )
    assert "Active" in html
    assert 'name="cedula_info-0-departamento"' not in html
    assert "RAW-MARKER" not in html
    # Times to the second, with the zone (America/Bogota in the tests), as on the row's page.
    assert re.search(r'<div class="readonly">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d -05</div>', html)
    # CedulaInfoAdmin is on the same site: a link leads to the row's page.
    assert reverse("host_admin:django_cedula_cedulainfo_change", args=[info.pk]) in html


def test_saving_the_user_leaves_the_validation_alone(
    user_admin_client: Client, make_row: Callable[..., CedulaInfo]
) -> None:
    info = make_row("1020304050", departamento="ANTIOQUIA")
    user = info.user
    form = {
        "username": user.username,
        "first_name": "Ana",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "date_joined_0": "2024-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2024-01-01",
        "initial-date_joined_1": "00:00:00",
        "cedula_info-TOTAL_FORMS": "1",
        "cedula_info-INITIAL_FORMS": "1",
        "cedula_info-MIN_NUM_FORMS": "0",
        "cedula_info-MAX_NUM_FORMS": "1",
        "cedula_info-0-id": str(info.pk),
        "cedula_info-0-user": str(user.pk),
        "cedula_info-0-departamento": "VALLE",
    }

    response = user_admin_client.post(user_change_url(user), form)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    user.refresh_from_db()
    assert user.first_name == "Ana"
    fresh = CedulaInfo.objects.get(pk=info.pk)
    assert fresh.departamento == "ANTIOQUIA"
    assert fresh.updated_at == info.updated_at


def test_the_inline_is_hidden_from_staff_who_may_not_view_validations(
    client: Client, make_user: Callable[..., Any], make_row: Callable[..., CedulaInfo]
) -> None:
    info = make_row("1020304050", departamento="ANTIOQUIA")
    staff = make_user(username="staff", is_staff=True)
    staff.user_permissions.add(
        *type(staff).user_permissions.field.related_model.objects.filter(
            content_type__app_label="testapp", codename__in=["view_user", "change_user"]
        )
    )
    client.force_login(staff)

    response = client.get(user_change_url(info.user))

    assert response.status_code == 200
    assert response.context["inline_admin_formsets"] == []
    assert "ANTIOQUIA" not in response.content.decode()
