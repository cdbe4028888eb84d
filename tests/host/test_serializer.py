"""django_cedula.contrib.rest_framework: the JSON view's fields, read-only, through DRF."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, RequestFactory

from .conftest import FULL, MASKED, in_seconds

pytest.importorskip("rest_framework")

from django_cedula.contrib.rest_framework import CedulaInfoSerializer

pytestmark = pytest.mark.django_db

MOVING = {"now"}


def without_moving_parts(data: dict[str, Any]) -> dict[str, Any]:
    data = {key: value for key, value in data.items() if key not in MOVING}
    if data.get("next_attempt"):
        data["next_attempt"] = {
            key: value for key, value in data["next_attempt"].items() if key not in {"in_seconds"}
        }
    if data.get("retry_allowed_at") and not (data.get("retry") or {}).get("wait"):
        del data["retry_allowed_at"]  # allowed now: "now", which moves
    if (data.get("retry") or {}).get("wait"):
        data["retry"] = {**data["retry"], "wait": {**data["retry"]["wait"], "in_seconds": None}}
    return data


@pytest.mark.parametrize(
    ("status", "fields"),
    [
        ("pending", {}),
        ("active", {"departamento": "ANTIOQUIA", "mesa": "7"}),
        ("cancelled_other", {"novedad": "Cancelada por Doble Cedulación"}),
        ("retrying", {"retry_count": 1, "next_attempt_at": in_seconds(300)}),
    ],
)
def test_same_fields_as_the_json_view(
    client: Client, user_with_info: Callable[..., Any], status: str, fields: dict[str, Any]
) -> None:
    user = user_with_info(status, **fields)
    client.force_login(user)
    view = client.get("/cedula/status/").json()
    # As DRF's views serialize: the request in the context, its user the row's holder.
    request = RequestFactory().get("/")
    request.user = user
    data = CedulaInfoSerializer(user.cedula_info, context={"request": request}).data
    assert set(data) == set(view)
    assert without_moving_parts(dict(data)) == without_moving_parts(view)
    assert data["cedula_masked"] == MASKED
    assert FULL not in str(data)
    for internal in ("raw_response", "error_message", "error_code", "cedula"):
        assert internal not in data


def test_read_only(user_with_info: Callable[..., Any]) -> None:
    serializer = CedulaInfoSerializer(data={"status": "active", "cedula_masked": "x"})
    assert all(field.read_only for field in serializer.fields.values())
    assert serializer.is_valid()
    assert serializer.validated_data == {}
    with pytest.raises(NotImplementedError):
        serializer.save()


def test_many(user_with_info: Callable[..., Any]) -> None:
    users = [user_with_info("pending"), user_with_info("active", mesa="3")]
    data = CedulaInfoSerializer([user.cedula_info for user in users], many=True).data
    assert [item["status"] for item in data] == ["pending", "active"]


def test_without_drf_the_import_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rest_framework", None)
    monkeypatch.delitem(sys.modules, "django_cedula.contrib.rest_framework")
    with pytest.raises(ImportError, match=r"django-cedula\[drf\]"):
        importlib.import_module("django_cedula.contrib.rest_framework")


def test_many_rows_each_their_own(make_user: Callable[..., Any], recording_backend: Any) -> None:
    # Streamed rows (an iterator) are freed as they go: nothing may carry over from one to the next.
    from django_cedula.models import CedulaInfo

    places = ["ANTIOQUIA", "BOYACÁ", "CALDAS", "NARIÑO"]
    for index, departamento in enumerate(places):
        user = make_user(cedula=f"10203040{index + 10}")
        CedulaInfo.objects.filter(user=user).update(status="active", departamento=departamento)
    rows = CedulaInfo.objects.order_by("pk").iterator(chunk_size=1)
    # show_place: the caller decided who sees it (without a request, the place is hidden).
    data = CedulaInfoSerializer((row for row in rows), many=True, context={"show_place": True}).data
    assert [row["place"]["departamento"] for row in data] == places
    assert len({row["cedula_masked"] for row in data}) == len(places)
