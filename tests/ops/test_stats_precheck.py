"""cedula_stats' pre-check line: pre-checks made (rows with a vigencia), by answer, and the solves
saved (rows the pre-check's answer ended), in text and JSON."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from django_cedula import health
from django_cedula.models import CedulaInfo

from .conftest import set_row

pytestmark = pytest.mark.django_db
Status = CedulaInfo.Status


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("cedula_stats", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def rows(registered: Callable[..., Any]) -> None:
    """Six rows: two ended by the pre-check, two it noted before the census answered, one it has not
    answered (a failure leaves no vigencia), one still waiting."""
    states: list[dict[str, Any]] = [
        {"status": Status.NONEXISTENT, "source": "vigencia", "vigencia": "nonexistent"},
        {"status": Status.CANCELLED_DECEASED, "source": "vigencia", "vigencia": "deceased"},
        {"status": Status.NOT_FOUND, "source": "wsp", "vigencia": "alive"},
        {"status": Status.ACTIVE, "source": "wsp", "vigencia": "no_data"},
        {"status": Status.ACTIVE, "source": "wsp", "vigencia": ""},
        {"status": Status.PENDING, "source": "", "vigencia": ""},
    ]
    for index, fields in enumerate(states):
        set_row(registered(cedula=f"10000001{index:02d}"), **fields)


def test_json(rows: None, settings: Any, twocaptcha: Any) -> None:
    settings.CEDULA_PRECHECK = {"BACKEND": "django_cedula.scrapers.vigencia.VigenciaPrecheck"}
    precheck = json.loads(run("--json"))["precheck"]
    assert precheck == {
        "configured": True,
        "made": 4,
        "by_answer": {"alive": 1, "deceased": 1, "nonexistent": 1, "no_data": 1},
        "solves_saved": 2,
        "estimated_saving": 0.01,  # 2 solves at 3.0 per 1,000, rounded to cents
    }


def test_text(rows: None, twocaptcha: Any) -> None:
    line = next(line for line in run().splitlines() if line.startswith("Pre-check"))
    assert line == (
        "Pre-check (vigencia): off; 4 made (alive 1, deceased 1, nonexistent 1, no_data 1), "
        "2 solves saved (about 0.01 at CEDULA_CAPTCHA_SOLVER price_per_1000 = 3.0)."
    )


def test_a_row_the_pre_check_noted_but_the_census_ended_is_no_solve_saved(
    registered: Callable[..., Any],
) -> None:
    set_row(registered(), status=Status.CANCELLED_DECEASED, source="wsp", vigencia="alive")
    precheck = json.loads(run("--json"))["precheck"]
    assert (precheck["made"], precheck["solves_saved"]) == (1, 0)


# -- cedula_sources lists the pre-check's health, and puts it back


def sources(*args: str) -> str:
    out = io.StringIO()
    call_command("cedula_sources", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_cedula_sources_lists_resumes_and_does_not_probe_the_pre_check(settings: Any) -> None:
    # No pre-check configured: the census source alone.
    assert [item["source"] for item in json.loads(sources("--json"))["sources"]] == ["fake"]
    settings.CEDULA_PRECHECK = {"BACKEND": "django_cedula.scrapers.vigencia.VigenciaPrecheck"}
    health.take_out("vigencia", reason="parse_error", detail="the page's empty shell (<app-root>)")
    listed = {item["source"]: item for item in json.loads(sources("--json"))["sources"]}
    assert list(listed) == ["fake", "vigencia"]
    assert listed["vigencia"]["in_service"] is False
    sources("--resume", "vigencia")
    assert health.state("vigencia").in_service
    with pytest.raises(CommandError, match="'vigencia' is not a configured source") as raised:
        sources("--probe", "vigencia")  # it has no form to look at
    assert raised.value.returncode == 2
