"""Fixtures for the admin tests: rows created through the package, and staff users."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from django_cedula.models import CedulaInfo

Capture = Callable[..., Any]


@pytest.fixture
def make_row(
    make_user: Callable[..., Any], django_capture_on_commit_callbacks: Capture
) -> Callable[..., CedulaInfo]:
    """Create a user with ``cedula``; the receiver and the inline backend validate it at once.

    Keyword arguments other than ``username``/``email`` are then written onto the row, to put it
    in a given state without going through the scraper.
    """

    def make(cedula: str, *, username: str | None = None, email: str = "", **fields: Any) -> CedulaInfo:
        user_fields: dict[str, Any] = {"cedula": cedula, "email": email}
        if username is not None:
            user_fields["username"] = username
        # The test runs in a transaction that never commits: run the queued job explicitly.
        with django_capture_on_commit_callbacks(execute=True):
            user = make_user(**user_fields)
        if fields:
            CedulaInfo.objects.filter(user=user).update(**fields)
        return CedulaInfo.objects.get(user=user)

    return make


def grant(user: Any, *codenames: str) -> None:
    """Give ``user`` the package's permissions ``codenames``."""
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="django_cedula", codename__in=codenames)
    )


@pytest.fixture
def staff_client(client: Client, make_user: Callable[..., Any]) -> Client:
    """Logged in as staff who may view validations and run "Validate again" (change), nothing else."""
    staff = make_user(username="staff", is_staff=True)
    grant(staff, "view_cedulainfo", "change_cedulainfo")
    client.force_login(staff)
    return client
