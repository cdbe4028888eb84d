"""The pauses after a block, where operators look: ``cedula_stats`` (text and JSON) and the line
above the admin's list of validations. Also with the cache down: a real Redis client against a
closed port."""

from __future__ import annotations

import io
import json
import socket
import time
import types
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from django_cedula import throttle
from django_cedula.scrapers.chain import configured_sources

from ..admin.conftest import grant

pytestmark = pytest.mark.django_db
CHAIN = [
    {"BACKEND": "django_cedula.scrapers.wsp.WspScraper"},
    {"BACKEND": "django_cedula.scrapers.consultacenso_http.ConsultaCensoHttpScraper", "OPTIONS": {}},
    {"BACKEND": "no.such.Scraper"},  # left out of the names: manage.py check reports it
    {"BACKEND": "tests.ops.broken_scraper_module.Scraper"},  # its module raises on import: left out too
]
#: The clock the pauses are read on (``throttle.time``): a report takes its time on a loaded
#: machine, and the seconds left must not move meanwhile.
NOW = 1_800_000_000.0


def stats(*args: str) -> str:
    out = io.StringIO()
    call_command("cedula_stats", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttle, "time", types.SimpleNamespace(time=lambda: NOW, sleep=time.sleep))


@pytest.fixture
def chain(settings: Any) -> None:
    settings.CEDULA_SOURCES = CHAIN
    settings.CEDULA_BLOCK_COOLDOWN = 900


@pytest.fixture
def staff_client(client: Client, make_user: Any) -> Client:
    staff = make_user(username="staff", is_staff=True)
    grant(staff, "view_cedulainfo")
    client.force_login(staff)
    return client


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def cache_down(settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "down": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5},
        },
    }
    settings.CEDULA_CACHE_ALIAS = "down"


def test_the_chain_s_sources_are_named_without_building_a_scraper(chain: None) -> None:
    assert configured_sources() == ("wsp", "consultacenso-http")


def test_a_single_scraper_has_only_the_pause_of_every_source(settings: Any) -> None:
    settings.CEDULA_SOURCES = [{"BACKEND": "django_cedula.scrapers.wsp.WspScraper"}]
    assert configured_sources() == ()
    assert "Pauses after a block: none." in stats()
    settings.CEDULA_BLOCK_COOLDOWN = 600
    throttle.report_block()
    assert "Pauses after a block: every source for 10m." in stats()
    assert json.loads(stats("--json"))["pauses"] == {"available": True, "every_source": 600.0, "sources": {}}


def test_a_paused_source_of_the_chain_is_reported_and_the_others_are_not(chain: None) -> None:
    throttle.report_block(source="wsp")
    assert "Pauses after a block: wsp for 15m." in stats()
    pauses = json.loads(stats("--json"))["pauses"]
    assert pauses["available"] is True
    assert pauses["every_source"] == 0
    assert list(pauses["sources"]) == ["wsp", "consultacenso-http"]
    assert pauses["sources"]["wsp"] == 900
    assert pauses["sources"]["consultacenso-http"] == 0


def test_the_admin_list_shows_a_running_pause_and_no_line_without_one(
    chain: None, staff_client: Client
) -> None:
    url = reverse("admin:django_cedula_cedulainfo_changelist")
    html = staff_client.get(url).content.decode()
    assert 'id="cedula-pauses"' not in html
    throttle.report_block(source="consultacenso-http", now=NOW - 300)
    response = staff_client.get(url)
    assert response.context["cedula_pauses"] == ["consultacenso-http for 10m"]
    assert '<span class="cedula-pause">consultacenso-http for 10m</span>' in response.content.decode()


def test_with_the_cache_down_the_report_says_so_and_the_admin_list_still_opens(
    chain: None, cache_down: None, staff_client: Client
) -> None:
    assert "Pauses after a block: unavailable (ConnectionError: the cache could not be read)." in stats()
    assert json.loads(stats("--json"))["pauses"] == {"available": False, "error": "ConnectionError"}
    response = staff_client.get(reverse("admin:django_cedula_cedulainfo_changelist"))
    assert response.status_code == 200
    assert response.context["cedula_pauses"] == []
