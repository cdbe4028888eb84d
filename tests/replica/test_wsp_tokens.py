"""Source A's form token (single use, bound to the session) and captcha checks."""

from __future__ import annotations

import pytest

from django_cedula.testing.replica import Replica
from django_cedula.testing.replica.wsp_pages import CAPTCHA_TEXT, INVALID_NUIP_TEXT

from .helpers import Client, WspClient

RELOAD = {"success": False, "reload": True}


def test_valid_lookup_is_found(wsp: WspClient, replica: Replica) -> None:
    answer = wsp.lookup("1000000001")
    assert answer.status == 200
    assert answer.header("Content-Type") == "application/json; charset=utf-8"
    assert answer.json()["success"] is True
    (record,) = replica.lookups("1000000001")
    assert (record.source, record.answer, record.election, record.token) == ("wsp", "found", "-1", wsp.token)
    assert (record.captcha, record.captcha_check) == (wsp.captcha, "accepted")


def test_answer_is_encoded_like_php(wsp: WspClient) -> None:
    raw = wsp.lookup("1000000001").body
    assert b"<\\/td>" in raw, "PHP escapes slashes"
    assert b"DIRECCI\\u00d3N" in raw, "PHP escapes non-ASCII characters"
    assert raw.isascii()


def test_url_encoded_form_is_accepted_too(wsp: WspClient) -> None:
    wsp.load()
    assert wsp.post("1000000001", multipart=False).json()["success"] is True


def test_token_is_single_use(wsp: WspClient, replica: Replica) -> None:
    wsp.load()
    assert wsp.post("1000000001").json()["success"] is True
    assert wsp.post("1000000001").json() == RELOAD
    assert replica.lookups()[-1].detail == "stale_token"
    # A reload (new page load) gives a working token again.
    assert wsp.lookup("1000000001").json()["success"] is True


def test_a_new_page_load_kills_the_previous_token(wsp: WspClient) -> None:
    wsp.load()
    old = wsp.token
    wsp.load()
    assert wsp.post("1000000001", token=old).json() == RELOAD
    # A wrong token does not use up the one the session holds.
    assert wsp.post("1000000001").json()["success"] is True


def test_token_is_bound_to_its_session(replica: Replica) -> None:
    alice, bob = WspClient(replica), WspClient(replica)
    alice.load()
    bob.load()
    assert alice.post("1000000001", token=bob.token).json() == RELOAD
    assert bob.post("1000000001").json()["success"] is True


def test_no_session_cookie_means_reload(wsp: WspClient, replica: Replica) -> None:
    wsp.load()
    wsp.cookies.clear()
    assert wsp.post("1000000001").json() == RELOAD
    assert replica.lookups()[-1].detail == "no_session"


def test_missing_or_malformed_token_means_reload(wsp: WspClient) -> None:
    wsp.load()
    assert wsp.post("1000000001", token="").json() == RELOAD
    assert wsp.post("1000000001", token="0" * 32).json() == RELOAD


def test_expired_sessions_answer_reload(wsp: WspClient, replica: Replica) -> None:
    wsp.load()
    replica.expire_sessions()
    assert wsp.post("1000000001").json() == RELOAD


@pytest.mark.parametrize("captcha", ["", "wrong-token", "replica-valid-token", "replica1.forged.signature"])
def test_captcha_missing_or_wrong(wsp: WspClient, replica: Replica, captcha: str) -> None:
    answer = wsp.lookup("1000000001", captcha=captcha).json()
    assert answer == {"success": False, "data": {"message": CAPTCHA_TEXT}}
    assert answer["data"]["message"].startswith("Marque el cuadro de verificación o captcha!")
    record = replica.lookups()[-1]
    assert (record.answer, record.captcha_check) == ("captcha", "unknown")
    assert record.detail == ("unknown" if captcha else "no token")


def test_captcha_failure_uses_up_the_token(wsp: WspClient) -> None:
    wsp.load()
    assert wsp.post("1000000001", captcha="wrong").json()["success"] is False
    assert wsp.post("1000000001").json() == RELOAD


def test_valid_token_knob_accepts_a_fixed_token_on_every_use(wsp: WspClient, replica: Replica) -> None:
    assert replica.valid_token is None, "off by default"
    assert wsp.lookup("1000000001", captcha="another-token").json()["data"]["message"] == CAPTCHA_TEXT
    replica.valid_token = "another-token"
    assert wsp.lookup("1000000001", captcha="another-token").json()["success"] is True
    assert wsp.lookup("1000000001", captcha="another-token").json()["success"] is True
    assert wsp.lookup("1000000001", captcha="replica-valid-token").json()["data"]["message"] == CAPTCHA_TEXT
    assert wsp.lookup("1000000001").json()["success"] is True, "issued tokens still work beside it"
    assert replica.captcha_counts()["accepted"] == 3


@pytest.mark.parametrize("nuip", ["", "12", "0123456", "12345678901", "12a45", "1.000.000"])
def test_malformed_numbers_are_refused(wsp: WspClient, replica: Replica, nuip: str) -> None:
    answer = wsp.lookup(nuip).json()
    assert answer == {"success": False, "data": {"message": INVALID_NUIP_TEXT}}
    assert replica.lookups()[-1].answer == "invalid"


def test_three_digit_number_is_valid(wsp: WspClient) -> None:
    assert wsp.lookup("123").json()["success"] is True


def test_post_without_reading_the_page_first(replica: Replica) -> None:
    client = Client(replica)
    answer = client.request(
        "POST", replica.wsp_url, b"nuip=1000000001", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert answer.json() == RELOAD
