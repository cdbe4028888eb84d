"""The public readers are total: any input is a ScrapeResult, never an exception (but the wsp reload).

Explicit cases for what was seen raising or costing (JSON nested 50,000 deep raised RecursionError),
then property tests with hypothesis over text, bytes and JSON-shaped values.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from django_cedula.results import ScrapeResult, ScrapeStatus
from django_cedula.scrapers.parsing import (
    MAX_ANSWER_BYTES,
    ReloadRequested,
    html_to_text,
    is_block_page,
    oversized_answer,
    parse_consultacenso_response,
    parse_wsp_message,
    parse_wsp_response,
    wsp_asks_for_reload,
)

from . import samples

CEDULA = "1020304050"
DEEP = 50_000
#: Longer than any error the readers write: a prefix or two and one excerpt of 200 characters.
MAX_ERROR = 600


def wsp(body: Any, **kwargs: Any) -> ScrapeResult:
    """parse_wsp_response, with a reload request standing for its result (its one deliberate raise)."""
    try:
        return parse_wsp_response(body, **kwargs)
    except ReloadRequested as reload:
        return reload.result


READERS: dict[str, Callable[..., ScrapeResult]] = {
    "wsp": wsp,
    "wsp_message": parse_wsp_message,
    "censo": parse_consultacenso_response,
}


def check(result: object, cedula: str | None = CEDULA) -> ScrapeResult:
    """What every answer must satisfy: a result, a short error, no full cédula in it."""
    assert isinstance(result, ScrapeResult)
    assert isinstance(result.status, ScrapeStatus)
    assert len(result.error) <= MAX_ERROR
    if cedula:
        assert cedula not in result.error
    assert len(result.raw_html) <= MAX_ANSWER_BYTES
    return result


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# -- deep nesting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        nested(DEEP),
        '{"success":true,"data":{"message":' + nested(DEEP) + "}}",
        '{"success":true,"data":' + '{"a":' * DEEP + "1" + "}" * DEEP + "}",
        '{"success":false,"reload":' + nested(DEEP) + "}",
    ],
    ids=["array", "message", "objects", "reload"],
)
def test_wsp_json_nested_50000_deep_is_a_parse_error(body: str) -> None:
    result = check(wsp(body, cedula=CEDULA))
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert "nested too deep" in result.error
    assert result.raw_html == body


@pytest.mark.parametrize(
    "body",
    [
        nested(DEEP),
        '{"ok":true,"encontrado":true,"data":' + nested(DEEP) + "}",
        '{"ok":false,"error":' + '{"e":' * DEEP + '"x"' + "}" * DEEP + "}",
    ],
    ids=["array", "data", "error"],
)
def test_censo_json_nested_50000_deep_is_a_parse_error(body: str) -> None:
    result = check(parse_consultacenso_response(body, cedula=CEDULA))
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert "nested too deep" in result.error


@pytest.mark.parametrize("depth", [100, 700, 950])
def test_nesting_json_can_hold_is_read_without_recursing_into_it(depth: int) -> None:
    # Deep enough to decode, then walked by the readers (the error text, the message).
    censo = '{"ok":false,"error":' + '{"e":' * depth + '"Curl error: timed out"' + "}" * depth + "}"
    result = check(parse_consultacenso_response(censo, cedula=CEDULA))
    assert result.status in (ScrapeStatus.TIMEOUT, ScrapeStatus.NETWORK_ERROR, ScrapeStatus.PARSE_ERROR)
    decoded = json.loads(censo)
    check(parse_consultacenso_response(decoded, cedula=CEDULA))
    check(wsp('{"success":true,"data":{"message":' + nested(depth) + "}}", cedula=CEDULA))


def test_a_mapping_nested_too_deep_to_encode_is_a_parse_error() -> None:
    payload: dict[str, Any] = {"ok": True}
    inner = payload
    for _ in range(DEEP):
        inner["data"] = {}
        inner = inner["data"]
    result = check(parse_consultacenso_response(payload, cedula=CEDULA))
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert "nested too deep" in result.error


def test_a_mapping_that_refers_to_itself_is_a_parse_error() -> None:
    payload: dict[str, Any] = {"ok": True, "encontrado": True}
    payload["data"] = payload
    assert check(parse_consultacenso_response(payload)).status is ScrapeStatus.PARSE_ERROR


class Hostile:
    def __str__(self) -> str:
        raise RuntimeError("no text here")


@pytest.mark.parametrize(
    "payload",
    [
        {"ok": False, "error": Hostile()},
        {Hostile(): 1},
        {"ok": True, "encontrado": True, "data": {"nuip": 10**5000, "nom_depto": "X"}},
        {"ok": True, "data": [Hostile()]},
    ],
    ids=["value", "key", "huge_int", "list"],
)
def test_a_mapping_with_values_that_cannot_become_text(payload: dict[Any, Any]) -> None:
    assert check(parse_consultacenso_response(payload)).status is ScrapeStatus.PARSE_ERROR


# -- size -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(READERS))
@pytest.mark.parametrize(
    "body",
    [
        "x" * (MAX_ANSWER_BYTES + 1),
        "ñ" * (MAX_ANSWER_BYTES // 2 + 1),  # fewer characters than the limit, more bytes
        samples.wsp_ok(samples.FOUND_MESSAGE + " " * MAX_ANSWER_BYTES),
    ],
    ids=["ascii", "two_byte", "padded_found"],
)
def test_an_answer_over_the_limit_is_a_parse_error(name: str, body: str) -> None:
    result = check(READERS[name](body, cedula=CEDULA))
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert result.error == f"answer larger than {MAX_ANSWER_BYTES} bytes"
    assert len(result.raw_html) <= MAX_ANSWER_BYTES


def test_an_answer_at_the_limit_is_read() -> None:
    body = samples.wsp_ok(samples.FOUND_MESSAGE)
    body += " " * (MAX_ANSWER_BYTES - len(body.encode()))
    assert len(body.encode()) == MAX_ANSWER_BYTES
    assert wsp(body).status is ScrapeStatus.FOUND


def test_oversized_answer_keeps_only_what_was_read() -> None:
    result = oversized_answer("a" * (MAX_ANSWER_BYTES + 10))
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert len(result.raw_html) == MAX_ANSWER_BYTES
    assert oversized_answer(limit=10).error == "answer larger than 10 bytes"


# -- bytes, NULs, wrong types ---------------------------------------------------------------------


def test_bytes_are_read_as_utf8() -> None:
    body = samples.wsp_ok(samples.FOUND_MESSAGE).encode()
    assert parse_wsp_response(body).status is ScrapeStatus.FOUND  # type: ignore[arg-type]
    assert check(parse_consultacenso_response(b"\xff\xfe\x00garbage")).status is ScrapeStatus.PARSE_ERROR


@pytest.mark.parametrize("name", list(READERS))
@pytest.mark.parametrize(
    "body", [None, 12, 1.5, ["a"], object()], ids=["none", "int", "float", "list", "object"]
)
def test_a_body_that_is_not_text(name: str, body: object) -> None:
    result = check(READERS[name](body))
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert "not text" in result.error


@pytest.mark.parametrize(
    "kwargs",
    [{"http_status": None}, {"http_status": "abc"}, {"http_status": 1e400}, {"cedula": 1020304050}],
    ids=["status_none", "status_text", "status_inf", "cedula_int"],
)
def test_wrong_argument_types(kwargs: dict[str, Any]) -> None:
    body = samples.wsp_ok(samples.FOUND_MESSAGE)
    assert wsp(body, **kwargs).status is ScrapeStatus.FOUND
    assert check(wsp(body, content_type=5)).status is ScrapeStatus.FOUND
    assert isinstance(parse_consultacenso_response('{"ok": true}', **kwargs), ScrapeResult)


def test_binary_noise_and_nul_bytes() -> None:
    noise = bytes(range(256)).decode("latin-1") * 50
    for body in (
        noise,
        "\x00" * 5000,
        '{"success":true,"data":{"message":"\\u0000\\ud800' + noise[:200] + '"}}',
    ):
        for reader in READERS.values():
            check(reader(body, cedula=CEDULA))


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a JSON value (keys and list indexes), the root included."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copied = copy.deepcopy(value)
    target = copied
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copied


WRONG_VALUES = [None, True, 0, -1.5, 10**30, "", "x", [], {}, [None, {"a": []}], {"message": 1}, nested(50)]

CENSO_SAMPLE = {
    "ok": True,
    "encontrado": True,
    "data": {"nuip": CEDULA, "nom_depto": "ANTIOQUIA", "nom_mun": "MEDELLÍN", "nom_puesto": "IE", "mesa": 7},
    "mapa": {"lat": 6.2, "lng": -75.5, "url": "https://example.invalid/"},
    "novedad": {"descripcion": "Cancelada por Muerte", "resolucion": "1", "fecha": "2020-01-01"},
    "mensaje": ["a", {"b": "c"}],
}


@pytest.mark.parametrize("wrong", WRONG_VALUES, ids=repr)
def test_wrong_types_at_every_json_path(wrong: Any) -> None:
    wsp_sample = json.loads(samples.wsp_ok(samples.FOUND_MESSAGE))
    wsp_sample["reload"] = False
    for path in paths(wsp_sample):
        body = json.dumps(replaced(wsp_sample, path, wrong))
        check(wsp(body, cedula=CEDULA))
    for path in paths(CENSO_SAMPLE):
        payload = replaced(CENSO_SAMPLE, path, wrong)
        check(parse_consultacenso_response(json.dumps(payload), cedula=CEDULA))
        if isinstance(payload, dict):
            check(parse_consultacenso_response(payload, cedula=CEDULA))


# -- absurd HTML ------------------------------------------------------------------------------------

ABSURD_HTML = [
    "<" * 100_000,
    "<td>" * 50_000,
    "<table>" * 20_000 + "<tr><td data-th='MESA'>1",
    "</table></tr></td>" * 20_000,
    "<![if !supportLists]>x<![endif]><![CDATA[y]]><!x",
    "<!--" + "a" * 10_000,
    "&#99999999999;&#xFFFFFFFFFF;&#0;&#xD800;" * 1000,
    "<script>" + "</scr" * 10_000,
    "<a " + 'b="' * 10_000,
    "<td data-th=" + "x" * 100_000,
    "\ud800<b>\udfff</b>",
]


@pytest.mark.parametrize("html", ABSURD_HTML, ids=range(len(ABSURD_HTML)))
def test_absurd_html(html: str) -> None:
    check(parse_wsp_message(html, cedula=CEDULA))
    check(wsp(html, cedula=CEDULA))
    check(wsp(samples.wsp_ok(html), cedula=CEDULA))
    check(parse_consultacenso_response(html, cedula=CEDULA))
    assert isinstance(is_block_page(html), bool)
    assert isinstance(html_to_text(html), str)


# -- properties -------------------------------------------------------------------------------------

KEYS = st.sampled_from(
    [
        "success",
        "data",
        "message",
        "reload",
        "ok",
        "encontrado",
        "novedad",
        "mensaje",
        "error",
        "nuip",
        "NOM_DEPTO",
        "nom_mun",
        "nom_puesto",
        "mesa",
        "descripcion",
        "resolucion",
        "fecha",
        "OK",
        "Data",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["true", "0", "Cancelada por Muerte", "no se encuentra en el censo", CEDULA])
    | st.sampled_from(["<table id='consulta'><tr><th>NUIP</th><th>MESA</th></tr><tr><td>1</td>", "captcha"])
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(KEYS | st.text(max_size=8), children, max_size=5)
    ),
)
ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300)
COMMON = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@COMMON
@given(body=ANY_TEXT, status=st.integers(min_value=-1, max_value=999))
@example(body="", status=200)
@example(body="\x00", status=500)
def test_any_text(body: str, status: int) -> None:
    check(wsp(body, http_status=status, cedula=CEDULA))
    check(parse_wsp_message(body, cedula=CEDULA))
    check(parse_consultacenso_response(body, http_status=status, cedula=CEDULA))
    assert isinstance(is_block_page(body), bool)


@COMMON
@given(body=st.binary(max_size=300))
def test_any_bytes(body: bytes) -> None:
    text = body.decode("latin-1")
    check(wsp(text, cedula=CEDULA))
    check(parse_consultacenso_response(text, cedula=CEDULA))
    check(wsp(body, cedula=CEDULA))


@COMMON
@given(value=JSON_VALUES, status=st.sampled_from([200, 400, 429, 500, 502]))
def test_any_json(value: Any, status: int) -> None:
    body = json.dumps(value)
    check(wsp(body, http_status=status, cedula=CEDULA))
    check(parse_consultacenso_response(body, http_status=status, cedula=CEDULA))
    if isinstance(value, dict):
        check(parse_consultacenso_response(value, http_status=status, cedula=CEDULA))


@COMMON
@given(before=ANY_TEXT, after=ANY_TEXT, separators=st.booleans())
def test_the_cedula_never_reaches_an_error(before: str, after: str, separators: bool) -> None:
    number = "1.020.304.050" if separators else CEDULA
    for body in (
        before + number + after,
        json.dumps({"success": False, "data": {"message": before + number}}),
    ):
        check(wsp(body, cedula=CEDULA))
        check(parse_consultacenso_response(body, cedula=CEDULA))
        check(parse_consultacenso_response({"ok": False, "error": before + number + after}, cedula=CEDULA))


def raises_reload(body: Any, status: Any) -> bool:
    try:
        parse_wsp_response(body, http_status=status)
    except ReloadRequested:
        return True
    return False


@COMMON
@given(
    value=JSON_VALUES | st.sampled_from([{"success": False, "reload": True}, {"reload": "1"}]),
    status=st.sampled_from([200, 400, 429, 500, 502, "200", None]),
)
@example(value={"success": "false", "reload": "true"}, status=200)
@example(value={"success": "true", "reload": True}, status=200)
@example(value={"reload": True}, status=429)
def test_wsp_asks_for_reload_says_what_the_reader_raises(value: Any, status: Any) -> None:
    # The browser scraper decides on its loop, from the JSON alone, whether to reload; the reader
    # that raises ReloadRequested runs later on the job's thread. They must never disagree.
    body = json.dumps(value)
    assert wsp_asks_for_reload(body, http_status=status) is raises_reload(body, status)
    assert wsp_asks_for_reload(body.encode(), http_status=status) is raises_reload(body.encode(), status)


@pytest.mark.parametrize(
    "body",
    ["\ufeff" + samples.RELOAD, " " + samples.RELOAD + "\n", samples.RELOAD, nested(DEEP), "", "<p>reload"],
    ids=["bom", "spaces", "plain", "deep", "empty", "html"],
)
def test_wsp_asks_for_reload_on_odd_bodies(body: str) -> None:
    assert wsp_asks_for_reload(body) is raises_reload(body, 200)
    assert wsp_asks_for_reload(body) is (samples.RELOAD in body)
