"""django_cedula.views.status: the user's own validation as JSON."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from django_cedula.models import CedulaInfo

from .conftest import FULL, MASKED, in_seconds

pytestmark = pytest.mark.django_db

URL = "/cedula/status/"
KEYS = {
    "status",
    "status_display",
    "is_final",
    "retryable",
    "exists",
    "cedula_masked",
    "message",
    "place",
    "novedad",
    "next_attempt_at",
    "next_attempt",
    "retry_count",
    "fetched_at",
    "retry_allowed_at",
    "retry",
    "now",
}


def get(client: Client, user: Any = None, **headers: str) -> Any:
    if user is not None:
        client.force_login(user)
    return client.get(URL, **headers)


def test_the_url_is_namespaced() -> None:
    assert reverse("django_cedula:status") == URL


def test_anonymous_gets_401_json_not_a_redirect(client: Client) -> None:
    response = get(client)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_authenticated"
    assert "no-store" in response["Cache-Control"]


def test_a_user_without_a_validation_gets_404_json(client: Client, make_user: Callable[..., Any]) -> None:
    response = get(client, make_user())
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert "no-store" in response["Cache-Control"]


def test_pending_shape_masked_and_never_cached(client: Client, user_with_info: Callable[..., Any]) -> None:
    response = get(client, user_with_info("pending"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    data = response.json()
    assert set(data) == KEYS
    assert data["status"] == "pending"
    assert data["status_display"] == "Pending"
    assert data["is_final"] is False
    assert data["retryable"] is False
    assert data["cedula_masked"] == MASKED
    assert data["place"] is None
    assert data["novedad"] is None
    assert data["next_attempt_at"] is None
    assert data["retry_count"] == 0
    assert data["message"]
    body = response.content.decode()
    for secret in (FULL, "secret raw answer", "internal error text", "network_error", "raw_response"):
        assert secret not in body


def test_active_has_the_place(client: Client, user_with_info: Callable[..., Any]) -> None:
    place = {
        "departamento": "BOGOTÁ D.C.",
        "municipio": "BOGOTÁ. D.C.",
        "puesto": "COLEGIO",
        "direccion": "CALLE 26",
        "mesa": "12",
    }
    data = get(client, user_with_info("active", **place)).json()
    assert data["is_final"] is True
    assert data["place"] == place
    assert data["novedad"] is None


def test_cancelled_has_the_novedad(client: Client, user_with_info: Callable[..., Any]) -> None:
    novedad = {"novedad": "Cancelada por Muerte", "resolucion": "4512", "fecha_novedad": "15/03/2019"}
    data = get(client, user_with_info("cancelled_deceased", **novedad)).json()
    assert data["novedad"] == novedad
    assert data["place"] is None


def test_retrying_gives_the_next_attempt_with_its_offset_and_in_words(
    client: Client, user_with_info: Callable[..., Any]
) -> None:
    user = user_with_info("retrying", retry_count=2, next_attempt_at=in_seconds(70))
    data = get(client, user).json()
    assert data["retry_count"] == 2
    at = datetime.datetime.fromisoformat(data["next_attempt_at"])
    assert at.utcoffset() == datetime.timedelta(hours=-5)  # TIME_ZONE America/Bogota
    assert data["next_attempt_at"].endswith("-05:00")
    next_attempt = data["next_attempt"]
    assert next_attempt["at"] == data["next_attempt_at"]
    assert next_attempt["at_display"].endswith(" UTC-05:00")
    assert next_attempt["time_zone"] == "America/Bogota"
    assert 60 < next_attempt["in_seconds"] <= 70
    assert next_attempt["in_words"] == "in about a minute"
    assert next_attempt["steps"][-1] == {"above": None, "text": "any moment now"}


def test_a_next_attempt_already_past_is_any_moment_now(
    client: Client, user_with_info: Callable[..., Any]
) -> None:
    data = get(client, user_with_info("retrying", next_attempt_at=in_seconds(-20))).json()
    assert data["next_attempt"]["in_seconds"] < 0
    assert data["next_attempt"]["in_words"] == "any moment now"


def test_final_states_carry_no_next_attempt(client: Client, user_with_info: Callable[..., Any]) -> None:
    data = get(client, user_with_info("timeout", next_attempt_at=in_seconds(-20))).json()
    assert data["next_attempt"] is None
    assert data["next_attempt_at"] is None
    assert data["retryable"] is True


def test_spanish(client: Client, user_with_info: Callable[..., Any]) -> None:
    user = user_with_info("retrying", next_attempt_at=in_seconds(70))
    client.force_login(user)
    with translation.override("es"):
        data = client.get(URL).json()
        expected = str(CedulaInfo.Status.RETRYING.label)
    assert data["status_display"] == expected == "En espera de reintento"


def test_only_get(client: Client, user_with_info: Callable[..., Any]) -> None:
    client.force_login(user_with_info())
    assert client.post(URL).status_code == 405


def test_the_json_is_the_users_own(client: Client, user_with_info: Callable[..., Any]) -> None:
    mine = user_with_info("pending")
    user_with_info("active", mesa="99")
    data = json.loads(get(client, mine).content)
    assert data["status"] == "pending"


LOGIN_REQUIRED = "django.contrib.auth.middleware.LoginRequiredMiddleware"


def test_under_login_required_middleware_anonymous_still_gets_401_json(client: Client, settings: Any) -> None:
    # A site that makes every page need a login: the status view is polled by a script, so it
    # answers for itself (401 JSON) instead of the middleware's redirect to the login page.
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, LOGIN_REQUIRED]
    settings.LOGIN_URL = "/accounts/login/"
    assert client.get("/admin/").status_code == 302  # the middleware is in force elsewhere
    response = get(client)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_authenticated"
    assert "no-store" in response["Cache-Control"]


def test_under_login_required_middleware_a_user_gets_their_status(
    client: Client, settings: Any, user_with_info: Callable[..., Any]
) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, LOGIN_REQUIRED]
    response = get(client, user_with_info("pending"))
    assert response.status_code == 200
    assert response.json()["status"] == "pending"


# When a new validation may be asked for: "retry_allowed_at" and "retry".


def test_a_failure_a_moment_ago_says_when_to_try_again(
    client: Client, user_with_info: Callable[..., Any], settings: Any
) -> None:
    settings.CEDULA_REFRESH_COOLDOWN = 3600
    settings.CEDULA_RETRY_DELAYS = [60, 300, 900]
    ended = in_seconds(-10)
    data = get(client, user_with_info("timeout", requested_at=in_seconds(-1500), updated_at=ended)).json()
    assert data["retryable"] is True
    allowed_at = datetime.datetime.fromisoformat(data["retry_allowed_at"])
    assert allowed_at == ended.replace(microsecond=allowed_at.microsecond) + datetime.timedelta(seconds=60)
    assert data["retry_allowed_at"].endswith("-05:00")
    retry = data["retry"]
    assert retry["allowed"] is False
    assert retry["refusal"] == "cooldown"
    wait = retry["wait"]
    assert wait["at"] == data["retry_allowed_at"]
    assert wait["at_display"].endswith(" UTC-05:00")
    assert 45 < wait["in_seconds"] <= 50
    assert wait["in_words"] == "in about a minute"
    assert wait["steps"][-1] == {"above": None, "text": "any moment now"}


def test_a_failure_that_ended_minutes_ago_may_be_tried_again_now(
    client: Client, user_with_info: Callable[..., Any], settings: Any
) -> None:
    settings.CEDULA_REFRESH_COOLDOWN = 3600
    settings.CEDULA_RETRY_DELAYS = [60, 300, 900]
    user = user_with_info("timeout", requested_at=in_seconds(-1500), updated_at=in_seconds(-120))
    data = get(client, user).json()
    assert data["retry"] == {"allowed": True, "refusal": None, "wait": None}
    assert data["retry_allowed_at"] == data["now"]


def test_an_answer_says_when_it_may_be_checked_again(
    client: Client, user_with_info: Callable[..., Any], settings: Any
) -> None:
    settings.CEDULA_REFRESH_COOLDOWN = 3600
    data = get(client, user_with_info("active", requested_at=in_seconds(-300))).json()
    assert data["retryable"] is False
    assert data["retry"]["refusal"] == "cooldown"
    assert data["retry"]["wait"]["in_words"] == "in about 55 minutes"


@pytest.mark.parametrize(
    ("status", "refusal"), [("pending", "in_progress"), ("retrying", "in_progress"), ("invalid", "invalid")]
)
def test_no_time_while_under_way_or_for_an_invalid_number(
    client: Client, user_with_info: Callable[..., Any], status: str, refusal: str
) -> None:
    data = get(client, user_with_info(status, requested_at=in_seconds(-7200))).json()
    assert data["retry_allowed_at"] is None
    assert data["retry"] == {"allowed": False, "refusal": refusal, "wait": None}


def test_the_documented_answer_has_the_views_keys(client: Client, user_with_info: Callable[..., Any]) -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "host-pages.rst").read_text(encoding="utf-8")
    block = docs.split("otherwise **200**:", 1)[1].split(".. code-block:: json", 1)[1]
    example = json.loads(block.split("\n\n", 2)[1].replace('"..."', "null"))
    data = get(client, user_with_info("retrying", next_attempt_at=in_seconds(40))).json()
    assert set(example) == set(data) == KEYS
    assert set(example["retry"]) == set(data["retry"])
