"""Every row of the outcome table, on Source A."""

from __future__ import annotations

import json
import time

import pytest

from django_cedula.testing.replica import (
    OUTCOMES,
    Outcome,
    OutcomeKind,
    Replica,
    derived_place,
    outcome_for,
    outcome_table_markdown,
)
from django_cedula.testing.replica import outcomes as outcomes_module
from django_cedula.testing.replica.outcomes import CURL_ERROR_TEXT, NOT_FOUND_TEXT, UPDATING_TEXT

from .helpers import Client, Elements, WspClient, cells, headers

FOUND_HEADERS = ["NUIP", "DEPARTAMENTO", "MUNICIPIO", "PUESTO", "DIRECCIÓN", "MESA"]
NOVEDAD_HEADERS = ["NUIP", "NOVEDAD", "RESOLUCIÓN", "FECHA NOVEDAD"]


def numbers(kind: OutcomeKind) -> list[str]:
    return [number for number, outcome in OUTCOMES.items() if outcome.kind is kind]


def message(wsp: WspClient, number: str) -> str:
    answer = wsp.lookup(number).json()
    assert answer["success"] is True, answer
    return str(answer["data"]["message"])


def test_docstring_table_matches_the_outcomes() -> None:
    assert outcome_table_markdown() in (outcomes_module.__doc__ or "")


def test_table_numbers_are_well_formed_and_cover_every_kind() -> None:
    for number in OUTCOMES:
        assert number.isdigit()
        assert 3 <= len(number) <= 10
        assert not number.startswith("0")
    assert {o.kind for o in OUTCOMES.values()} == set(OutcomeKind)
    cancelled = [o for o in OUTCOMES.values() if o.kind is OutcomeKind.CANCELLED]
    # 1000000020, and 1000000092 (the vigencia service's deceased, whose census agrees).
    assert {o.novedad.text for o in cancelled if o.novedad and o.novedad.deceased} == {"Cancelada por Muerte"}


@pytest.mark.parametrize("number", numbers(OutcomeKind.FOUND))
def test_found(wsp: WspClient, number: str) -> None:
    outcome = OUTCOMES[number]
    assert outcome.place is not None
    text = message(wsp, number)
    doc = Elements(text)
    assert len(doc.select("div", **{"class": "table-responsive"})) == 1
    assert len(doc.select("table", id="consulta")) == 1
    expected_headers = list(FOUND_HEADERS)
    if outcome.swap_columns:
        expected_headers[4], expected_headers[5] = expected_headers[5], expected_headers[4]
    assert headers(text) == expected_headers
    assert cells(text) == {
        "NUIP": number,
        "DEPARTAMENTO": outcome.place.departamento,
        "MUNICIPIO": outcome.place.municipio,
        "PUESTO": outcome.place.puesto,
        "DIRECCIÓN": outcome.place.direccion,
        "MESA": outcome.place.mesa,
    }
    assert f'<td data-th="MESA"><b>{outcome.place.mesa}</b></td>' in text
    assert text.count("</div>") > text.count("<div"), "the captured markup has a stray closing tag"
    assert [e.text for e in doc.select("h3")] == ["Señor Ciudadano:"]
    assert len(doc.select("h4")) == 1


def test_found_values_keep_accents_and_punctuation() -> None:
    values = " ".join(
        f"{o.place.departamento} {o.place.municipio} {o.place.puesto} {o.place.direccion}"
        for o in OUTCOMES.values()
        if o.place is not None
    )
    for needle in ("Á", "Í", "Ñ", "É", "No. ", "#", "-"):
        assert needle in values
    assert values == values.upper().replace("NO. ", "No. ")


def test_not_found(wsp: WspClient) -> None:
    text = message(wsp, "1000000010")
    assert NOT_FOUND_TEXT in text
    assert "no se encuentra en el censo" in text
    assert "<table" not in text


@pytest.mark.parametrize("number", numbers(OutcomeKind.CANCELLED))
def test_cancelled(wsp: WspClient, replica: Replica, number: str) -> None:
    novedad = OUTCOMES[number].novedad
    assert novedad is not None
    text = message(wsp, number)
    assert headers(text) == NOVEDAD_HEADERS
    assert cells(text) == {
        "NUIP": number,
        "NOVEDAD": novedad.text,
        "RESOLUCIÓN": novedad.resolucion,
        "FECHA NOVEDAD": novedad.fecha,
    }
    assert replica.lookups(number)[0].answer == "cancelled"


def test_updating(wsp: WspClient) -> None:
    for _ in range(2):
        assert wsp.lookup("1000000040").json() == {"success": True, "data": {"message": UPDATING_TEXT}}


def test_curl_error(wsp: WspClient) -> None:
    for _ in range(2):
        assert wsp.lookup("1000000041").json() == {"success": False, "data": {"message": CURL_ERROR_TEXT}}


def test_reload_once_per_session(wsp: WspClient, replica: Replica) -> None:
    assert wsp.lookup("1000000042").json() == {"success": False, "reload": True}
    assert replica.lookups()[-1].detail == "reload_once"
    assert cells(message(wsp, "1000000042"))["NUIP"] == "1000000042"
    assert wsp.lookup("1000000042").json()["success"] is True
    # Another session sees the reload again.
    assert WspClient(replica).lookup("1000000042").json() == {"success": False, "reload": True}


