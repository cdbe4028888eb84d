"""A real qcluster job with the real scraper and Chromium, against the replica over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from django_cedula.models import CedulaInfo
from django_cedula.testing.replica import Replica
from tests.browser.helpers import TAG_VAR, assert_no_tagged_processes, new_tag, tagged_processes

from .conftest import Worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Status = CedulaInfo.Status


def test_a_worker_validates_with_the_real_scraper_and_leaves_no_browser(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    settings: Any,
    cedula_replica: Replica,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    overrides: dict[str, Any] = {
        **cedula_replica.django_settings(),
        "CEDULA_TASKS": {"BACKEND": "django_cedula.backends.django_q.DjangoQBackend"},
        "CEDULA_RETRY_DELAYS": [1],
    }
    for name, value in overrides.items():
        setattr(settings, name, value)
    # The worker and every process it starts carry this tag in their environment, so that what
    # they leave behind can be told from other tests' browsers running at the same time.
    tag = new_tag()
    monkeypatch.setenv(TAG_VAR, tag)
    cluster = start_worker(["qcluster"], overrides)
    assert "DJANGO_ALLOW_ASYNC_UNSAFE" not in cluster.environment

    numbers = {
        "1000000001": Status.ACTIVE,
        "1000000010": Status.NOT_FOUND,
        "1000000020": Status.CANCELLED_DECEASED,
        "1000000021": Status.CANCELLED_OTHER,
        "1000000044": Status.ACTIVE,  # a "Curl error" first, found on the retry
        "1000000050": Status.BLOCKED,  # blocked twice: gives up
    }
    users = {number: make_user(cedula=number) for number in numbers}

    def all_final() -> bool:
        return not CedulaInfo.objects.exclude(status__in=CedulaInfo.FINAL_STATUSES).exists()

    assert wait_until(all_final, timeout=110), cluster.log()
    for number, status in numbers.items():
        info = CedulaInfo.objects.get(user=users[number])
        assert info.status == status, (number, info.error_message, cluster.log())
    active = CedulaInfo.objects.get(user=users["1000000001"])
    assert active.municipio == "BOGOTÁ. D.C."
    assert CedulaInfo.objects.get(user=users["1000000044"]).retry_count == 1
    assert len(cedula_replica.lookups("1000000001")) == 1
    assert "SynchronousOnlyOperation" not in cluster.log()

    assert any("chrom" in p.comm.lower() for p in tagged_processes(tag)), "the workers drove a real Chromium"
    cluster.stop()
    assert_no_tagged_processes(tag, timeout=15)
