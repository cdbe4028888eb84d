"""The election-season API's answers read (:func:`parse_elecciones_response`): each shape, and total."""

from __future__ import annotations

import json
from typing import Any

import pytest

from django_cedula.results import ScrapeStatus, is_death_novedad
from django_cedula.scrapers.parsing import MAX_ANSWER_BYTES, parse_elecciones_response

S = ScrapeStatus
NUMBER = "1000000001"


def found(**place: Any) -> dict[str, Any]:
    polling = {
        "stand": "COLEGIO LA SALLE",
        "table": 4,
        "place_address": {
            "state": "CUNDINAMARCA",
            "town": "SOACHA",
            "address": "CALLE 1 # 2-3",
            "zone": "01",
        },
    }
    polling.update(place)
    return {
        "status": True,
        "status_code": 0,
        "data": {
            "voter": {"identification": NUMBER},
            "is_in_census": True,
            "novelty": [],
            "polling_place": polling,
        },
    }


def novelty(*entries: Any) -> dict[str, Any]:
    return {"status": True, "status_code": 0, "data": {"is_in_census": False, "novelty": list(entries)}}


def read(payload: Any, status: int = 200) -> Any:
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    return parse_elecciones_response(body, http_status=status, cedula=NUMBER)


def test_found_maps_state_town_stand_address_table() -> None:
    result = read(found())
    assert result.status is S.FOUND
    assert (result.departamento, result.municipio, result.puesto) == (
        "CUNDINAMARCA",
        "SOACHA",
        "COLEGIO LA SALLE",
    )
    assert (result.direccion, result.mesa) == ("CALLE 1 # 2-3", "4")
    assert json.loads(result.raw_html)["data"]["is_in_census"] is True


def test_keys_in_upper_case_and_a_mapping_read_the_same() -> None:
    upper = {
        "STATUS": True,
        "Data": {"IS_IN_CENSUS": "true", "Polling_Place": {"STAND": "X", "PLACE_ADDRESS": {}}},
    }
    upper["Data"]["Polling_Place"]["PLACE_ADDRESS"] = {"STATE": "META", "TOWN": "ACACÍAS"}
    result = parse_elecciones_response(upper, cedula=NUMBER)
    assert (result.status, result.departamento, result.municipio, result.puesto) == (
        S.FOUND,
        "META",
        "ACACÍAS",
        "X",
    )


def test_a_place_without_its_town_is_a_parse_error() -> None:
    answer = found(place_address={"state": "META"})
    result = read(answer)
    assert result.status is S.PARSE_ERROR
    assert "municipio" in result.error
    assert read({"status": True, "data": {"is_in_census": True}}).status is S.PARSE_ERROR


def test_an_answer_for_another_number_is_a_parse_error() -> None:
    answer = found()
    answer["data"]["voter"]["identification"] = "1000000999"
    result = read(answer)
    assert result.status is S.PARSE_ERROR
    assert "another number" in result.error
    assert "1000000999" not in result.error


@pytest.mark.parametrize(
    ("entry", "novedad", "deceased"),
    [
        (
            {"name": "Cancelada por Muerte", "resolution": "123 de 2024", "date": "2024-02-01"},
            "Cancelada por Muerte",
            True,
        ),
        ({"description": "Cancelada por Doble Cedulación"}, "Cancelada por Doble Cedulación", False),
        ("Baja por trashumancia", "Baja por trashumancia", False),
    ],
)
def test_a_novelty_is_cancelled_with_its_text(entry: Any, novedad: str, deceased: bool) -> None:
    result = read(novelty(entry))
    assert result.status is S.CANCELLED
    assert result.novedad == novedad
    assert is_death_novedad(result.novedad) is deceased
    if isinstance(entry, dict) and "resolution" in entry:
        assert (result.resolucion, result.fecha_novedad) == ("123 de 2024", "2024-02-01")


