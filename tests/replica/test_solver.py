"""The replica's captcha solver."""

from __future__ import annotations

import socket
import time

import pytest

from django_cedula.captcha.base import CaptchaSolver
from django_cedula.captcha.replica import ReplicaCaptchaSolver
from django_cedula.exceptions import CaptchaError
from django_cedula.testing.replica import DEFAULT_VALID_TOKEN, Replica

from .helpers import WspClient


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the solver opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.usefixtures("no_network")
def test_default_token_is_the_replicas() -> None:
    solver = ReplicaCaptchaSolver()
    assert isinstance(solver, CaptchaSolver)
    assert solver.solve("6Lsitekey", "http://127.0.0.1/censo/consultar/") == DEFAULT_VALID_TOKEN
    assert Replica().valid_token == DEFAULT_VALID_TOKEN
    assert solver.calls == [("6Lsitekey", "http://127.0.0.1/censo/consultar/")]
    assert solver.options == {"token": DEFAULT_VALID_TOKEN, "delay": 0.0, "fail": False}


@pytest.mark.usefixtures("no_network")
def test_token_after_delay() -> None:
    solver = ReplicaCaptchaSolver(token="custom", delay=0.3)
    started = time.monotonic()
    assert solver.solve("key", "url") == "custom"
    assert time.monotonic() - started >= 0.3


def test_failures() -> None:
    with pytest.raises(CaptchaError, match="told to fail"):
        ReplicaCaptchaSolver(fail=True).solve("key", "url")
    with pytest.raises(CaptchaError, match="site key"):
        ReplicaCaptchaSolver().solve("", "url")
    with pytest.raises(ValueError, match="negative"):
        ReplicaCaptchaSolver(delay=-1)
    with pytest.raises(TypeError):
        ReplicaCaptchaSolver(tokn="typo")  # type: ignore[call-arg]


def test_solved_token_is_accepted_by_the_replica(wsp: WspClient, replica: Replica) -> None:
    page = wsp.load()
    token = ReplicaCaptchaSolver().solve(replica.site_key, replica.wsp_url)
    assert page.status == 200
    assert wsp.post("1000000001", captcha=token).json()["success"] is True
    replica.valid_token = "rotated"
    stale = ReplicaCaptchaSolver().solve(replica.site_key, replica.wsp_url)
    assert wsp.lookup("1000000001", captcha=stale).json()["success"] is False
