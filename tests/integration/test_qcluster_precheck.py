"""The vigencia pre-check in a real ``manage.py qcluster`` (two worker processes, their pace and
health on a shared Redis cache), against the replica's vigencia service over HTTP and over HTTPS
(trusting the replica's CA); the census lookup is the fake scraper's, whose calls are counted across
processes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from django_cedula.models import CedulaInfo
from django_cedula.testing.replica import FaultMode, Replica
from django_cedula.testing.scrapers import FakeScraper

from .conftest import Worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
Status = CedulaInfo.Status
#: This helper's Redis database (the cluster tests' own is 9).
REDIS_DB = 14

#: number: (final status, the row's vigencia, its source is the pre-check's, census lookups)
EXPECTED = {
    "1000000091": (Status.NONEXISTENT, "nonexistent", True, 0),
    "1000000092": (Status.CANCELLED_DECEASED, "deceased", True, 0),
    "1000000090": (Status.NOT_FOUND, "alive", False, 1),
    "1000000093": (Status.ACTIVE, "no_data", False, 1),
    # The service resets the connection for this one: the census answers as without a pre-check.
    "1000000020": (Status.CANCELLED_DECEASED, "", False, 1),
}


@pytest.fixture
def replica() -> Iterator[Replica]:
    with Replica(tls=True) as running:
        yield running


@pytest.fixture
def shared_cache() -> Iterator[dict[str, Any]]:
    prefix = f"precheck-{uuid.uuid4().hex[:12]}"
    yield {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "KEY_PREFIX": prefix,
        }
    }
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_cluster_ends_nonexistent_and_deceased_numbers_without_a_census_lookup(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    settings: Any,
    tmp_path: Path,
    replica: Replica,
    shared_cache: dict[str, Any],
    tls: bool,
) -> None:
    calls = tmp_path / "calls"
    replica.set_fault(FaultMode.VIGENCIA_RESET, "1000000020")
    overrides: dict[str, Any] = {
        "CEDULA_TASKS": {"BACKEND": "django_cedula.backends.django_q.DjangoQBackend"},
        "CEDULA_SOURCES": [
            {
                "BACKEND": "django_cedula.testing.scrapers.FakeScraper",
                "OPTIONS": {
                    "outcomes": {
                        "1000000090": "not_found",
                        "1000000020": {"status": "cancelled", "novedad": "Cancelada por Muerte"},
                    },
                    "state_dir": str(calls),
                },
            }
        ],
        # Paced for the cluster through the shared cache: 5 a second, so that two workers never
        # wait past the timeout for a turn (a skipped pre-check would let the census answer).
        "CEDULA_PRECHECK": replica.precheck_settings(tls=tls, rate="5/s", timeout=3),
        "CACHES": shared_cache,
        "CEDULA_RETRY_DELAYS": [],
    }
    for name, value in overrides.items():
        setattr(settings, name, value)
    cluster = start_worker(["qcluster"], overrides)

    users = {number: make_user(cedula=number) for number in EXPECTED}

    def all_final() -> bool:
        return not CedulaInfo.objects.exclude(status__in=CedulaInfo.FINAL_STATUSES).exists()

    assert wait_until(all_final, timeout=90), cluster.log()
    census = FakeScraper(state_dir=str(calls))
    for number, (status, vigencia, ended_by_precheck, lookups) in EXPECTED.items():
        info = CedulaInfo.objects.get(user=users[number])
        assert (info.status, info.vigencia) == (status, vigencia), (number, cluster.log())
        assert (info.source == "vigencia") is ended_by_precheck, number
        assert info.retry_count == 0, number
        assert census.call_count(number) == lookups, number
    assert CedulaInfo.objects.get(user=users["1000000090"]).exists_but_not_registered
    # Each number asked the service once, the reset one included.
    asked = replica.requests(source="vigencia", method="POST")
    assert sorted(record.cedula for record in asked) == sorted(EXPECTED)
    assert replica.errors == []
    log = cluster.log()
    assert "SynchronousOnlyOperation" not in log
    for number in EXPECTED:
        assert number not in log
    cluster.stop()
