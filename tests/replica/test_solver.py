"""The replica's captcha solver against the replica itself: its tokens are accepted once each."""

from __future__ import annotations

import socket

import pytest

from django_cedula.captcha.base import CaptchaSolver
from django_cedula.testing.captcha import ReplicaCaptchaSolver
from django_cedula.testing.replica import Replica
from django_cedula.testing.replica.censo_pages import CENSO_CAPTCHA_TEXT
from django_cedula.testing.replica.tokens import TokenCheck, check_token, read_token
from django_cedula.testing.replica.wsp_pages import CAPTCHA_TEXT

from .helpers import CensoClient, WspClient


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the solver opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.usefixtures("no_network")
def test_default_tokens_are_fresh_and_for_the_pages_site_key() -> None:
    solver = ReplicaCaptchaSolver()
    assert isinstance(solver, CaptchaSolver)
    first = solver.solve("6Lsitekey", "http://127.0.0.1/censo/consultar/")
    second = solver.solve("6Lsitekey", "http://127.0.0.1/censo/consultar/")
    assert first != second
    claims = read_token(first)
    assert claims is not None
    assert claims.site_key == "6Lsitekey"
    assert check_token(first, "6Lsitekey") == TokenCheck.ACCEPTED
    assert check_token(first, "6Lanother") == TokenCheck.FOREIGN_SITE_KEY
    assert solver.calls == [("6Lsitekey", "http://127.0.0.1/censo/consultar/")] * 2


def test_solved_tokens_are_accepted_once(wsp: WspClient, replica: Replica) -> None:
    solver = ReplicaCaptchaSolver()
    token = solver.solve(replica.site_key, replica.wsp_url)
    assert wsp.lookup("1000000001", captcha=token).json()["success"] is True
    assert wsp.lookup("1000000001", captcha=token).json() == {
        "success": False,
        "data": {"message": CAPTCHA_TEXT},
    }
    assert wsp.lookup("1000000001", captcha=solver.solve(replica.site_key, replica.wsp_url)).json()["success"]
    assert [r.captcha_check for r in replica.lookups()] == ["accepted", "reused", "accepted"]
    assert replica.lookups()[1].detail == "reused"


def test_fixed_token_option_is_refused(wsp: WspClient, replica: Replica) -> None:
    fixed = ReplicaCaptchaSolver(token="wrong").solve(replica.site_key, replica.wsp_url)
    assert fixed == "wrong"
    assert wsp.lookup("1000000001", captcha=fixed).json()["data"]["message"] == CAPTCHA_TEXT
    assert replica.captcha_counts()["unknown"] == 1


def test_a_token_for_another_site_key_is_refused(censo: CensoClient, replica: Replica) -> None:
    token = ReplicaCaptchaSolver().solve("6Lsomebody-elses-site-key", replica.censo_url)
    answer = censo.lookup("1000000001", captcha=token)
    assert (answer.status, answer.json()) == (400, {"ok": False, "error": CENSO_CAPTCHA_TEXT})
    assert replica.lookups()[-1].captcha_check == "foreign_site_key"
