from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from django_cedula.models import CedulaInfo

FULL = "1020304050"
MASKED = "******4050"


@pytest.fixture
def user_with_info(make_user: Callable[..., Any], recording_backend: Any) -> Callable[..., Any]:
    """``user_with_info(status, **row_fields)``: a user whose CedulaInfo (cédula 1020304050) is set so."""

    def make(status: str = "pending", **fields: Any) -> Any:
        user = make_user(cedula=FULL)
        CedulaInfo.objects.filter(user=user).update(
            status=status,
            raw_response="<html>secret raw answer</html>",
            error_message="internal error text",
            error_code="network_error",
            **fields,
        )
        return user

    return make


def in_seconds(seconds: float) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(seconds=seconds)
