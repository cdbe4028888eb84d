"""``manage.py cedula_lookup`` with scrapers that raise or return garbage: a clear message, no traceback."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command


@pytest.mark.parametrize(
    ("scraper", "message"),
    [
        ("tests.misbehaving_scrapers.ExplodingScraper", "the scraper raised RuntimeError: browser crashed"),
        ("tests.misbehaving_scrapers.GarbageScraper", "the scraper raised ValueError: a scraper must return"),
        (
            "tests.misbehaving_scrapers.QuotingScraper",
            "the scraper raised RuntimeError: lookup of ******4050 failed",
        ),
    ],
)
def test_a_raising_scraper_is_a_clear_failure(settings: Any, scraper: str, message: str) -> None:
    settings.CEDULA_SOURCES = [{"BACKEND": scraper}]
    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("cedula_lookup", "1020304050", stdout=out)
    assert excinfo.value.returncode == 1
    assert str(excinfo.value).startswith(f"Lookup failed: {message}")
    assert "1020304050" not in str(excinfo.value)
    assert "Traceback" not in str(excinfo.value)
    assert out.getvalue() == ""


def test_a_proxy_that_refuses_the_credentials_is_named_without_them(
    settings: Any, cedula_replica: Any
) -> None:
    from .auth_proxy import AuthProxy

    with AuthProxy("cedula", "right-secret") as proxy:
        settings.CEDULA_SOURCES = [
            {
                **cedula_replica.source("wsp", proxy=proxy.url("cedula", "wrong-secret")),
                "BACKEND": "django_cedula.scrapers.wsp_http.WspHttpScraper",
            }
        ]
        settings.CEDULA_CAPTCHA_SOLVER = cedula_replica.django_settings()["CEDULA_CAPTCHA_SOLVER"]
        with pytest.raises(CommandError) as excinfo:
            call_command("cedula_lookup", "1000000001", stdout=StringIO())
    assert excinfo.value.returncode == 1
    message = str(excinfo.value)
    assert message.startswith("Lookup failed: the scraper raised ConfigurationError: wsp-http: the proxy ")
    assert proxy.server in message
    assert "HTTP 407" in message
    assert "wrong-secret" not in message
    assert "cedula" not in message
