"""A real qcluster job with the HTTP-only scraper, against the replica over HTTP: no Chromium at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from django_cedula.models import CedulaInfo
from django_cedula.testing.replica import Replica
from tests.browser.helpers import TAG_VAR, new_tag, tagged_processes

from .conftest import Worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
Status = CedulaInfo.Status


@pytest.mark.parametrize(
    ("scraper", "source"),
    [
        ("django_cedula.scrapers.wsp_http.WspHttpScraper", "wsp"),
        ("django_cedula.scrapers.consultacenso_http.ConsultaCensoHttpScraper", "censo"),
    ],
)
def test_a_worker_validates_with_the_http_scraper_and_starts_no_browser(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    settings: Any,
    cedula_replica: Replica,
    monkeypatch: pytest.MonkeyPatch,
    scraper: str,
    source: str,
) -> None:
    overrides: dict[str, Any] = {
        **cedula_replica.django_settings(),
        # The HTTP scraper of that source, with the options the replica gives its browser scraper
        # (the url of the source's page here, the short page timeout).
        "CEDULA_SOURCES": [{**cedula_replica.source(source), "BACKEND": scraper}],
        "CEDULA_TASKS": {"BACKEND": "django_cedula.backends.django_q.DjangoQBackend"},
        "CEDULA_RETRY_DELAYS": [1],
    }
    for name, value in overrides.items():
        setattr(settings, name, value)
    tag = new_tag()
    monkeypatch.setenv(TAG_VAR, tag)
    cluster = start_worker(["qcluster"], overrides)

    numbers = {
        "1000000001": Status.ACTIVE,
        "1000000010": Status.NOT_FOUND,
        "1000000020": Status.CANCELLED_DECEASED,
        "1000000044": Status.ACTIVE,  # a "Curl error" first, found on the retry
        "1000000050": Status.BLOCKED,
    }
    users = {number: make_user(cedula=number) for number in numbers}

    def all_final() -> bool:
        return not CedulaInfo.objects.exclude(status__in=CedulaInfo.FINAL_STATUSES).exists()

    # Two numbers need a retry, which waits for the scheduler (every 30 s) after a cold start.
    assert wait_until(all_final, timeout=120), cluster.log()
    for number, status in numbers.items():
        info = CedulaInfo.objects.get(user=users[number])
        assert info.status == status, (number, info.error_message, cluster.log())
    assert CedulaInfo.objects.get(user=users["1000000001"]).municipio == "BOGOTÁ. D.C."
    assert "SynchronousOnlyOperation" not in cluster.log()
    assert not any("chrom" in p.comm.lower() for p in tagged_processes(tag)), "no browser was started"
    cluster.stop()
