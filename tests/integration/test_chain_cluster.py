"""The fallback chain in a real cluster: two Django-Q2 worker processes on a Redis broker, Redis as
the shared cache, each driving its own Chromium, with the chain [wsp, consultacenso] against the
replica while wsp blocks. Every validation ends through consultacenso, and no request reaches wsp
during its pause."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.core.cache import caches

from django_cedula import throttle
from django_cedula.models import CedulaInfo
from django_cedula.testing.replica import Replica

from .conftest import Worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Status = CedulaInfo.Status
#: The Redis database of this test's broker and cache (keys under a prefix of the test's own).
REDIS_DB = 9


@pytest.fixture
def chain_cluster(
    settings: Any, cedula_replica: Replica, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    from django_q.conf import Conf

    run = uuid.uuid4().hex[:12]
    broker = {"host": "127.0.0.1", "port": 6379, "db": REDIS_DB}
    # Django-Q2 reads Q_CLUSTER once, when first imported: this process queues through its Conf.
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", broker)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", f"chain-{run}")
    overrides: dict[str, Any] = {
        **cedula_replica.chain_settings(),
        "CEDULA_TASK_BACKEND": "django_cedula.backends.django_q.DjangoQBackend",
        "CEDULA_BLOCK_COOLDOWN": 600,
        "CEDULA_RETRY_DELAYS": [],
        "CEDULA_RATE_LIMIT": None,
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:6379/{REDIS_DB}",
                "KEY_PREFIX": f"chain-{run}",
            }
        },
        # The broker: Redis, under a queue of this test's own (``cluster_name``: its key; ``name``
        # signs the jobs and stays the tests'). One worker per process: the two processes are the
        # two workers of the cluster.
        "Q_CLUSTER": {
            **{key: value for key, value in settings.Q_CLUSTER.items() if key != "orm"},
            "cluster_name": f"chain-{run}",
            "redis": broker,
            "workers": 1,
        },
    }
    for name, value in overrides.items():
        setattr(settings, name, value)
    yield overrides
    # This run's keys only (its cache prefix, its queue), never the others' on the same database;
    # a test that failed early leaves a few to their expiry (its workers stop later).
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    for pattern in (f"chain-{run}:*", f"django_q:chain-{run}*"):
        keys = list(client.scan_iter(match=pattern))
        if keys:
            client.delete(*keys)


def test_a_blocked_source_is_skipped_and_the_other_answers(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    chain_cluster: dict[str, Any],
    cedula_replica: Replica,
) -> None:
    cedula_replica.set_fault("block_wsp")  # wsp answers its block page to everything, until cleared
    workers = [start_worker(["qcluster"], chain_cluster) for _ in range(2)]
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
    assert all(time <= first_block + 5 for time in to_wsp), (first_block, to_wsp)
    assert 500 < throttle.blocked_for(source="wsp") <= 600  # this process sees the pause through Redis
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
