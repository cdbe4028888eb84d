"""BrowserOptions: from the settings, the Chromium command line, the context options."""

from __future__ import annotations

import os
from typing import Any

import pytest

from django_cedula.browser import BASE_ARGS, BrowserError, BrowserOptions, parse_proxy


def test_from_settings_reads_every_browser_setting(settings: Any) -> None:
    settings.CEDULA_BROWSER_EXECUTABLE = "/opt/chrome"
    settings.CEDULA_BROWSER_HEADLESS = False
    settings.CEDULA_BROWSER_ARGS = ["--lang=es-CO"]
    settings.CEDULA_BROWSER_PROXY = "http://user:s%40cret@proxy.example:3128"
    settings.CEDULA_BROWSER_USER_AGENT = "CedulaBot/1.0"
    settings.CEDULA_BROWSER_ENDPOINT = "ws://browser:3000/abc"
    settings.CEDULA_BROWSER_IDLE_TIMEOUT = 42
    settings.CEDULA_PAGE_TIMEOUT = 7
    settings.CEDULA_LOOKUP_TIMEOUT = 70
    options = BrowserOptions.from_settings()
    assert options == BrowserOptions(
        executable="/opt/chrome",
        headless=False,
        args=("--lang=es-CO",),
        proxy={"server": "http://proxy.example:3128", "username": "user", "password": "s@cret"},
        user_agent="CedulaBot/1.0",
        endpoint="ws://browser:3000/abc",
        idle_timeout=42.0,
        page_timeout=7.0,
        lookup_timeout=70.0,
    )


def test_from_settings_defaults() -> None:
    options = BrowserOptions.from_settings(prewarm=False)
    assert options.executable is None
    assert options.headless is True
    assert options.endpoint is None
    assert options.idle_timeout == 300.0
    assert options.prewarm is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("proxy.example:8080", {"server": "http://proxy.example:8080"}),
        ("socks5://10.0.0.1:1080", {"server": "socks5://10.0.0.1:1080"}),
        ("http://[::1]:3128", {"server": "http://[::1]:3128"}),
        (
            {"server": "http://p:1", "bypass": ".gov.co", "username": "u", "password": "p"},
            {"server": "http://p:1", "bypass": ".gov.co", "username": "u", "password": "p"},
        ),
    ],
)
def test_parse_proxy(value: Any, expected: Any) -> None:
    assert parse_proxy(value) == expected


@pytest.mark.parametrize("value", [{"bypass": "x"}, {"server": "http://p:1", "port": 1}, "http://"])
def test_parse_proxy_rejects_nonsense(value: Any) -> None:
    with pytest.raises(BrowserError):
        parse_proxy(value)


def test_launch_args_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    options = BrowserOptions(args=("--disable-gpu", "--window-size=800,600"))
    args = options.launch_args()
    assert args[: len(BASE_ARGS)] == list(BASE_ARGS)
    assert "--no-sandbox" in args
    assert args[-1] == "--window-size=800,600"
    assert args.count("--disable-gpu") == 1
    assert options.sandbox is False


def test_launch_args_as_a_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "--no-sandbox" not in BrowserOptions().launch_args()
    assert BrowserOptions().sandbox is True
    assert BrowserOptions(args=("--no-sandbox",)).sandbox is False
    for flag in ("--disable-background-networking", "--disable-component-update", "--disable-quic"):
        assert flag in BrowserOptions().launch_args()


def test_context_options() -> None:
    assert BrowserOptions().context_options() == {"locale": "es-CO", "timezone_id": "America/Bogota"}
    proxy = parse_proxy("http://p:1")
    assert BrowserOptions(user_agent="UA", proxy=proxy, timezone_id=None).context_options() == {
        "locale": "es-CO",
        "user_agent": "UA",
        "proxy": {"server": "http://p:1"},
    }


def test_the_repr_shows_no_credentials_tokens_or_header_values() -> None:
    options = BrowserOptions(
        proxy=parse_proxy("http://proxyman:hunter2@proxy.example:3128"),
        endpoint="wss://browser.example:3000/playwright?token=SECRET-TOKEN",
        endpoint_headers={"Authorization": "Bearer SECRET-HEADER"},
        args=("--proxy-server=http://proxyman:hunter2@other:1",),
    )
    shown = repr(options)
    for secret in ("hunter2", "proxyman", "SECRET-TOKEN", "SECRET-HEADER"):
        assert secret not in shown
    # What a reader needs stays: where the proxy and the endpoint are, which headers are sent.
    assert "'server': 'http://proxy.example:3128'" in shown
    assert "'username': '***'" in shown
    assert "endpoint='wss://browser.example:3000/playwright?***'" in shown
    assert "endpoint_headers={'Authorization': '***'}" in shown
    assert "--proxy-server=http://***@other:1" in shown
    assert str(options) == shown
    assert repr(BrowserOptions()).startswith(
        "BrowserOptions(executable=None, headless=True, args=(), proxy=None"
    )


@pytest.mark.parametrize("value", ["http://proxyman:hunter2@", "http://proxyman:hunter2@proxy:notaport"])
def test_a_bad_proxy_url_is_refused_without_quoting_its_password(value: str) -> None:
    with pytest.raises(BrowserError, match="not a proxy URL") as excinfo:
        parse_proxy(value)
    assert "hunter2" not in str(excinfo.value)
    assert excinfo.value.__cause__ is None
