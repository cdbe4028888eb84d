"""The pytest fixtures: one running replica, reset around each test."""

from __future__ import annotations

from django_cedula.testing.replica import Replica

from .helpers import WspClient

_state: dict[str, object] = {}


def test_fixture_yields_a_clean_running_replica(
    cedula_replica: Replica, cedula_replica_server: Replica
) -> None:
    assert cedula_replica is cedula_replica_server
    assert cedula_replica.running
    assert cedula_replica.requests() == []
    assert cedula_replica.faults == []
    assert cedula_replica.slow_seconds == 30.0
    # Leave a mess behind for the next test to not see.
    WspClient(cedula_replica).lookup("1000000001")
    assert cedula_replica.captcha_counts()["accepted"] == 1
    cedula_replica.set_fault("drop")
    cedula_replica.valid_token = "messy"
    cedula_replica.token_max_age = 1
    WspClient(cedula_replica).load()
    _state["port"] = cedula_replica.port


def test_fixture_reset_the_mess(cedula_replica: Replica) -> None:
    assert "port" in _state, "runs after the test above, in module order"
    assert cedula_replica.port == _state["port"], "the same server for the whole session"
    assert cedula_replica.faults == []
    assert (cedula_replica.valid_token, cedula_replica.token_max_age) == (None, 120.0)
    assert cedula_replica.captcha_counts() == dict.fromkeys(
        ("accepted", "reused", "expired", "foreign_site_key", "unknown"), 0
    )
    assert cedula_replica.requests() == []
