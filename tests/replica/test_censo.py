"""Source B: the "consultacenso" page and its JSON API, with the same outcome table and faults."""

from __future__ import annotations

import json

import pytest

from django_cedula.testing.replica import OUTCOMES, OutcomeKind, Replica, derived_place, outcome_for
from django_cedula.testing.replica.outcomes import CURL_ERROR_TEXT, NOT_FOUND_TEXT, UPDATING_TEXT

from .helpers import CensoClient, Client, Elements


def test_page_has_the_app_form(censo: CensoClient, replica: Replica) -> None:
    page = censo.load()
    assert page.status == 200
    doc = Elements(page.text)
    assert doc.by_id("consultaForm").tag == "form"
    assert doc.by_id("documento").attrs["maxlength"] == "10"
    assert doc.by_id("eleccion").tag == "select"
    assert doc.by_id("submitBtn").attrs["type"] == "submit"
    assert doc.with_class("g-recaptcha")[0].attrs["data-sitekey"] == replica.site_key
    assert [e.attrs["src"] for e in doc.select("script") if "src" in e.attrs] == ["/recaptcha/api.js?hl=es"]
    assert '"/consultacenso/back/api/"' in page.text, "the app calls the API under its own prefix"
    assert page.set_cookies["PHPSESSID"].endswith("; path=/consultacenso/; HttpOnly")
    assert Client(replica).get(replica.url + "consultacenso/consultar/").status == 200


def test_elections(censo: CensoClient) -> None:
    answer = censo.elections()
    assert answer.header("Content-Type") == "application/json; charset=utf-8"
    data = answer.json()
    assert data["ok"] is True
    assert data["data"][0] == {"id": 0, "nombre": "LUGAR DE VOTACION ACTUAL"}
    assert all(set(item) == {"id", "nombre"} for item in data["data"])


def test_found_lower_case_keys(censo: CensoClient, replica: Replica) -> None:
    place = OUTCOMES["1000000001"].place
    assert place is not None
    answer = censo.lookup("1000000001").json()
    assert answer == {
        "ok": True,
        "encontrado": True,
        "data": {
            "nuip": "1000000001",
            "nom_depto": place.departamento,
            "nom_mun": place.municipio,
            "nom_puesto": place.puesto,
            "direccion": place.direccion,
            "mesa": place.mesa,
        },
        "mapa": {"lat": place.lat, "lng": place.lng, "url": answer["mapa"]["url"]},
    }
    assert answer["mapa"]["url"].endswith(f"query={place.lat},{place.lng}")
    (record,) = replica.lookups("1000000001", source="censo")
    assert (record.answer, record.election, record.captcha) == ("found", "0", censo.captcha)
    assert record.captcha_check == "accepted"


def test_found_upper_case_keys(censo: CensoClient) -> None:
    answer = censo.lookup("1000000002").json()
    assert set(answer) == {"ok", "encontrado", "data", "mapa"}
    assert set(answer["data"]) == {"NUIP", "NOM_DEPTO", "NOM_MUN", "NOM_PUESTO", "DIRECCION", "MESA"}
    assert answer["data"]["MESA"] == 7, "upper-case answers carry the mesa as a number"
    assert set(answer["mapa"]) == {"LAT", "LNG", "URL"}
    assert answer["data"]["NOM_MUN"] == "MEDELLÍN"


def test_answers_are_utf8_not_escaped(censo: CensoClient) -> None:
    assert "MEDELLÍN".encode() in censo.lookup("1000000002").body


def test_unknown_numbers_vary_key_case_deterministically(censo: CensoClient) -> None:
    numbers = [str(n) for n in range(70_000_000, 70_000_020)]
    cases = set()
    for number in numbers:
        data = censo.lookup(number).json()["data"]
        upper = "NUIP" in data
        cases.add(upper)
        assert upper is outcome_for(number).upper_keys
        key = "NOM_DEPTO" if upper else "nom_depto"
        assert data[key] == derived_place(number).departamento
    assert cases == {True, False}


def test_documento_may_be_a_number(censo: CensoClient) -> None:
    assert censo.lookup(1000000001).json()["encontrado"] is True


def test_not_found(censo: CensoClient) -> None:
    assert censo.lookup("1000000010").json() == {
        "ok": True,
        "encontrado": False,
        "data": None,
        "mensaje": NOT_FOUND_TEXT,
    }


@pytest.mark.parametrize("number", [n for n, o in OUTCOMES.items() if o.kind is OutcomeKind.CANCELLED])
def test_cancelled(censo: CensoClient, number: str) -> None:
    novedad = OUTCOMES[number].novedad
    assert novedad is not None
    assert censo.lookup(number).json() == {
        "ok": True,
        "encontrado": False,
        "data": {"nuip": number, "resolucion": novedad.resolucion, "fecha_novedad": novedad.fecha},
        "novedad": novedad.text,
    }


