"""Oversized answers (huge body, gzip bomb, JSON nested deep) and over-long fields, over plain HTTP."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest

from django_cedula.testing.replica import OUTCOMES, FaultMode, OutcomeKind, Replica
from django_cedula.testing.replica.control import (
    DEFAULT_BOMB_BYTES,
    DEFAULT_DEEP_JSON_DEPTH,
    DEFAULT_HUGE_BYTES,
)
from django_cedula.testing.replica.outcomes import LONG_DEPARTAMENTO, LONG_FECHA, LONG_MESA, LONG_NOVEDAD

from .helpers import CensoClient, Response, WspClient, cells

HUGE, BOMB, DEEP, LONG_FOUND, LONG_CANCELLED = (
    "1000000055",
    "1000000056",
    "1000000057",
    "1000000060",
    "1000000061",
)
OTHER = "52123456"


def lookup(replica: Replica, source: str, number: str) -> Response:
    return WspClient(replica).lookup(number) if source == "wsp" else CensoClient(replica).lookup(number)


def depth(body: bytes) -> int:
    """How deep the JSON text nests (without decoding it: json.loads would recurse too deep)."""
    deepest = level = 0
    for byte in body:
        if byte in b"[{":
            level += 1
            deepest = max(deepest, level)
        elif byte in b"]}":
            level -= 1
    return deepest


def found_in(source: str, payload: dict[str, object], number: str) -> None:
    if source == "wsp":
        message = payload["data"]["message"]  # type: ignore[index]
        assert cells(message[:5000])["NUIP"] == number
        assert len(message) > 100_000
    else:
        assert payload["encontrado"] is True
        assert payload["data"]["nuip"] == number  # type: ignore[index]
        assert len(str(payload["html"])) > 100_000


def test_the_defaults() -> None:
    assert (DEFAULT_HUGE_BYTES, DEFAULT_BOMB_BYTES, DEFAULT_DEEP_JSON_DEPTH) == (20 << 20, 100 << 20, 50_000)
    assert {OUTCOMES[n].kind for n in (HUGE, BOMB, DEEP)} == {
        OutcomeKind.HUGE,
        OutcomeKind.GZIP_BOMB,
        OutcomeKind.DEEP_JSON,
    }


@pytest.mark.parametrize("source", ["wsp", "censo"])
def test_a_huge_answer_is_a_found_answer_of_huge_bytes(replica: Replica, source: str) -> None:
    replica.huge_bytes = 3_000_000
    answer = lookup(replica, source, HUGE)
    assert answer.status == 200
    assert answer.header("Content-Encoding") is None
    assert len(answer.body) == 3_000_000
    found_in(source, answer.json(), HUGE)
    (record,) = replica.lookups(HUGE)
    assert (record.answer, record.detail) == ("huge", "table:huge 3000000 bytes")


@pytest.mark.parametrize("source", ["wsp", "censo"])
def test_a_gzip_bomb_is_small_on_the_wire_and_huge_once_decompressed(replica: Replica, source: str) -> None:
    answer = lookup(replica, source, BOMB)
    assert answer.header("Content-Encoding") == "gzip"
    assert len(answer.body) < DEFAULT_BOMB_BYTES / 500, "about 100 KiB on the wire"
    assert int(answer.header("Content-Length") or 0) == len(answer.body)
    expanded = gzip.decompress(answer.body)
    assert len(expanded) == DEFAULT_BOMB_BYTES
    found_in(source, json.loads(expanded), BOMB)
    assert replica.lookups(BOMB)[0].answer == "gzip_bomb"


@pytest.mark.parametrize("source", ["wsp", "censo"])
def test_deep_json_nests_deep_json_depth_levels(replica: Replica, source: str) -> None:
    answer = lookup(replica, source, DEEP)
    assert answer.status == 200
    assert depth(answer.body) == DEFAULT_DEEP_JSON_DEPTH + (2 if source == "wsp" else 1)
    with pytest.raises(RecursionError):
        json.loads(answer.body)
    replica.deep_json_depth = 10
    shallow = json.loads(lookup(replica, source, DEEP).body)
    assert (shallow["data"]["message"] if source == "wsp" else shallow["data"]) == json.loads(
        "[" * 10 + "]" * 10
    )


@pytest.mark.parametrize("source", ["wsp", "censo"])
@pytest.mark.parametrize(
    ("mode", "answer"),
    [(FaultMode.HUGE, "huge"), (FaultMode.GZIP_BOMB, "gzip_bomb"), (FaultMode.DEEP_JSON, "deep_json")],
)
def test_as_faults_for_one_number_times_once(
    replica: Replica, source: str, mode: FaultMode, answer: str
) -> None:
    replica.huge_bytes = replica.bomb_bytes = 200_000
    replica.deep_json_depth = 100
    replica.set_fault(mode, cedula=OTHER, times=1)
    first = lookup(replica, source, OTHER)
    assert lookup(replica, source, "1000000001").status == 200
    second = lookup(replica, source, OTHER)
    assert [r.answer for r in replica.lookups(OTHER)] == [answer, "found"]
    assert replica.lookups(OTHER)[0].fault == mode.value
    assert (first.header("Content-Encoding") == "gzip") is (mode is FaultMode.GZIP_BOMB)
    assert len(second.body) < 5_000


def test_reset_restores_the_sizes(replica: Replica) -> None:
    replica.huge_bytes, replica.bomb_bytes, replica.deep_json_depth = 1, 2, 3
    replica.reset()
    assert (replica.huge_bytes, replica.bomb_bytes, replica.deep_json_depth) == (
        DEFAULT_HUGE_BYTES,
        DEFAULT_BOMB_BYTES,
        DEFAULT_DEEP_JSON_DEPTH,
    )


def test_over_long_values_exceed_the_model_columns() -> None:
    from django_cedula.models import CedulaInfo

    def limit(name: str) -> int:
        return int(CedulaInfo._meta.get_field(name).max_length or 0)

    assert len(LONG_DEPARTAMENTO) > limit("departamento")
    assert len(LONG_MESA) > limit("mesa")
    assert len(LONG_NOVEDAD) > limit("novedad")
    assert len(LONG_FECHA) > limit("fecha_novedad")


def test_over_long_fields_on_source_a(wsp: WspClient) -> None:
    found = cells(wsp.lookup(LONG_FOUND).json()["data"]["message"])
    assert (found["DEPARTAMENTO"], found["MESA"]) == (LONG_DEPARTAMENTO, LONG_MESA)
    cancelled = cells(wsp.lookup(LONG_CANCELLED).json()["data"]["message"])
    assert (cancelled["NOVEDAD"], cancelled["FECHA NOVEDAD"]) == (LONG_NOVEDAD, LONG_FECHA)


def test_over_long_fields_on_source_b(censo: CensoClient) -> None:
    found = censo.lookup(LONG_FOUND).json()
    assert (found["data"]["nom_depto"], found["data"]["mesa"]) == (LONG_DEPARTAMENTO, LONG_MESA)
    cancelled = censo.lookup(LONG_CANCELLED).json()
    assert (cancelled["novedad"], cancelled["data"]["fecha_novedad"]) == (LONG_NOVEDAD, LONG_FECHA)


def test_cli_sizes() -> None:
    from django_cedula.testing.replica.__main__ import build_parser

    args = build_parser().parse_args(["--huge-bytes", "5", "--bomb-bytes", "6", "--deep-json-depth", "7"])
    assert (args.huge_bytes, args.bomb_bytes, args.deep_json_depth) == (5, 6, 7)
    helptext = subprocess.run(
        [sys.executable, "-m", "django_cedula.testing.replica", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for mode in ("huge", "gzip_bomb", "deep_json"):
        assert mode in helptext
