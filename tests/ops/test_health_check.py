"""The django-health-check check (``django_cedula.contrib.health_check.SourceHealth``): it fails
while no configured source can answer, passes while a chain's other sources still do, and fails
when the sources' health cannot be read. Through django-health-check's own view, on the real Redis
cache (database 12) the cluster shares."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from django.test import AsyncRequestFactory
from health_check.views import HealthCheckView

from django_cedula import health
from django_cedula.contrib.health_check import SourceHealth

from .test_pauses import closed_port

pytestmark = pytest.mark.django_db
REDIS_DB = int(os.environ.get("CEDULA_TEST_OPS_REDIS_DB", "12"))
CHAIN = [
    {"BACKEND": "django_cedula.testing.scrapers.FakeScraper"},
    {"BACKEND": "tests.ops.test_sources.ShapedScraper"},
]
CHECK = "django_cedula.contrib.health_check.SourceHealth"


@pytest.fixture(autouse=True)
def shared_cache(settings: Any) -> Any:
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    client.flushdb()
    settings.CACHES = {
        **settings.CACHES,
        "shared": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:6379/{REDIS_DB}",
        },
    }
    settings.CEDULA_CACHE_ALIAS = "shared"
    yield
    client.flushdb()


def check(*checks: Any) -> tuple[int, dict[str, str]]:
    view = HealthCheckView.as_view(checks=list(checks) or [CHECK])
    response = async_to_sync(view)(AsyncRequestFactory().get("/ht/", {"format": "json"}))
    return response.status_code, json.loads(response.content)


def test_passes_while_every_source_is_in_service() -> None:
    assert check() == (200, {"SourceHealth(any_source=False)": "OK"})


def test_fails_while_the_only_source_is_out() -> None:
    health.take_out("fake", reason="parse_error", detail="no table")
    status, body = check()
    assert status == 500
    message = body["SourceHealth(any_source=False)"]
    assert message.startswith("Unavailable: out of service: fake since ")
    assert "answers that could not be read" in message
    assert "manage.py cedula_sources" in message
    health.put_back("fake")
    assert check()[0] == 200


def test_one_source_of_a_chain_out_passes_and_is_logged(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CEDULA_SOURCES = CHAIN
    health.take_out("shaped", reason="form_changed", detail="no field nCedula")
    with caplog.at_level(logging.WARNING, logger="django_cedula.contrib.health_check"):
        assert check() == (200, {"SourceHealth(any_source=False)": "OK"})
    assert "shaped out of service; the other sources answer" in caplog.text
    status, body = check((SourceHealth, {"any_source": True}))
    assert status == 500
    assert "shaped since " in body["SourceHealth(any_source=True)"]
    health.take_out("fake", reason="token_refused", detail="refused")
    status, body = check()
    assert status == 500
    message = body["SourceHealth(any_source=False)"]
    assert "fake since " in message
    assert "fresh captcha tokens refused by the site" in message
    assert "a form page without what the lookup needs" in message


def test_fails_when_the_cache_cannot_be_read(settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "down": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5},
        },
    }
    settings.CEDULA_CACHE_ALIAS = "down"
    status, body = check()
    assert status == 500
    assert body["SourceHealth(any_source=False)"] == (
        "Unavailable: the sources' health could not be read (ConnectionError)"
    )
