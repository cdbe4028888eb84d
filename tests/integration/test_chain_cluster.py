"""The fallback chain in a real cluster: two Django-Q2 worker processes on a Redis broker, Redis as
the shared cache, each driving its own Chromium, with the chain [wsp, consultacenso] against the
replica while wsp blocks. Every validation ends through consultacenso, and no request reaches wsp
during its pause."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import caches

from django_cedula import throttle
from django_cedula.models import CedulaInfo
from django_cedula.testing.replica import Replica

from .conftest import Worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Status = CedulaInfo.Status


@pytest.fixture
def chain_cluster(redis_cluster: Callable[..., dict[str, Any]], cedula_replica: Replica) -> dict[str, Any]:
    return redis_cluster(cedula_replica.chain_settings())


def test_a_blocked_source_is_skipped_and_the_other_answers(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    chain_cluster: dict[str, Any],
    cedula_replica: Replica,
) -> None:
    cedula_replica.set_fault("block_wsp")  # wsp answers its block page to everything, until cleared
    workers = [start_worker(["qcluster"], chain_cluster) for _ in range(2)]
    for worker in workers:
        worker.wait_running()
    numbers = {
        **{f"1000000{n:03d}": Status.ACTIVE for n in range(301, 309)},
        "1000000010": Status.NOT_FOUND,
        "1000000020": Status.CANCELLED_DECEASED,
    }
    users = {number: make_user(cedula=number) for number in numbers}

    def all_final() -> bool:
        return not CedulaInfo.objects.exclude(status__in=CedulaInfo.FINAL_STATUSES).exists()

    logs = lambda: "\n".join(worker.log() for worker in workers)  # noqa: E731
    assert wait_until(all_final, timeout=150), logs()
    for number, status in numbers.items():
        info = CedulaInfo.objects.get(user=users[number])
        assert (info.status, info.source) == (status, "consultacenso"), (number, info.error_message, logs())
        assert info.retry_count == 0

    # Every number was answered by consultacenso, once.
    assert sorted(record.cedula for record in cedula_replica.lookups(source="censo")) == sorted(numbers)
    # wsp saw the requests of the lookups that met its block, and nothing after the pause began.
    to_wsp = sorted(record.time for record in cedula_replica.requests(source="wsp"))
    blocks = [record for record in cedula_replica.requests(source="wsp") if record.answer == "block"]
    assert blocks, "wsp blocked"
    assert cedula_replica.lookups(source="wsp") == [], "blocked at the page: no lookup reached wsp"
    first_block = min(record.time for record in blocks)
    # Each worker may have started its page load before the first block was reported: at most one
    # request per worker arrives after the first block (its own block).
    assert len(to_wsp) <= len(workers), to_wsp
    # A worker that checked the pause just before the first block still starts its browser (seconds
    # on a loaded machine) before its page load: bounded by the lookup's own limit, not by less.
    assert all(time <= first_block + 20 for time in to_wsp), (first_block, to_wsp)
    # The pause is 600 s from the block; the wait above took at most 150 s of it; this process sees
    # the pause through Redis.
    assert (
        600 - 150 - 10 < throttle.blocked_for(source="wsp") <= 600
    )  # this process sees the pause through Redis
    assert throttle.blocked_for(source="consultacenso") == 0
    assert throttle.blocked_for() == 0, "the pause is wsp's, not every source's"
    for worker in workers:
        assert "finished as" in worker.log(), "both processes did lookups"

    # Once the pause is over (ended early here) and wsp answers again, wsp is the first asked again.
    cedula_replica.clear_fault("block_wsp")
    caches["default"].delete(throttle.block_key("wsp"))
    later = make_user(cedula="1000000399")
    assert wait_until(lambda: CedulaInfo.objects.get(user=later).status == Status.ACTIVE, timeout=60), logs()
    assert CedulaInfo.objects.get(user=later).source == "wsp"
    assert [record.cedula for record in cedula_replica.lookups(source="wsp")] == ["1000000399"]
    for worker in workers:
        worker.stop()  # before the fixture deletes this run's keys, which the workers write to
