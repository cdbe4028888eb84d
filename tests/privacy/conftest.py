"""Habeas data tests: the holder's authorization required, as it is by default (the rest of the
suite turns the requirement off in tests/settings.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission

from django_cedula.models import CedulaInfo
from django_cedula.testing.scrapers import FakeScraper

Capture = Callable[..., Any]


@pytest.fixture(autouse=True)
def require_consent(settings: Any) -> Iterator[dict[str, Any]]:
    """``CEDULA_PRIVACY`` at its defaults: the authorization required, raw answers kept 7 days."""
    settings.CEDULA_PRIVACY = {"REQUIRE_CONSENT": True}
    return settings.CEDULA_PRIVACY


@pytest.fixture
def registered(
    make_user: Callable[..., Any], django_capture_on_commit_callbacks: Capture
) -> Callable[..., Any]:
    """A user registered with ``cedula``, every job queued on commit run (the inline backend)."""

    def make(cedula: str = "1020304050", **fields: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return make_user(cedula=cedula, **fields)

    return make


def row(user: Any) -> CedulaInfo:
    return CedulaInfo.objects.get(user_id=user.pk)


def no_lookup() -> bool:
    """No lookup reached the (fake) source in this test."""
    return FakeScraper.calls == []


def grant(user: Any, *codenames: str) -> None:
    """Give ``user`` the package's permissions ``codenames``."""
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="django_cedula", codename__in=codenames)
    )
