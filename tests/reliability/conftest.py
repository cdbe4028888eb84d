"""Fixtures of the reliability tests: real qcluster processes, the replica, tagged Chromium processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from django_cedula.testing.replica import Replica
from tests.browser.helpers import TAG_VAR, new_tag
from tests.integration.conftest import start_worker  # noqa: F401 - the fixture that starts real workers

from .support import (
    ChromiumWatch,
    cluster_overrides,
    immediate_transactions_on_sqlite,
    sqlite_worker_databases,
)


@pytest.fixture(autouse=True)
def _immediate_transactions_on_sqlite(transactional_db: None) -> Iterator[None]:
    """On SQLite, this process begins its transactions IMMEDIATE (a workaround: see the helper)."""
    with immediate_transactions_on_sqlite():
        yield


@pytest.fixture
def tag(monkeypatch: pytest.MonkeyPatch) -> str:
    """A tag in the environment of every worker started from now on, and so of their Chromium processes:
    what they leave behind can be told apart from other browsers on the machine."""
    value = new_tag()
    monkeypatch.setenv(TAG_VAR, value)
    return value


@pytest.fixture
def chromium(tag: str) -> Iterator[ChromiumWatch]:
    """Watches the Chromium processes of this test's workers, helpers included."""
    watch = ChromiumWatch(tag).start()
    yield watch
    watch.stop()


@pytest.fixture
def configure(settings: Any, cedula_replica: Replica) -> Callable[..., dict[str, Any]]:
    """``configure(source_options=None, **extra)``: apply the cluster's settings (replica, its source with
    ``source_options`` besides the replica's, Django-Q2 backend, two workers, and ``extra``) to this
    process and return them, to hand to ``start_worker`` as the workers' overrides."""

    def apply(source_options: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        overrides = cluster_overrides(cedula_replica, settings.Q_CLUSTER, source_options, **extra)
        for name, value in overrides.items():
            setattr(settings, name, value)
        return {**overrides, **sqlite_worker_databases()}

    return apply
