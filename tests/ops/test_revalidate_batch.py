"""request_validation_batch: the decisions of one request at a time, made for a batch at once."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from django_cedula.models import CedulaInfo
from django_cedula.services import RequestDecision, request_validation_batch
from django_cedula.testing.backends import RecordingBackend

from .conftest import set_row

pytestmark = pytest.mark.django_db(transaction=True)
Status = CedulaInfo.Status


def test_every_decision_in_one_batch(
    registered: Callable[..., Any],
    make_user: Callable[..., Any],
    recording_backend: type[RecordingBackend],
    settings: Any,
) -> None:
    settings.CEDULA_AUTO_VALIDATE = False  # users without rows: the batch creates them
    settings.CEDULA_REVALIDATE_ON_CHANGE = False  # the batch sees the changed number itself
    never = make_user(cedula="52123456")
    settings.CEDULA_AUTO_VALIDATE = True
    long_ago = timezone.now() - datetime.timedelta(days=40)
    old = registered(cedula="52123457")
    set_row(old, status=Status.ACTIVE, requested_at=long_ago, municipio="CALI", retry_count=2)
    busy = registered(cedula="52123458")  # PENDING: under way
    recent = registered(cedula="52123459")
    set_row(recent, status=Status.ACTIVE, requested_at=timezone.now())
    moved = registered(cedula="52123460")
    set_row(moved, status=Status.ACTIVE, requested_at=timezone.now())
    moved.cedula = "52.123.461"
    moved.save()
    broken = make_user(cedula="12ab")
    nothing = make_user(cedula="")
    recording_backend.reset()

    users = [never, old, busy, recent, moved, broken, nothing]
    counts = request_validation_batch(users)

    assert counts == {
        RequestDecision.QUEUED: 3,  # never, old, moved (a new number always restarts)
        RequestDecision.IN_PROGRESS: 1,
        RequestDecision.COOLDOWN: 1,
        RequestDecision.INVALID: 1,
        RequestDecision.NO_CEDULA: 1,
    }
    assert sorted(job.user_id for job in recording_backend.jobs) == sorted([never.pk, old.pk, moved.pk])
    assert {job.attempt for job in recording_backend.jobs} == {1}
    for user, cedula in ((never, "52123456"), (old, "52123457"), (moved, "52123461")):
        info = CedulaInfo.objects.get(user=user)
        assert (info.status, info.cedula, info.retry_count, info.municipio) == (Status.PENDING, cedula, 0, "")
    assert CedulaInfo.objects.get(user=busy).status == Status.PENDING
    assert CedulaInfo.objects.get(user=recent).status == Status.ACTIVE
    assert CedulaInfo.objects.get(user=broken).status == Status.INVALID


def test_a_batch_costs_a_handful_of_queries_however_many_users(
    registered: Callable[..., Any],
    recording_backend: type[RecordingBackend],
    django_assert_max_num_queries: Any,
) -> None:
    long_ago = timezone.now() - datetime.timedelta(days=40)
    users = [registered(cedula=f"5212{index:04d}") for index in range(60)]
    for user in users:
        set_row(user, status=Status.ACTIVE, requested_at=long_ago)
    recording_backend.reset()
    # A transaction, the locking read, the INSERT of new rows (none), one UPDATE.
    with django_assert_max_num_queries(6):
        counts = request_validation_batch(users)
    assert counts == {RequestDecision.QUEUED: 60}
    assert len(recording_backend.jobs) == 60
