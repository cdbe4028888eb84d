"""pytest fixtures for the local replica of the Registraduría lookup.

Register with ``pytest_plugins = ["django_cedula.testing.pytest_plugin"]`` in a root
``conftest.py``. Fixtures:

* ``cedula_replica_server`` (session scope): one running :class:`~django_cedula.testing.replica.Replica`
  on a free loopback port, stopped at the end of the session;
* ``cedula_replica``: the same replica, :meth:`~django_cedula.testing.replica.Replica.reset` before
  and after each test (no faults, empty log, default knobs). The test fails if the replica itself
  raised while serving it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .replica import Replica


@pytest.fixture(scope="session")
def cedula_replica_server() -> Iterator[Replica]:
    """One replica for the whole session (prefer ``cedula_replica``, which resets it per test)."""
    replica = Replica(port=0)
    replica.start()
    try:
        yield replica
    finally:
        replica.stop()


@pytest.fixture
def cedula_replica(cedula_replica_server: Replica) -> Iterator[Replica]:
    """The running replica, reset for this test (``.wsp_url``, ``.censo_url``, ``.set_fault()``...)."""
    replica = cedula_replica_server
    replica.reset()
    yield replica
    errors = replica.errors
    replica.reset()
    if errors:
        pytest.fail("the replica raised while serving this test:\n" + "\n".join(errors), pytrace=False)
