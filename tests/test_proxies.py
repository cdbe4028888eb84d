"""A source's ``proxy`` option, read once (``django_cedula.proxies``) for the browser, the HTTP client
and ``manage.py check``: what one takes the others take, and what one refuses fails the check."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_cedula import checks
from django_cedula.browser import BrowserError, parse_proxy
from django_cedula.proxies import Proxy, ProxyError, parse_proxy_value
from django_cedula.scrapers.http import curl_cffi_missing, proxy_url

WSP = "django_cedula.scrapers.wsp.WspScraper"
WSP_HTTP = "django_cedula.scrapers.wsp_http.WspHttpScraper"
#: A browser source and, where curl_cffi is installed, an HTTP-only one: both read the option alike.
SOURCES = [WSP] + ([] if curl_cffi_missing() else [WSP_HTTP])


def with_proxy(settings: Any, backend: str, value: object) -> None:
    settings.CEDULA_SOURCES = [{"BACKEND": backend, "OPTIONS": {"proxy": value}}]
    settings.CEDULA_CAPTCHA_SOLVER = {"BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver"}


ACCEPTED = [
    ("proxy.example:8080", "http://proxy.example:8080", "http://proxy.example:8080"),
    ("socks5://10.0.0.1:1080", "socks5://10.0.0.1:1080", "socks5://10.0.0.1:1080"),
    ("http://[::1]:3128", "http://[::1]:3128", "http://[::1]:3128"),
    ("https://u%40corp:p%3Ass@proxy:443", "https://proxy:443", "https://u%40corp:p%3Ass@proxy:443"),
    ({"server": "proxy:3128", "username": "u", "password": "p@ss"}, "http://proxy:3128", "http://u:p%40ss@proxy:3128"),
    # The mapping's credentials win over any in its server's URL.
    ({"server": "http://a:b@proxy:1", "username": "u"}, "http://proxy:1", "http://u@proxy:1"),
]  # fmt: skip

REFUSED = [
    {"bypass": "x"},
    {"server": "http://p:1", "port": 1},
    {"server": ""},
    {"server": 3128},
    "http://",
    "ftp://proxy:21",
    "http://proxyman:hunter2@proxy:notaport",
    42,
    # A "/", "#", "?" or "[" in a password, not percent-encoded: a URL parser ends the host there.
    "http://proxyman:hunt/er2@proxy:3128",
    "http://proxyman:hunt#er2@proxy:3128",
    "http://proxyman:hunt?er2@proxy:3128",
    "http://proxyman:12/34@proxy:3128",  # would read as host "proxyman", port 12
    "http://proxyman:hunt[er2@proxy:3128",  # a lone bracket: an IPv6 host to urlsplit
    "http://proxyman:hun[ter2]x@proxy:3128",  # a pair: a password before Python 3.11.4, not after
    "http://proxyman:hunter2%E9@proxy:3128",  # not UTF-8 once decoded
    "http://:hunter2@proxy:3128",  # a password alone: neither client can send it
    {"server": "http://proxy:3128", "password": "hunter2"},
    {"server": "http://[proxy:1"},
]


@pytest.mark.parametrize(("value", "server", "curl_url"), ACCEPTED)
def test_both_clients_read_a_value_alike(value: Any, server: str, curl_url: str) -> None:
    proxy = parse_proxy_value(value)
    assert proxy is not None
    assert proxy.server == server
    browser = parse_proxy(value)
    assert browser is not None
    assert browser["server"] == server
    assert (browser.get("username"), browser.get("password")) == (proxy.username, proxy.password)
    assert proxy_url(value) == (curl_url, None)


@pytest.mark.parametrize("backend", SOURCES)
@pytest.mark.parametrize("value", ACCEPTED, ids=range(len(ACCEPTED)))
def test_what_the_clients_take_passes_the_check(
    settings: Any, value: tuple[Any, str, str], backend: str
) -> None:
    with_proxy(settings, backend, value[0])
    assert checks.check_sources() == []


@pytest.mark.parametrize("backend", SOURCES)
@pytest.mark.parametrize("value", REFUSED, ids=range(len(REFUSED)))
def test_what_the_clients_refuse_fails_the_check_without_its_password(
    settings: Any, value: Any, backend: str
) -> None:
    with pytest.raises(ProxyError):
        parse_proxy_value(value)
    with pytest.raises(BrowserError):
        parse_proxy(value)
    with pytest.raises(ProxyError):  # a ValueError, as the HTTP scraper's option has always raised
        proxy_url(value)
    with_proxy(settings, backend, value)
    (message,) = checks.check_sources()
    assert message.id == "django_cedula.E005"
    assert message.msg.startswith("CEDULA_SOURCES[0]: proxy: ")
    for fragment in ("hunter2", "hunt", "er2", "ter2", "proxyman"):
        assert fragment not in message.msg
        assert fragment not in (message.hint or "")
    assert "percent-encode" in (message.hint or "")


@pytest.mark.django_db(databases="__all__")  # the model checks ask each database about JSON fields
def test_manage_py_check_refuses_a_proxy_mapping_and_quotes_none_of_its_values(settings: Any) -> None:
    with_proxy(settings, WSP, {"server": "http://p:1", "user": "proxyman", "password": "hunter2"})
    with pytest.raises(SystemCheckError) as refused:
        call_command("check")
    shown = str(refused.value)
    assert "django_cedula.E005" in shown
    assert "CEDULA_SOURCES[0]: proxy: " in shown
    assert "['password', 'server', 'user']" in shown, "the keys, to see the typo"
    assert "hunter2" not in shown
    assert "proxyman" not in shown


def test_socks5h_is_curl_s_name_for_what_chromium_does_with_socks5() -> None:
    assert proxy_url("socks5h://proxy:1080") == ("socks5h://proxy:1080", None)
    assert parse_proxy("socks5h://proxy:1080") == {"server": "socks5://proxy:1080"}
    assert parse_proxy("socks4://proxy:1080") == {"server": "socks4://proxy:1080"}


def test_a_percent_encoded_password_reaches_both_clients_whole() -> None:
    browser = parse_proxy("http://a%2Fb:c%23d%40e@proxy:1")
    assert browser is not None
    assert (browser.get("username"), browser.get("password")) == ("a/b", "c#d@e")
    assert proxy_url("http://a%2Fb:c%23d%40e@proxy:1") == ("http://a%2Fb:c%23d%40e@proxy:1", None)


def test_a_proxy_s_repr_and_errors_carry_no_credentials() -> None:
    proxy = parse_proxy_value("http://proxyman:hunter2@proxy.example:3128")
    assert proxy == Proxy(server="http://proxy.example:3128", username="proxyman", password="hunter2")
    assert "hunter2" not in repr(proxy)
    assert "proxyman" not in repr(proxy)
    with pytest.raises(ProxyError) as refused:
        parse_proxy_value("http://proxyman:hunter2@")
    assert "hunter2" not in str(refused.value)
    assert refused.value.__cause__ is None
