from __future__ import annotations

import datetime
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from django_cedula.models import CedulaInfo
from django_cedula.testing.backends import RecordingBackend
from tests.integration.conftest import start_worker  # noqa: F401 - the fixture, for the real-process test

CEDULA = "1020304050"


class FakeTTY(io.StringIO):
    """Captured output that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


class BrokenBackend(RecordingBackend):
    """A queue that refuses every job, like a broker that is down."""

    def enqueue(self, job: Any) -> None:
        raise ConnectionError("broker down")


def ago(**delta: float) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(**delta)


def set_row(user: Any, **fields: Any) -> CedulaInfo:
    """Put the user's row in a state with an UPDATE (auto_now would overwrite updated_at in save())."""
    CedulaInfo.objects.filter(user=user).update(**fields)
    return CedulaInfo.objects.get(user=user)


@pytest.fixture
def registered(
    recording_backend: type[RecordingBackend], make_user: Callable[..., Any]
) -> Callable[..., Any]:
    """Create a user whose row exists; its first job is dropped, so each test queues what it checks."""

    def make(cedula: str = CEDULA, **fields: Any) -> Any:
        user = make_user(cedula=cedula, **fields)
        recording_backend.reset()
        return user

    return make
