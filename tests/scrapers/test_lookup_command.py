"""``manage.py cedula_lookup`` with the real scraper and browser against the replica."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from django_cedula.testing.replica import Replica

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("source", ["wsp"])
def test_prints_a_found_answer(replica_settings: Replica) -> None:
    out = StringIO()
    call_command("cedula_lookup", "1.000.000.001", stdout=out)
    text = out.getvalue()
    assert "status: found" in text
    assert "municipio: BOGOTÁ" in text
    assert [r.cedula for r in replica_settings.lookups()] == ["1000000001"]


@pytest.mark.parametrize("source", ["censo"])
def test_json_output(replica_settings: Replica) -> None:
    out = StringIO()
    call_command("cedula_lookup", "1000000020", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["status"] == "cancelled"
    assert data["novedad"] == "Cancelada por Muerte"
    assert "raw_html" not in data


@pytest.mark.parametrize("source", ["wsp"])
def test_a_failure_exits_non_zero(replica_settings: Replica) -> None:
    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("cedula_lookup", "1000000050", stdout=out)
    assert excinfo.value.returncode == 1
    assert "status: blocked" in out.getvalue()


@pytest.mark.parametrize("source", ["wsp"])
@pytest.mark.parametrize("number", ["12", "0123456", "12345678901", "12a45"])
def test_an_invalid_number_is_refused_before_any_traffic(replica_settings: Replica, number: str) -> None:
    with pytest.raises(CommandError, match="Invalid cédula") as excinfo:
        call_command("cedula_lookup", number)
    assert excinfo.value.returncode == 2
    assert replica_settings.requests() == []


@pytest.mark.parametrize("source", ["wsp", "censo"])
def test_json_nested_50000_deep_prints_a_parse_error(replica_settings: Replica) -> None:
    out = StringIO()
    with pytest.raises(CommandError, match="Lookup failed: parse_error") as excinfo:
        call_command("cedula_lookup", "1000000057", stdout=out)
    assert excinfo.value.returncode == 1
    text = out.getvalue()
    assert "status: parse_error" in text
    assert "error: unreadable answer (JSON nested too deep)" in text
    assert "1000000057" not in text


@pytest.mark.parametrize("source", ["wsp"])
def test_a_huge_answer_prints_a_parse_error(replica_settings: Replica) -> None:
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("cedula_lookup", "1000000055", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["status"] == "parse_error"
    assert data["error"].startswith("answer larger than ")
