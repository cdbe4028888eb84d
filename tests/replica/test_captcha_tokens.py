"""The replica's captcha tokens: the format (unique, signed, for one site key, dated) and the check."""

from __future__ import annotations

import pytest

from django_cedula.testing.replica import tokens as replica_tokens
from django_cedula.testing.replica.tokens import (
    TOKEN_MAX_AGE,
    TokenCheck,
    TokenVerifier,
    check_token,
    issue_token,
    read_token,
)

KEY = "6LdReplicaLocalSiteKeyForTestsOnly000000"


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_tokens_are_unique_and_carry_their_site_key_and_issue_time() -> None:
    tokens = {issue_token(KEY, issued_at=1_700_000_000.123) for _ in range(1000)}
    assert len(tokens) == 1000
    claims = read_token(next(iter(tokens)))
    assert claims is not None
    assert (claims.site_key, claims.issued_at) == (KEY, 1_700_000_000.123)
    assert claims.nonce
    assert all(token.startswith("replica1.") for token in tokens)
    assert TOKEN_MAX_AGE == 120.0


def test_verified_once() -> None:
    clock = Clock()
    verifier = TokenVerifier(clock=clock)
    token = issue_token(KEY, issued_at=clock.now)
    assert verifier.verify(token, KEY) is TokenCheck.ACCEPTED
    assert verifier.verify(token, KEY) is TokenCheck.REUSED
    assert verifier.verify(token, KEY) is TokenCheck.REUSED
    assert verifier.verify(issue_token(KEY, issued_at=clock.now), KEY) is TokenCheck.ACCEPTED
    assert verifier.counts() == {
        "accepted": 2,
        "reused": 2,
        "expired": 0,
        "foreign_site_key": 0,
        "unknown": 0,
    }


def test_expiry_with_an_injected_clock() -> None:
    clock = Clock()
    verifier = TokenVerifier(clock=clock)
    fresh = issue_token(KEY, issued_at=clock.now)
    older = issue_token(KEY, issued_at=clock.now)
    clock.now += 120
    assert verifier.verify(fresh, KEY) is TokenCheck.ACCEPTED, "120 s is still within two minutes"
    clock.now += 0.5
    assert verifier.verify(older, KEY) is TokenCheck.EXPIRED
    assert verifier.verify(issue_token(KEY, issued_at=clock.now - 10), KEY, max_age=5) is TokenCheck.EXPIRED
    assert check_token(older, KEY, now=clock.now - 1) is TokenCheck.ACCEPTED
    assert check_token(older, KEY, now=clock.now) is TokenCheck.EXPIRED


def test_a_token_from_the_future_is_unknown() -> None:
    now = 1_700_000_000.0
    assert check_token(issue_token(KEY, issued_at=now + 3), KEY, now=now) is TokenCheck.ACCEPTED
    assert check_token(issue_token(KEY, issued_at=now + 60), KEY, now=now) is TokenCheck.UNKNOWN


def test_bound_to_the_site_key() -> None:
    token = issue_token("6Lsomeone-else")
    assert check_token(token, KEY) is TokenCheck.FOREIGN_SITE_KEY
    verifier = TokenVerifier()
    assert verifier.verify(token, KEY) is TokenCheck.FOREIGN_SITE_KEY
    assert verifier.verify(token, "6Lsomeone-else") is TokenCheck.ACCEPTED, "refusal did not use it up"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "replica-valid-token",
        "replica1.",
        "replica1.x.y",
        "replica1.%%%.y",
        "03AGdBq24-real-looking-google-token",
    ],
)
def test_strings_the_stand_ins_did_not_issue_are_unknown(token: str) -> None:
    assert read_token(token) is None
    assert check_token(token, KEY) is TokenCheck.UNKNOWN


def test_a_tampered_token_is_unknown() -> None:
    token = issue_token(KEY, issued_at=1_700_000_000.0)
    prefix, payload, signature = token.split(".")
    # Claims rewritten (a later issue time) under the old signature.
    later = replica_tokens._b64(replica_tokens._unb64(payload).replace(b"1700000000000", b"1700000100000"))
    assert check_token(f"{prefix}.{later}.{signature}", KEY, now=1_700_000_050.0) is TokenCheck.UNKNOWN
    assert check_token(token, KEY, now=1_700_000_050.0) is TokenCheck.ACCEPTED
    assert read_token(token, secret=b"another secret") is None


def test_forgetting_old_tokens_never_accepts_one_twice() -> None:
    clock = Clock()
    verifier = TokenVerifier(clock=clock)
    early = issue_token(KEY, issued_at=clock.now)
    assert verifier.verify(early, KEY) is TokenCheck.ACCEPTED
    clock.now += 121
    for _ in range(1100):  # enough to make the verifier forget what can no longer be fresh
        assert verifier.verify(issue_token(KEY, issued_at=clock.now), KEY) is TokenCheck.ACCEPTED
    # Even with a longer max age afterwards, the forgotten token is not accepted a second time.
    assert verifier.verify(early, KEY, max_age=1000) is TokenCheck.EXPIRED
    assert (
        verifier.verify(issue_token(KEY, issued_at=clock.now - 200), KEY, max_age=1000) is TokenCheck.EXPIRED
    )


def test_reset_forgets_uses_and_counts() -> None:
    verifier = TokenVerifier()
    token = issue_token(KEY)
    verifier.verify(token, KEY)
    verifier.reset()
    assert verifier.counts() == dict.fromkeys(
        ("accepted", "reused", "expired", "foreign_site_key", "unknown"), 0
    )
    assert verifier.verify(token, KEY) is TokenCheck.ACCEPTED