def test_updating_looks_like_not_found_but_for_its_message(censo: CensoClient) -> None:
    answer = censo.lookup("1000000040").json()
    assert answer == {"ok": True, "encontrado": False, "data": None, "mensaje": UPDATING_TEXT}


def test_curl_error(censo: CensoClient) -> None:
    answer = censo.lookup("1000000041")
    assert answer.status == 502
    assert answer.json() == {"ok": False, "error": CURL_ERROR_TEXT}


@pytest.mark.parametrize("captcha", ["", "nope"])
def test_captcha_rejected(censo: CensoClient, captcha: str) -> None:
    answer = censo.lookup("1000000001", captcha=captcha)
    assert answer.status == 400
    assert answer.json()["ok"] is False
    assert "Captcha" in answer.json()["error"]


def test_captcha_always_rejected_number(censo: CensoClient) -> None:
    assert censo.lookup("1000000043").status == 400


@pytest.mark.parametrize("documento", ["", "12", "0123", "abc", None, ["1000000001"]])
def test_invalid_documento(censo: CensoClient, documento: object) -> None:
    answer = censo.lookup(documento)
    assert answer.status == 400
    assert answer.json() == {"ok": False, "error": "El número de documento no es válido."}


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff"])
def test_bad_request_body(censo: CensoClient, replica: Replica, body: bytes) -> None:
    answer = censo.request(
        "POST", replica.censo_api_url + "consulta", body, {"Content-Type": "application/json"}
    )
    assert answer.status == 400
    assert answer.json()["ok"] is False


def test_reload_once_per_session(censo: CensoClient, replica: Replica) -> None:
    censo.load()
    first = censo.lookup("1000000042")
    assert first.json() == {
        "ok": False,
        "error": "La sesión ha expirado. Recargue la página.",
        "reload": True,
    }
    assert censo.lookup("1000000042").json()["encontrado"] is True
    other = CensoClient(replica)
    other.load()
    assert other.lookup("1000000042").json()["reload"] is True


def test_reload_once_for_clients_without_cookies(replica: Replica) -> None:
    assert CensoClient(replica).lookup("1000000042").json()["reload"] is True
    assert CensoClient(replica).lookup("1000000042").json()["encontrado"] is True


def test_500_on_get(censo: CensoClient) -> None:
    censo.load()
    assert censo.lookup("1000000051").json()["reload"] is True
    assert censo.load().status == 500
    assert censo.load().status == 200
    assert censo.lookup("1000000051").json()["encontrado"] is True


def test_block(censo: CensoClient) -> None:
    answer = censo.lookup("1000000050")
    assert answer.status == 200
    assert answer.header("Content-Type") == "text/html; charset=UTF-8"
    assert Elements(answer.text).with_class("blocked")


def test_garbage(censo: CensoClient) -> None:
    answer = censo.lookup("1000000054")
    assert answer.status == 200
    assert answer.header("Content-Type") == "application/json; charset=utf-8"
    with pytest.raises(json.JSONDecodeError):
        answer.json()


def test_drop_and_slow(censo: CensoClient, replica: Replica) -> None:
    with pytest.raises(ConnectionError):
        censo.lookup("1000000053")
    replica.slow_seconds = 0.3
    assert censo.lookup("1000000052").json()["encontrado"] is True
    assert replica.lookups("1000000052")[0].duration >= 0.3


@pytest.mark.parametrize(
    ("mode", "status", "check"),
    [
        ("curl_error", 502, lambda a: a["error"] == CURL_ERROR_TEXT),
        ("captcha_reject", 400, lambda a: "Captcha" in a["error"]),
        ("reload", 200, lambda a: a["reload"] is True),
        ("updating", 200, lambda a: a["mensaje"] == UPDATING_TEXT),
    ],
)
def test_faults_apply_to_source_b(
    censo: CensoClient, replica: Replica, mode: str, status: int, check: object
) -> None:
    replica.set_fault(mode, times=1)
    answer = censo.lookup("1000000001")
    assert answer.status == status
    assert check(answer.json())  # type: ignore[operator]
    assert censo.lookup("1000000001").json()["encontrado"] is True
    assert replica.lookups(source="censo")[0].fault == mode


def test_get500_fault_on_the_app_page(censo: CensoClient, replica: Replica) -> None:
    replica.set_fault("get500", times=1)
    assert censo.load().status == 500
    assert censo.load().status == 200
