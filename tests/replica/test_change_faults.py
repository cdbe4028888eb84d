"""The replica's faults that change the site (issue #21), at the HTTP level: the changed form pages,
the new answers, refused tokens, the control endpoint and the solves it counts."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from django_cedula.scrapers.parsing import read_form_page
from django_cedula.testing.captcha import ReplicaCaptchaSolver
from django_cedula.testing.replica import FaultMode, Replica, remote
from django_cedula.testing.replica.changed_pages import (
    CHANGED_CENSO_API_PATH,
    censo_new_markup_answer,
    wsp_new_markup_answer,
)
from django_cedula.testing.replica.outcomes import outcome_for

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str) -> str:
    with OPENER.open(url, timeout=10) as answer:
        return str(answer.read().decode("utf-8"))


def test_form_shape_changes_both_pages_and_clears(cedula_replica: Replica) -> None:
    cedula_replica.set_fault(FaultMode.FORM_SHAPE)
    wsp = read_form_page(get(cedula_replica.wsp_url))
    assert not wsp.has("nuip")
    assert wsp.has("numdoc")
    assert wsp.site_key == ""  # moved to another element and attribute
    censo_html = get(cedula_replica.censo_url)
    censo = read_form_page(censo_html)
    assert censo.has("documento")
    assert censo.site_key == cedula_replica.site_key
    assert f'var API = "{CHANGED_CENSO_API_PATH}"' in censo_html
    assert {r.fault for r in cedula_replica.requests(kind="page")} == {"form_shape"}
    cedula_replica.clear_fault(FaultMode.FORM_SHAPE)
    back = read_form_page(get(cedula_replica.wsp_url))
    assert back.has("nuip")
    assert back.site_key == cedula_replica.site_key


@pytest.mark.parametrize("number", ["1000000001", "1000000010", "1000000020", "1000000054"])
def test_new_markup_answers_say_the_same_facts_in_another_shape(number: str) -> None:
    outcome = outcome_for(number)
    wsp = wsp_new_markup_answer(number, outcome)
    censo = censo_new_markup_answer(number, outcome)
    # None of the names the readers look for.
    assert not {"success", "data", "message", "reload"} & set(wsp)
    assert not {"ok", "encontrado", "data", "mensaje", "error", "novedad"} & {k.lower() for k in censo}
    json.dumps(wsp), json.dumps(censo)  # well formed
    if outcome.place is not None:
        assert outcome.place.departamento in wsp["resultado"]["html"]
        assert censo["resultado"]["persona"]["departamentoNombre"] == outcome.place.departamento


def test_the_control_endpoint(cedula_replica: Replica) -> None:
    state = remote.set_fault(cedula_replica.url, "refuse_tokens", times=2)
    assert state["faults"] == [{"mode": "refuse_tokens", "cedula": None, "remaining": 2, "fired": 0}]
    assert [f.mode for f in cedula_replica.faults] == [FaultMode.REFUSE_TOKENS]
    remote.set_fault(cedula_replica.url, "new_markup", cedula="1.000.000-001")
    assert {(f.mode, f.cedula) for f in cedula_replica.faults} == {
        (FaultMode.REFUSE_TOKENS, None),
        (FaultMode.NEW_MARKUP, "1000000001"),
    }
    remote.clear_fault(cedula_replica.url, "new_markup", cedula="1000000001")
    assert [f.mode for f in cedula_replica.faults] == [FaultMode.REFUSE_TOKENS]
    assert remote.clear_fault(cedula_replica.url)["faults"] == []
    assert remote.state(cedula_replica.url)["captcha_counts"] == cedula_replica.captcha_counts()
    assert {r.kind for r in cedula_replica.requests()} == {"control"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"mode": "no_such_mode"}, "no_such_mode"),
        ({"mode": "block", "times": 0}, "times must be"),
        ({"mode": "block", "times": "2"}, "times a whole number"),
        ([1, 2], "a JSON object is expected"),
    ],
)
def test_the_control_endpoint_refuses_bad_orders(cedula_replica: Replica, body: Any, error: str) -> None:
    request = urllib.request.Request(
        cedula_replica.url + "__replica__/fault", data=json.dumps(body).encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        OPENER.open(request, timeout=10)
    assert refused.value.code == 400
    assert error in json.loads(refused.value.read())["error"]
    assert cedula_replica.faults == []


def test_the_control_endpoint_is_for_this_machine_only(cedula_replica: Replica) -> None:
    from django_cedula.testing.replica.routes import ControlEndpoints

    answered: list[int] = []

    class Outsider(ControlEndpoints):
        def __init__(self) -> None:  # no socket: only the guard is exercised
            self.client_address = ("192.0.2.7", 40000)

        def _send(self, record: Any, status: int, *args: Any, **kwargs: Any) -> None:
            answered.append(status)

    assert not Outsider()._control_allowed(None)  # type: ignore[arg-type]
    assert answered == [403]


def test_solves_are_counted_by_the_replica(cedula_replica: Replica) -> None:
    solver = ReplicaCaptchaSolver(replica_url=cedula_replica.url)
    assert solver.options["replica_url"] == cedula_replica.url
    tokens = [solver.solve(cedula_replica.site_key, cedula_replica.wsp_url) for _ in range(3)]
    ref = solver.submit(cedula_replica.site_key, cedula_replica.wsp_url)
    assert solver.poll(ref) is not None
    assert cedula_replica.solves() == 4
    assert len(set(tokens)) == 3
    assert remote.state(cedula_replica.url)["solves"] == 4
    cedula_replica.reset()
    assert cedula_replica.solves() == 0
    with pytest.raises(ValueError, match="replica_url"):
        ReplicaCaptchaSolver(replica_url="ftp://nowhere")
    assert cedula_replica.solver_settings(delay=1) == {
        "BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver",
        "OPTIONS": {"replica_url": cedula_replica.url, "delay": 1},
    }


def test_the_command_line_switches_a_running_replica(
    cedula_replica: Replica, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the demo prints: ``python -m django_cedula.testing.replica.remote URL set MODE``."""
    assert remote.main([cedula_replica.url, "set", "form_shape"]) == 0
    assert [fault.mode for fault in cedula_replica.faults] == [FaultMode.FORM_SHAPE]
    assert json.loads(capsys.readouterr().out)["faults"]
    assert remote.main([cedula_replica.url, "state"]) == 0
    assert "form_shape" in capsys.readouterr().out
    assert remote.main([cedula_replica.url, "clear"]) == 0
    assert cedula_replica.faults == []
    with pytest.raises(SystemExit):
        remote.main([cedula_replica.url, "set", "no_such_fault"])
