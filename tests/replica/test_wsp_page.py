"""Source A's form page, its cookies, the reCAPTCHA stand-in and the odd HTTP methods."""

from __future__ import annotations

import re
import socket
import time

import pytest

from django_cedula.testing.replica import DEFAULT_SITE_KEY, Replica
from django_cedula.testing.replica.tokens import TokenCheck, check_token

from .helpers import Client, Elements, WspClient


def test_form_page_has_the_real_fields(wsp: WspClient, replica: Replica) -> None:
    page = wsp.load()
    assert page.status == 200
    assert page.header("Content-Type") == "text/html; charset=UTF-8"
    doc = Elements(page.text)

    nuip = doc.by_id("nuip")
    assert (nuip.tag, nuip.attrs["maxlength"], nuip.attrs["name"]) == ("input", "10", "nuip")
    tipo = doc.by_id("tipo")
    assert tipo.tag == "select"
    options = {e.attrs["value"]: e.text.strip() for e in doc.select("option")}
    assert options["-1"] == "LUGAR DE VOTACIÓN ACTUAL"
    assert len(options) >= 3
    assert doc.select("option", value="-1")[0].attrs.get("selected") is not None

    token = doc.by_id("token")
    assert token.attrs["type"] == "hidden"
    assert re.fullmatch(r"[0-9a-f]{32}", token.attrs["value"])

    widget = doc.with_class("g-recaptcha")
    assert len(widget) == 1
    assert widget[0].attrs["data-sitekey"] == replica.site_key == DEFAULT_SITE_KEY
    scripts = [e.attrs["src"] for e in doc.select("script") if "src" in e.attrs]
    assert scripts == ["/recaptcha/api.js?hl=es"], "the captcha script must be the local stand-in"

    enviar = doc.by_id("enviar")
    assert (enviar.tag, enviar.attrs["type"]) == ("input", "submit")
    success = doc.by_id("success")
    assert success.tag == "div"
    assert success.text.strip() == ""


def test_page_script_posts_the_four_fields_and_follows_reload(wsp: WspClient) -> None:
    script = wsp.load().text.split("<script>")[-1]
    for field in ("'nuip'", "'tipo'", "'token'", "'g-recaptcha-response'"):
        assert f"data.append({field}" in script
    assert "new FormData()" in script
    assert "method: 'POST'" in script
    assert "window.location.reload()" in script
    assert "success.innerHTML = message" in script


def test_page_sets_session_and_balancer_cookies(replica: Replica) -> None:
    client = Client(replica)
    first = client.get(replica.wsp_url)
    cookies = first.set_cookies
    assert re.fullmatch(r"PHPSESSID=[0-9a-v]{26}; path=/censo/; HttpOnly", cookies["PHPSESSID"])
    assert cookies["BIGipServerpool_wsp_censo"].startswith("BIGipServerpool_wsp_censo=")

    # The same session on the next load: no new cookies, but a new token.
    second = client.get(replica.wsp_url)
    assert second.set_cookies == {}
    tokens = [Elements(r.text).by_id("token").attrs["value"] for r in (first, second)]
    assert tokens[0] != tokens[1]
    pages = replica.requests(kind="page", source="wsp")
    assert [p.session for p in pages] == [client.cookies["PHPSESSID"]] * 2


def test_unknown_session_cookie_gets_a_new_session(replica: Replica) -> None:
    client = Client(replica)
    client.cookies["PHPSESSID"] = "made-up"
    page = client.get(replica.wsp_url)
    assert "PHPSESSID" in page.set_cookies
    assert client.cookies["PHPSESSID"] != "made-up"


def test_site_key_knob(wsp: WspClient, replica: Replica) -> None:
    replica.site_key = "6LcAnotherKey"
    assert 'data-sitekey="6LcAnotherKey"' in wsp.load().text