def test_captcha_always_rejected(wsp: WspClient) -> None:
    for _ in range(2):
        answer = wsp.lookup("1000000043").json()
        assert answer["success"] is False
        assert answer["data"]["message"].startswith("Marque el cuadro")


def test_curl_error_once_per_run(wsp: WspClient, replica: Replica) -> None:
    assert wsp.lookup("1000000044").json()["data"]["message"] == CURL_ERROR_TEXT
    assert wsp.lookup("1000000044").json()["success"] is True
    assert WspClient(replica).lookup("1000000044").json()["success"] is True
    replica.reset()
    assert wsp.lookup("1000000044").json()["data"]["message"] == CURL_ERROR_TEXT


def test_block_page(wsp: WspClient, replica: Replica) -> None:
    answer = wsp.lookup("1000000050")
    assert answer.status == 200
    assert answer.header("Content-Type") == "text/html; charset=UTF-8"
    with pytest.raises(json.JSONDecodeError):
        answer.json()
    doc = Elements(answer.text)
    assert [e.tag for e in doc.with_class("blocked")] == ["h1"]
    (authenticate,) = doc.with_class("authenticate")
    assert authenticate.tag == "h2"
    support_id = doc.with_class("support-id")[0].text
    assert support_id.isdigit()
    assert len(support_id) == 19
    assert "support ID" in authenticate.text
    assert replica.lookups()[-1].answer == "block"
    # The token was never seen by the application: the same page can still post.
    assert wsp.post("1000000001").json()["success"] is True


def test_500_on_get(wsp: WspClient, replica: Replica) -> None:
    assert wsp.lookup("1000000051").json() == {"success": False, "reload": True}
    error = wsp.load()
    assert error.status == 500
    assert "<title>500 Internal Server Error</title>" in error.text
    assert "</html>" in error.text
    assert 'id="nuip"' not in error.text
    assert replica.requests(kind="page")[-1].detail == "get500_armed"
    # Retry once works, and then the number is found.
    assert wsp.load().status == 200
    assert cells(str(wsp.post("1000000051").json()["data"]["message"]))["NUIP"] == "1000000051"


def test_slow(wsp: WspClient, replica: Replica) -> None:
    replica.slow_seconds = 0.5
    wsp.load()
    started = time.monotonic()
    answer = wsp.post("1000000052").json()
    assert time.monotonic() - started >= 0.5
    assert cells(answer["data"]["message"])["NUIP"] == "1000000052"
    record = replica.lookups("1000000052")[0]
    assert record.detail == "table:slow"
    assert record.duration >= 0.5


def test_dropped_connection(wsp: WspClient, replica: Replica) -> None:
    wsp.load()
    with pytest.raises(ConnectionError):
        wsp.post("1000000053")
    record = replica.lookups("1000000053")[0]
    assert (record.answer, record.status) == ("dropped", 0)


def test_garbage(wsp: WspClient) -> None:
    answer = wsp.lookup("1000000054").json()
    assert answer["success"] is True
    text = answer["data"]["message"]
    assert "\x00" in text
    assert "\ufffd" in text
    assert "MESA" not in text
    assert "no se encuentra" not in text
    assert "Cancelada" not in text
    assert set(cells(text)) <= {"NUIP"}


def test_unknown_numbers_are_found_deterministically(wsp: WspClient) -> None:
    first = cells(message(wsp, "52123456"))
    assert first == cells(message(wsp, "52123456"))
    place = derived_place("52123456")
    assert first == {
        "NUIP": "52123456",
        "DEPARTAMENTO": place.departamento,
        "MUNICIPIO": place.municipio,
        "PUESTO": place.puesto,
        "DIRECCIÓN": place.direccion,
        "MESA": place.mesa,
    }


def test_derived_places_vary_and_are_stable() -> None:
    places = {derived_place(str(n)) for n in range(1_000_000_100, 1_000_000_160)}
    assert len({p.departamento for p in places}) >= 5
    assert len({p.mesa for p in places}) >= 10
    assert derived_place("79000001") == derived_place("79000001")
    assert all(1 <= int(p.mesa) <= 40 for p in places)


def test_outcome_for_fills_places_where_the_answer_can_be_found() -> None:
    assert outcome_for("1000000001") is OUTCOMES["1000000001"]
    for kind in (OutcomeKind.SLOW, OutcomeKind.GET500, OutcomeKind.RELOAD_ONCE, OutcomeKind.BLOCK):
        number = numbers(kind)[0]
        assert outcome_for(number).place == derived_place(number)
    assert outcome_for("1000000010").place is None
    unknown = outcome_for("4321")
    assert isinstance(unknown, Outcome)
    assert unknown.kind is OutcomeKind.FOUND


def test_replica_outcome_accepts_separators(replica: Replica) -> None:
    assert replica.outcome("1.000.000.020").kind is OutcomeKind.CANCELLED
    assert replica.outcome(1000000010).kind is OutcomeKind.NOT_FOUND


def test_election_is_recorded(wsp: WspClient, replica: Replica) -> None:
    wsp.lookup("1000000001", tipo="67")
    assert replica.lookups()[0].election == "67"
    assert Client(replica).get(replica.wsp_url).status == 200
