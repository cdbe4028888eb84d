"""Fixtures for the replica's own tests."""

from __future__ import annotations

import pytest

from django_cedula.testing.replica import Replica

from .helpers import CensoClient, WspClient


@pytest.fixture
def replica(cedula_replica: Replica) -> Replica:
    """The reset replica, with a short slow answer so slow-mode tests stay fast."""
    cedula_replica.slow_seconds = 0.3
    return cedula_replica


@pytest.fixture
def wsp(replica: Replica) -> WspClient:
    """A fresh Source A client (own cookies)."""
    return WspClient(replica)


@pytest.fixture
def censo(replica: Replica) -> CensoClient:
    """A fresh Source B client (own cookies)."""
    return CensoClient(replica)