def test_recaptcha_stand_in_is_local(replica: Replica) -> None:
    client = Client(replica)
    script = client.get(replica.recaptcha_script_url)
    assert script.status == 200
    assert str(script.header("Content-Type")).startswith("text/javascript")
    text = script.text
    for needle in ("g-recaptcha-response", "getResponse", "reset", "render", "replicaSolve", "data-sitekey"):
        assert needle in text
    assert "google.com" not in text
    assert "gstatic" not in text

    # The checkbox's endpoint issues a fresh token each time, for the site key the widget asks about.
    first = client.get(replica.url + "recaptcha/replica/solve?k=" + replica.site_key).json()
    second = client.get(replica.url + "recaptcha/replica/solve").json()
    foreign = client.get(replica.url + "recaptcha/replica/solve?k=6Lother").json()
    assert first["success"] is True
    assert len({first["token"], second["token"], foreign["token"]}) == 3
    assert check_token(first["token"], replica.site_key) == TokenCheck.ACCEPTED
    assert check_token(second["token"], replica.site_key) == TokenCheck.ACCEPTED
    assert check_token(foreign["token"], replica.site_key) == TokenCheck.FOREIGN_SITE_KEY


def test_form_delay_slows_the_get_only(wsp: WspClient, replica: Replica) -> None:
    replica.form_delay = 1.5
    started = time.monotonic()
    wsp.load()
    assert time.monotonic() - started >= 1.5
    started = time.monotonic()
    assert wsp.post("1000000001").json()["success"] is True
    assert time.monotonic() - started < 1.0  # on a loaded machine too


@pytest.mark.parametrize("path", ["censo/consultar/", "consultacenso/", "", "nothing/here"])
def test_head_always_answers_500(replica: Replica, path: str) -> None:
    response = Client(replica).request("HEAD", replica.url + path)
    assert response.status == 500
    assert response.body == b""
    assert replica.requests(method="HEAD")[0].answer == "head_500"


def test_unknown_paths_and_methods(replica: Replica) -> None:
    client = Client(replica)
    assert client.get(replica.url + "nothing/here").status == 404
    wrong = client.request("POST", replica.censo_url, b"{}")
    assert wrong.status == 405
    assert wrong.header("Allow") == "GET"
    assert client.get(replica.censo_api_url + "consulta").status == 405


def test_index_lists_both_sources_and_the_table(replica: Replica) -> None:
    page = Client(replica).get(replica.url).text
    assert replica.wsp_url in page
    assert replica.censo_url in page
    assert "1000000020" in page
    assert "Cancelada por Muerte" in page


def test_urls(replica: Replica) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", replica.url)
    assert replica.wsp_url == replica.url + "censo/consultar/"
    assert replica.censo_url == replica.url + "consultacenso/"
    assert replica.censo_api_url == replica.url + "consultacenso/back/api/"
    settings = replica.django_settings()
    assert settings["CEDULA_SOURCES"] == [
        {
            "BACKEND": "django_cedula.scrapers.wsp.WspScraper",
            "OPTIONS": {"url": replica.wsp_url, **replica.source_options},
        }
    ]
    # No OPTIONS: the solver's own tokens are accepted.
    assert settings["CEDULA_CAPTCHA_SOLVER"] == {
        "BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver"
    }
    (censo,) = replica.django_settings("censo", page_timeout=7)["CEDULA_SOURCES"]
    assert censo == {
        "BACKEND": "django_cedula.scrapers.consultacenso.ConsultaCensoScraper",
        "OPTIONS": {"url": replica.censo_url, **replica.source_options, "page_timeout": 7},
    }
    chain = replica.chain_settings()["CEDULA_SOURCES"]
    assert [entry["OPTIONS"]["url"] for entry in chain] == [replica.wsp_url, replica.censo_url]


def test_lifecycle_and_ports() -> None:
    replica = Replica()
    with pytest.raises(RuntimeError):
        replica.url  # noqa: B018 - the property raises before start()
    with replica:
        assert replica.running
        port = replica.port
        assert Client(replica).get(replica.wsp_url).status == 200
        with pytest.raises(RuntimeError):
            replica.start()
    assert not replica.running
    replica.stop()  # idempotent
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
