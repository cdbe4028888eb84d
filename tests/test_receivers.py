"""Registration starts a validation: the receiver, on-commit queuing and its edge cases."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction

from django_cedula.backends import ValidationJob
from django_cedula.models import CedulaInfo
from django_cedula.testing.backends import RecordingBackend

pytestmark = pytest.mark.django_db(transaction=True)


def test_creation_queues_exactly_one_job_after_commit(
    recording_backend: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    with transaction.atomic():
        user = make_user(cedula="1.020.304.050")
        info = CedulaInfo.objects.get(user=user)
        assert info.status == CedulaInfo.Status.PENDING
        assert info.cedula == "1020304050"
        assert recording_backend.jobs == []  # not before the commit
    assert recording_backend.jobs == [ValidationJob(user_id=user.pk, attempt=1, delay=0.0)]


def test_row_is_created_in_the_users_transaction(
    recording_backend: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    class Boom(Exception):
        pass

    def register_then_fail() -> None:
        with transaction.atomic():
            make_user(cedula="1020304050")
            raise Boom

    with pytest.raises(Boom):
        register_then_fail()
    assert CedulaInfo.objects.count() == 0
    assert recording_backend.jobs == []


def test_updates_queue_nothing(
    recording_backend: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    user = make_user(cedula="1020304050")
    recording_backend.reset()
    user.first_name = "Ana"
    user.save()
    assert recording_backend.jobs == []
    assert CedulaInfo.objects.count() == 1


def test_fixture_loading_queues_nothing(recording_backend: type[RecordingBackend]) -> None:
    call_command("loaddata", "users", verbosity=0)
    assert recording_backend.jobs == []
    assert CedulaInfo.objects.count() == 0


def test_users_without_a_cedula_are_skipped(
    recording_backend: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    make_user(cedula="")
    assert recording_backend.jobs == []
    assert CedulaInfo.objects.count() == 0


def test_a_malformed_cedula_is_marked_invalid_and_never_queued(
    recording_backend: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    user = make_user(cedula="12-AB")
    info = CedulaInfo.objects.get(user=user)
    assert info.status == CedulaInfo.Status.INVALID
    assert info.is_final
    assert "digits" in info.error_message
    assert recording_backend.jobs == []


def test_another_field_name(
    recording_backend: type[RecordingBackend], make_user: Callable[..., Any], settings: Any
) -> None:
    settings.CEDULA_USER_FIELD = "documento"
    user = make_user(cedula="", documento="79123456")
    assert CedulaInfo.objects.get(user=user).cedula == "79123456"
    assert [job.user_id for job in recording_backend.jobs] == [user.pk]


def test_auto_validate_off(
    recording_backend: type[RecordingBackend], make_user: Callable[..., Any], settings: Any
) -> None:
    settings.CEDULA_AUTO_VALIDATE = False
    make_user(cedula="1020304050")
    assert CedulaInfo.objects.count() == 0
    assert recording_backend.jobs == []


def test_with_the_inline_backend_the_whole_validation_runs_after_commit(
    make_user: Callable[..., Any],
) -> None:
    user = make_user(cedula="1020304050")
    info = CedulaInfo.objects.get(user=user)
    assert info.status == CedulaInfo.Status.ACTIVE
    assert info.departamento


def test_broker_down_at_registration_keeps_the_user_and_a_pending_row(
    make_user: Callable[..., Any], settings: Any, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    """Django-Q2 with a Redis broker on a closed port: a real connection failure."""
    from django_q.conf import Conf

    settings.CEDULA_TASKS = {"BACKEND": "django_cedula.backends.django_q.DjangoQBackend"}
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", {"host": "127.0.0.1", "port": 1, "socket_connect_timeout": 1})
    caplog.set_level(logging.ERROR, logger="django_cedula")

    user = make_user(cedula="1020304050")

    assert type(user).objects.filter(pk=user.pk).exists()
    assert CedulaInfo.objects.get(user=user).status == CedulaInfo.Status.PENDING
    failures = [r for r in caplog.records if r.name.startswith("django_cedula")]
    assert len(failures) == 1
    assert f"user {user.pk}" in failures[0].getMessage()
    assert "ConnectionError" in failures[0].getMessage()
    assert "1020304050" not in caplog.text
