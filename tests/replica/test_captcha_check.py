"""The replica checks captcha tokens as Google's verification does, on both sources, over plain HTTP."""

from __future__ import annotations

import time

import pytest

from django_cedula.testing.replica import Replica
from django_cedula.testing.replica.censo_pages import CENSO_CAPTCHA_TEXT
from django_cedula.testing.replica.tokens import issue_token
from django_cedula.testing.replica.wsp_pages import CAPTCHA_TEXT

from .helpers import CensoClient, WspClient

WSP_CAPTCHA = {"success": False, "data": {"message": CAPTCHA_TEXT}}
CENSO_CAPTCHA = {"ok": False, "error": CENSO_CAPTCHA_TEXT}
NOTHING = {"accepted": 0, "reused": 0, "expired": 0, "foreign_site_key": 0, "unknown": 0}


def test_wsp_a_reused_token_gets_the_captcha_answer(wsp: WspClient, replica: Replica) -> None:
    token = replica.issue_token()
    assert wsp.lookup("1000000001", captcha=token).json()["success"] is True
    again = wsp.lookup("1000000001", captcha=token)
    assert (again.status, again.json()) == (200, WSP_CAPTCHA)
    record = replica.lookups()[-1]
    assert (record.answer, record.captcha_check, record.detail) == ("captcha", "reused", "reused")
    assert replica.captcha_counts() == {**NOTHING, "accepted": 1, "reused": 1}


def test_censo_a_reused_token_gets_the_captcha_answer(censo: CensoClient, replica: Replica) -> None:
    token = replica.issue_token()
    assert censo.lookup("1000000001", captcha=token).json()["ok"] is True
    again = censo.lookup("1000000001", captcha=token)
    assert (again.status, again.json()) == (400, CENSO_CAPTCHA)
    assert replica.lookups()[-1].captcha_check == "reused"


def test_a_token_used_on_one_source_is_used_up_on_the_other(
    wsp: WspClient, censo: CensoClient, replica: Replica
) -> None:
    token = replica.issue_token()
    assert censo.lookup("1000000001", captcha=token).json()["ok"] is True
    assert wsp.lookup("1000000001", captcha=token).json() == WSP_CAPTCHA


def test_expired_tokens_are_refused(wsp: WspClient, censo: CensoClient, replica: Replica) -> None:
    replica.token_max_age = 30
    stale = issue_token(replica.site_key, issued_at=time.time() - 31)
    assert wsp.lookup("1000000001", captcha=stale).json() == WSP_CAPTCHA
    assert censo.lookup(
        "1000000001", captcha=issue_token(replica.site_key, issued_at=time.time() - 31)
    ).json() == (CENSO_CAPTCHA)
    recent = issue_token(replica.site_key, issued_at=time.time() - 25)
    assert wsp.lookup("1000000001", captcha=recent).json()["success"] is True
    assert [r.captcha_check for r in replica.lookups()] == ["expired", "expired", "accepted"]


def test_the_default_max_age_is_googles_two_minutes(wsp: WspClient, replica: Replica) -> None:
    assert replica.token_max_age == 120
    assert Replica(token_max_age=5).token_max_age == 5
    old = issue_token(replica.site_key, issued_at=time.time() - 100)
    assert wsp.lookup("1000000001", captcha=old).json()["success"] is True
    older = issue_token(replica.site_key, issued_at=time.time() - 125)
    assert wsp.lookup("1000000001", captcha=older).json() == WSP_CAPTCHA


@pytest.mark.parametrize("source", ["wsp", "censo"])
def test_counts_every_verdict(replica: Replica, source: str) -> None:
    client: WspClient | CensoClient = WspClient(replica) if source == "wsp" else CensoClient(replica)
    used = replica.issue_token()
    captchas = [
        used,
        used,
        issue_token(replica.site_key, issued_at=time.time() - 500),
        issue_token("6Lanother-site"),
        "wrong",
        "",
        None,  # the client's fresh token
    ]
    for captcha in captchas:
        client.lookup("1000000001", captcha=captcha)
    assert replica.captcha_counts() == {
        "accepted": 2,
        "reused": 1,
        "expired": 1,
        "foreign_site_key": 1,
        "unknown": 2,
    }
    checks = [r.captcha_check for r in replica.lookups(source=source)]
    assert checks == ["accepted", "reused", "expired", "foreign_site_key", "unknown", "unknown", "accepted"]
    assert [r.answer for r in replica.lookups()].count("captcha") == 5


def test_a_lookup_refused_before_the_captcha_check_keeps_its_token(wsp: WspClient, replica: Replica) -> None:
    token = replica.issue_token()
    wsp.load()
    assert wsp.post("1000000001", captcha=token, token="stale").json() == {"success": False, "reload": True}
    assert replica.lookups()[-1].captcha_check == ""
    assert wsp.lookup("1000000001", captcha=token).json()["success"] is True, "a reload did not spend it"
    assert replica.captcha_counts()["accepted"] == 1


def test_a_captcha_reject_fault_still_spends_the_token(wsp: WspClient, replica: Replica) -> None:
    replica.set_fault("captcha_reject", times=1)
    token = replica.issue_token()
    assert wsp.lookup("1000000001", captcha=token).json() == WSP_CAPTCHA
    assert (replica.lookups()[-1].fault, replica.lookups()[-1].captcha_check) == (
        "captcha_reject",
        "accepted",
    )
    assert wsp.lookup("1000000001", captcha=token).json() == WSP_CAPTCHA
    assert replica.lookups()[-1].captcha_check == "reused", "the site verified it the first time"


def test_reset_forgets_used_tokens_and_counts(wsp: WspClient, replica: Replica) -> None:
    token = replica.issue_token()
    wsp.lookup("1000000001", captcha=token)
    replica.reset()
    assert replica.captcha_counts() == NOTHING
    assert WspClient(replica).lookup("1000000001", captcha=token).json()["success"] is True


def test_a_site_key_change_refuses_the_old_keys_tokens(wsp: WspClient, replica: Replica) -> None:
    token = replica.issue_token()
    replica.site_key = "6Lrotated"
    assert wsp.lookup("1000000001", captcha=token).json() == WSP_CAPTCHA
    assert 'data-sitekey="6Lrotated"' in (wsp.page.text if wsp.page else "")
    assert replica.lookups()[-1].captcha_check == "foreign_site_key"
    assert wsp.lookup("1000000001", captcha=replica.issue_token()).json()["success"] is True
