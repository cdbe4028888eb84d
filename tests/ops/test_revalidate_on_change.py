"""A user whose cédula changes is validated again (CEDULA_REVALIDATE_ON_CHANGE)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from django_cedula.backends import ValidationJob
from django_cedula.models import CedulaInfo
from django_cedula.testing.backends import RecordingBackend

from .conftest import CEDULA, ago, set_row

pytestmark = pytest.mark.django_db(transaction=True)
Status = CedulaInfo.Status


@pytest.fixture
def validated(registered: Callable[..., Any]) -> Any:
    """A user validated a moment ago (inside the cooldown)."""
    user = registered()
    set_row(
        user,
        status=Status.ACTIVE,
        departamento="VALLE",
        fetched_at=ago(seconds=5),
        requested_at=ago(seconds=5),
    )
    return user


def test_a_new_number_restarts_the_validation_even_in_the_cooldown(
    validated: Any, recording_backend: type[RecordingBackend]
) -> None:
    validated.cedula = "79.123.456"
    validated.save()

    info = CedulaInfo.objects.get(user=validated)
    assert (info.status, info.cedula, info.departamento) == (Status.PENDING, "79123456", "")
    assert recording_backend.jobs == [ValidationJob(validated.pk, 1)]
    assert recording_backend.run_next() == Status.ACTIVE


def test_a_change_of_format_only_is_no_change(
    validated: Any, recording_backend: type[RecordingBackend]
) -> None:
    validated.cedula = "1.020.304.050"
    validated.save()
    assert CedulaInfo.objects.get(user=validated).status == Status.ACTIVE
    assert recording_backend.jobs == []


def test_another_field_changing_queues_nothing(
    validated: Any, recording_backend: type[RecordingBackend], django_assert_num_queries: Any
) -> None:
    validated.first_name = "Ana"
    with django_assert_num_queries(2):  # the user's UPDATE, and the row's cédula
        validated.save()
    with django_assert_num_queries(1):  # update_fields without the cédula: not even a look
        validated.save(update_fields=["first_name"])
    assert CedulaInfo.objects.get(user=validated).status == Status.ACTIVE
    assert recording_backend.jobs == []


def test_update_fields_naming_the_cedula_is_seen(
    validated: Any, recording_backend: type[RecordingBackend]
) -> None:
    validated.cedula = "79123456"
    validated.save(update_fields=["cedula"])
    assert [job.user_id for job in recording_backend.jobs] == [validated.pk]


def test_the_setting_off(validated: Any, recording_backend: type[RecordingBackend], settings: Any) -> None:
    settings.CEDULA_REVALIDATE_ON_CHANGE = False
    validated.cedula = "79123456"
    validated.save()
    info = CedulaInfo.objects.get(user=validated)
    assert (info.status, info.cedula) == (Status.ACTIVE, CEDULA)
    assert recording_backend.jobs == []


def test_a_change_while_processing_restarts_and_discards_the_old_lookup(
    validated: Any, recording_backend: type[RecordingBackend]
) -> None:
    set_row(validated, status=Status.PROCESSING)
    validated.cedula = "79123456"
    validated.save()
    info = CedulaInfo.objects.get(user=validated)
    assert (info.status, info.cedula) == (Status.PENDING, "79123456")
    assert len(recording_backend.jobs) == 1


def test_a_malformed_new_number_marks_the_row_invalid(
    validated: Any, recording_backend: type[RecordingBackend]
) -> None:
    validated.cedula = "12-AB"
    validated.save()
    assert CedulaInfo.objects.get(user=validated).status == Status.INVALID
    validated.save()  # still malformed: nothing more to do
    assert recording_backend.jobs == []


def test_a_cleared_number_leaves_the_row(validated: Any, recording_backend: type[RecordingBackend]) -> None:
    validated.cedula = ""
    validated.save()
    assert CedulaInfo.objects.get(user=validated).status == Status.ACTIVE
    assert recording_backend.jobs == []


def test_nothing_is_queued_when_the_save_rolls_back(
    validated: Any, recording_backend: type[RecordingBackend]
) -> None:
    class Boom(Exception):
        pass

    def change_then_fail() -> None:
        with transaction.atomic():
            validated.cedula = "79123456"
            validated.save()
            raise Boom

    with pytest.raises(Boom):
        change_then_fail()
    assert CedulaInfo.objects.get(user=validated).cedula == CEDULA
    assert recording_backend.jobs == []


def test_a_user_who_adds_a_cedula_later_is_validated(
    make_user: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> None:
    user = make_user(cedula="")
    user.cedula = "79123456"
    user.save()
    assert CedulaInfo.objects.get(user=user).status == Status.PENDING
    assert recording_backend.jobs == [ValidationJob(user.pk, 1)]


def test_without_auto_validate_a_user_without_a_row_is_left_alone(
    make_user: Callable[..., Any], recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_AUTO_VALIDATE = False
    user = make_user(cedula="")
    user.cedula = "79123456"
    user.save()
    assert not CedulaInfo.objects.exists()
    assert recording_backend.jobs == []


def test_another_user_field(
    make_user: Callable[..., Any], recording_backend: type[RecordingBackend], settings: Any
) -> None:
    settings.CEDULA_USER_FIELD = "documento"
    user = make_user(documento="79123456")
    set_row(user, status=Status.ACTIVE)
    recording_backend.reset()
    user.cedula = "1020304050"  # not the configured field
    user.save()
    assert recording_backend.jobs == []
    user.documento = "1020304051"
    user.save()
    assert CedulaInfo.objects.get(user=user).cedula == "1020304051"
    assert len(recording_backend.jobs) == 1


def test_the_log_never_shows_the_number(
    validated: Any, recording_backend: type[RecordingBackend], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="django_cedula")
    validated.cedula = "79123456"
    validated.save()
    assert f"User {validated.pk} changed" in caplog.text
    assert "79123456" not in caplog.text
    assert CEDULA not in caplog.text
