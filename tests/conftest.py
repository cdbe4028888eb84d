from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from django_cedula.loading import reset_all
from django_cedula.testing.backends import RecordingBackend
from django_cedula.testing.scrapers import FakeScraper

pytest_plugins = ["django_cedula.testing.pytest_plugin"]


@pytest.fixture(autouse=True)
def _clean_package_state() -> Iterator[None]:
    """Each test starts with no cached backend or scraper and no recorded jobs or calls."""
    reset_all()
    FakeScraper.reset()
    RecordingBackend.reset()
    yield
    reset_all()
    FakeScraper.reset()
    RecordingBackend.reset()


@pytest.fixture
def recording_backend(settings: Any) -> type[RecordingBackend]:
    settings.CEDULA_TASK_BACKEND = "django_cedula.testing.backends.RecordingBackend"
    return RecordingBackend


_counter = iter(range(10**6))


@pytest.fixture
def make_user() -> Callable[..., Any]:
    """Create a user with a unique username; keyword arguments go to the model."""

    def make(**fields: Any) -> Any:
        fields.setdefault("username", f"user{next(_counter)}")
        return get_user_model().objects.create(**fields)

    return make
