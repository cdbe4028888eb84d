"""Replica faults mixed at random (seeded) over many registrations: every row final, exactly as planned."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from django_cedula.testing.replica import Replica
from tests.integration.conftest import Worker

from .mixed_faults import BROKEN_KINDS, KINDS, REGISTRATIONS, kinds_for, make_plan, run_mixed_faults

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("vendor", ["sqlite", "postgresql"])
def test_the_plan_covers_every_fault_kind_both_recovered_and_exhausted(vendor: str) -> None:
    """The seeded plan of the test run has each kind once recovered and once exhausted, and users with
    no fault at all (checked on its own: a plan that lost coverage would pass the long test vacuously)."""
    kinds = kinds_for(vendor)
    plan = make_plan(REGISTRATIONS, kinds=kinds)
    outcomes = {(planned.kind, planned.expected.status == "active") for planned in plan}
    assert set(KINDS) - set(kinds) == set(BROKEN_KINDS.get(vendor, {}))
    for kind in kinds:
        assert (kind, True) in outcomes
        assert (kind, False) in outcomes
    assert (None, True) in outcomes


def test_mixed_replica_faults_over_many_registrations_end_exactly_as_planned(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    settings: Any,
    cedula_replica: Replica,
    tag: str,
) -> None:
    """REGISTRATIONS users register while a two-worker qcluster runs with small retry delays and a short
    page timeout. Each number gets one kind of fault a known number of times: slow past the timeout,
    dropped connection, garbage (not on PostgreSQL until a package bug is fixed: BROKEN_KINDS), block
    page, a 500, "Curl error". At the end every row is final and there is exactly one per user; each
    row's status, retry_count and error_code, the replica's lookups of its number and the faults still
    armed match the plan; no retry schedule, failed task, traceback or Chromium process is left. The
    scenario is mixed_faults.py, also runnable at any size outside pytest."""

    def apply_settings(overrides: dict[str, Any]) -> None:
        for name, value in overrides.items():
            setattr(settings, name, value)

    report = run_mixed_faults(
        registrations=REGISTRATIONS,
        replica=cedula_replica,
        q_cluster=settings.Q_CLUSTER,
        apply_settings=apply_settings,
        start_cluster=lambda overrides: start_worker(["qcluster"], overrides),
        register=lambda number: make_user(cedula=number),
        tag=tag,
    )
    print(report.render())
    assert report.ok, report.render()
    assert report.lookups == report.lookups_expected
    assert sum(report.statuses.values()) == REGISTRATIONS