def test_novelty_edge_cases() -> None:
    assert read(novelty({"name": "La información se encuentra en actualización"})).status is S.NETWORK_ERROR
    assert read(novelty({"code": 7})).status is S.PARSE_ERROR  # a novelty whose text has moved
    # A novelty beats is_in_census: the holder may not vote there.
    answer = found()
    answer["data"]["novelty"] = [{"name": "Cancelada por Muerte"}]
    assert read(answer).status is S.CANCELLED


@pytest.mark.parametrize(
    ("payload", "http", "status"),
    [
        ({"status": False, "status_code": 13, "message": "No se encuentra en el censo"}, 404, S.NOT_FOUND),
        ({"status": False, "status_code": "13"}, 404, S.NOT_FOUND),
        (
            {"status": True, "status_code": 0, "data": {"is_in_census": False, "novelty": []}},
            200,
            S.NOT_FOUND,
        ),
        ({"status": False, "status_code": 403, "message": "Token inválido"}, 403, S.TOKEN_REFUSED),
        ({"message": "Unauthorized"}, 401, S.TOKEN_REFUSED),
        ({"status": False, "message": "captcha no válido"}, 200, S.TOKEN_REFUSED),
        ({"status": False, "status_code": 99, "message": "Not Found"}, 404, S.PAGE_MOVED),
        (
            {"status": False, "status_code": 2, "message": "Código de elección no válido"},
            400,
            S.NETWORK_ERROR,
        ),
        ({"status": False, "status_code": 5, "message": "Servicio no disponible"}, 200, S.NETWORK_ERROR),
        ({"status": False, "message": "timeout"}, 504, S.NETWORK_ERROR),
        ({"status": False}, 429, S.BLOCKED),
        ({"ok": True, "result": {}}, 200, S.PARSE_ERROR),
        ([1, 2], 200, S.PARSE_ERROR),
    ],
)
def test_statuses_and_codes(payload: Any, http: int, status: ScrapeStatus) -> None:
    assert read(payload, http).status is status


def test_a_server_error_keeps_its_status_for_the_chain() -> None:
    result = read("<html><body>502 Bad Gateway</body></html>", 502)
    assert (result.status, result.http_status) == (S.NETWORK_ERROR, 502)
    assert read({"status": False}, 503).http_status == 503


@pytest.mark.parametrize(
    ("body", "http", "status"),
    [
        ("<html><body><h1 class='blocked'>Rejected</h1>Support ID: 1234567890</body></html>", 200, S.BLOCKED),
        ("<html><body>Forbidden</body></html>", 403, S.BLOCKED),  # a client refused as not a browser
        ("<html><body>Not Found</body></html>", 404, S.PAGE_MOVED),
        ("", 200, S.PARSE_ERROR),
        ("<html><body>Mantenimiento</body></html>", 200, S.PARSE_ERROR),
        ('{"status": true, "data": {"voter"', 200, S.PARSE_ERROR),
    ],
)
def test_answers_that_are_not_json(body: str, http: int, status: ScrapeStatus) -> None:
    assert read(body, http).status is status


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe\x00garbage",
        "[" * 100_000,
        "x" * (MAX_ANSWER_BYTES + 1),
        {"data": {"novelty": [[[[]]]], "is_in_census": {"a": 1}, "polling_place": [1]}},
        {"status": True, "data": {"is_in_census": True, "polling_place": {"stand": {"x": 1}, "table": None}}},
        12,
        None,
    ],
)
def test_total_never_raises(payload: Any) -> None:
    result = parse_elecciones_response(payload, http_status="nonsense", cedula=NUMBER)  # type: ignore[arg-type]
    assert result.status is S.PARSE_ERROR
    assert len(result.error) < 400
    assert NUMBER not in result.error


def test_the_number_is_masked_in_errors() -> None:
    result = read({"status": False, "message": f"El documento {NUMBER} no es válido"}, 400)
    assert result.status is S.NETWORK_ERROR
    assert NUMBER not in result.error
