"""cedula_stats' pre-check line: pre-checks made (rows with a vigencia), by answer, and the solves
saved (rows the pre-check's answer ended), in text and JSON."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command

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
