"""Source B: classification of consultacenso's ``POST /back/api/consulta`` answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from django_cedula.results import ScrapeStatus
from django_cedula.scrapers.parsing import is_death_novedad, parse_consultacenso_response

from . import samples
from .samples import CEDULA

FOUND_LOWER: dict[str, Any] = {
    "ok": True,
    "encontrado": True,
    "data": {
        "nuip": CEDULA,
        "nom_depto": "VALLE",
        "nom_mun": "CALI",
        "nom_puesto": "INST. EDUC. SANTA LIBRADA - SEDE 1",
        "direccion": "CALLE 7 # 15-40 No. 2",
        "mesa": 21,
        "zona": "05",
    },
    "mapa": {"lat": 3.4516, "lng": -76.532, "url": "https://maps.example/?q=3.4516,-76.532"},
}

FOUND_UPPER: dict[str, Any] = {
    "OK": True,
    "ENCONTRADO": True,
    "DATA": {
        "NUIP": CEDULA,
        "NOM_DEPTO": "VALLE",
        "NOM_MUN": "CALI",
        "NOM_PUESTO": "INST. EDUC. SANTA LIBRADA - SEDE 1",
        "DIRECCION": "CALLE 7 # 15-40 No. 2",
        "MESA": "21",
    },
    "MAPA": None,
}

FOUND_VALUES = {
    "departamento": "VALLE",
    "municipio": "CALI",
    "puesto": "INST. EDUC. SANTA LIBRADA - SEDE 1",
    "direccion": "CALLE 7 # 15-40 No. 2",
    "mesa": "21",
}


def upper(payload: dict[str, Any]) -> dict[str, Any]:
    return {key.upper(): upper(value) if isinstance(value, dict) else value for key, value in payload.items()}


@pytest.mark.parametrize("payload", [FOUND_LOWER, FOUND_UPPER])
def test_found(payload: dict[str, Any]) -> None:
    result = parse_consultacenso_response(payload, cedula=CEDULA)
    assert result.status is ScrapeStatus.FOUND
    assert {name: getattr(result, name) for name in FOUND_VALUES} == FOUND_VALUES
    # A mapping is re-encoded so that the stored answer still shows what the site sent.
    assert json.loads(result.raw_html) == payload


def test_found_from_the_raw_body_keeps_the_body() -> None:
    body = json.dumps(FOUND_LOWER)
    result = parse_consultacenso_response(body)
    assert result.status is ScrapeStatus.FOUND
    assert result.raw_html == body


def test_found_without_encontrado_but_ok_and_complete_data() -> None:
    payload = {key: value for key, value in FOUND_LOWER.items() if key != "encontrado"}
    assert parse_consultacenso_response(payload).status is ScrapeStatus.FOUND


def test_found_for_another_number_is_rejected() -> None:
    result = parse_consultacenso_response(FOUND_LOWER, cedula="79111222")
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert CEDULA not in result.error


def test_encontrado_true_without_places_is_a_parse_error() -> None:
    result = parse_consultacenso_response({"ok": True, "encontrado": True, "data": {"nuip": CEDULA}})
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert "departamento" in result.error


@pytest.mark.parametrize(
    "payload",
    [
        {"ok": True, "encontrado": False, "data": None},
        {"ok": True, "encontrado": False, "mensaje": "El documento consultado no se encuentra en el censo."},
        {"OK": True, "ENCONTRADO": False, "MENSAJE": "EL DOCUMENTO NO SE ENCUENTRA EN EL CENSO"},
        {"ok": True, "mensaje": "El documento consultado no se encuentra en el censo para esta elección."},
    ],
)
def test_not_found(payload: dict[str, Any]) -> None:
    assert parse_consultacenso_response(payload).status is ScrapeStatus.NOT_FOUND


@pytest.mark.parametrize(("novedad", "death"), samples.NOVEDADES)
@pytest.mark.parametrize("case", [str.lower, str.upper])
def test_cancelled_with_a_novedad_text(novedad: str, death: bool, case: Any) -> None:
    payload = {
        case("ok"): True,
        case("encontrado"): True,
        case("data"): {case("nuip"): CEDULA},
        case("novedad"): novedad,
        case("resolucion"): "0456 DE 2019",
        case("fecha_novedad"): "2019-03-12",
    }
    result = parse_consultacenso_response(payload)
    assert result.status is ScrapeStatus.CANCELLED
    assert (result.novedad, result.resolucion, result.fecha_novedad) == (
        novedad,
        "0456 DE 2019",
        "2019-03-12",
    )
    assert is_death_novedad(result.novedad) is death


def test_cancelled_with_a_novedad_object() -> None:
    payload = {
        "ok": True,
        "encontrado": False,
        "novedad": {
            "descripcion": "Cancelada por Muerte",
            "num_resolucion": "77 DE 2022",
            "fecha": "05/05/2022",
        },
    }
    result = parse_consultacenso_response(payload)
    assert result.status is ScrapeStatus.CANCELLED
    assert (result.novedad, result.resolucion, result.fecha_novedad) == (
        "Cancelada por Muerte",
        "77 DE 2022",
        "05/05/2022",
    )


def test_cancelled_novedad_inside_data_keeps_the_place() -> None:
    payload = upper({**FOUND_LOWER, "data": {**FOUND_LOWER["data"], "novedad": "Baja por trashumancia"}})
    result = parse_consultacenso_response(payload)
    assert result.status is ScrapeStatus.CANCELLED
    assert result.novedad == "Baja por trashumancia"
    assert result.municipio == "CALI"


def test_cancelled_worded_in_the_message() -> None:
    payload = {
        "ok": True,
        "encontrado": False,
        "mensaje": "La cédula se encuentra Cancelada por Doble Cedulación",
    }
    result = parse_consultacenso_response(payload)
    assert result.status is ScrapeStatus.CANCELLED
    assert result.novedad == "Cancelada por Doble Cedulación"


@pytest.mark.parametrize("novedad", [None, "", "   "])
def test_empty_novedad_does_not_cancel(novedad: str | None) -> None:
    assert parse_consultacenso_response({**FOUND_LOWER, "novedad": novedad}).status is ScrapeStatus.FOUND


@pytest.mark.parametrize(
    "payload",
    [
        {"ok": True, "mensaje": "La información se encuentra en actualización. Por favor intente más tarde."},
        {"ok": True, "encontrado": True, "novedad": "LA INFORMACION SE ENCUENTRA EN ACTUALIZACION"},
    ],
)
def test_en_actualizacion_is_transient(payload: dict[str, Any]) -> None:
    result = parse_consultacenso_response(payload)
    assert result.status is ScrapeStatus.NETWORK_ERROR
    assert result.status.is_transient


@pytest.mark.parametrize(
    "payload",
    [
        {"ok": False, "error": "Captcha inválido"},
        {"OK": False, "ERROR": "CAPTCHA INVALIDO O EXPIRADO"},
        {"ok": False, "encontrado": False, "mensaje": "Marque el cuadro de verificación o captcha"},
        {"ok": False, "error": {"codigo": 401, "detalle": "reCAPTCHA verification failed"}},
    ],
)
def test_the_apps_captcha_message_is_a_refused_token(payload: dict[str, Any]) -> None:
    # The scraper always posts a solved token: the app's captcha message refuses it (a change sign),
    # which is not our side failing to solve (captcha_failed).
    assert parse_consultacenso_response(payload).status is ScrapeStatus.TOKEN_REFUSED


def test_found_whose_message_mentions_the_captcha_is_still_found() -> None:
    payload = {**FOUND_LOWER, "mensaje": "Consulta exitosa. Gracias por resolver el captcha."}
    assert parse_consultacenso_response(payload).status is ScrapeStatus.FOUND


def test_ok_false_beats_stale_data() -> None:
    payload = {**FOUND_LOWER, "ok": False, "error": "Token de captcha expirado"}
    assert parse_consultacenso_response(payload).status is ScrapeStatus.TOKEN_REFUSED


def test_timeout() -> None:
    result = parse_consultacenso_response(
        {"ok": False, "error": "Operation timed out after 30000 milliseconds"}
    )
    assert result.status is ScrapeStatus.TIMEOUT


@pytest.mark.parametrize(
    "payload",
    [
        {"ok": False, "error": "Error consultando el servicio"},
        {"ok": False, "encontrado": False},
        {"ERROR": "Servicio no disponible", "ENCONTRADO": False},
    ],
)
def test_reported_errors_are_transient_not_not_found(payload: dict[str, Any]) -> None:
    result = parse_consultacenso_response(payload)
    assert result.status is ScrapeStatus.NETWORK_ERROR


@pytest.mark.parametrize("page", [samples.F5_BLOCK_PAGE, samples.F5_PLAIN_BLOCK_PAGE])
def test_block_page(page: str) -> None:
    result = parse_consultacenso_response(page)
    assert result.status is ScrapeStatus.BLOCKED
    assert result.raw_html == page


def test_html_that_only_talks_about_blocking_is_not_blocked() -> None:
    assert parse_consultacenso_response(samples.CHATTY_PAGE).status is ScrapeStatus.PARSE_ERROR


@pytest.mark.parametrize("body", [json.dumps(FOUND_LOWER), "<html><body>Error</body></html>", ""])
def test_server_errors(body: str) -> None:
    assert parse_consultacenso_response(body, http_status=502).status is ScrapeStatus.NETWORK_ERROR


def test_mapping_with_server_error_status() -> None:
    assert parse_consultacenso_response(FOUND_LOWER, http_status=500).status is ScrapeStatus.NETWORK_ERROR


@pytest.mark.parametrize(
    ("payload", "hint"),
    [
        ("", "empty"),
        ("not json at all", "not a JSON answer"),
        ("[]", "unexpected shape"),
        ("42", "unexpected shape"),
        ({}, "unrecognised"),
        ({"ok": True}, "unrecognised"),
        ({"ok": True, "data": "texto"}, "unrecognised"),
    ],
)
def test_parse_errors(payload: Any, hint: str) -> None:
    result = parse_consultacenso_response(payload)
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert hint in result.error


def test_parse_error_masks_the_number() -> None:
    result = parse_consultacenso_response({"ok": True, "resultado": f"documento {CEDULA}"}, cedula=CEDULA)
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert CEDULA not in result.error
    assert "******4050" in result.error
