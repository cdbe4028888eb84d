"""The recommended chain's first two entries end to end: the HTTP-only scraper first, the browser
when the firewall refuses the light client (issue #15, "the fallback is tested end to end").

The refusal comes from the replica's ``fingerprint`` fault, which answers the firewall's 403 block
page to a request without a browser's shape. The replica serves plain HTTP, so it never sees a TLS
handshake: it cannot tell curl_cffi's Chrome impersonation from Chromium, and the HTTP scraper with
its default options passes it (the second test). A fault that blocked "non-browser TLS" would have
to pick on something curl_cffi gets right, which would be a made-up distinction. So the refused
client is the HTTP scraper made plain on purpose (``impersonate=None, browser_headers=False``:
curl's own handshake and headers), standing in for what a fingerprinting firewall refuses, and the
replica records why it refused each request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psutil
import pytest

from django_cedula import throttle
from django_cedula.models import CedulaInfo
from django_cedula.scrapers import browser
from django_cedula.scrapers.parsing import is_block_page
from django_cedula.testing.replica import Replica

from .conftest import Worker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
Status = CedulaInfo.Status
WSP_HTTP = "django_cedula.scrapers.wsp_http.WspHttpScraper"
#: Seconds after the first refusal within which the other worker's first request may still arrive
#: (it may have checked the pause just before the first block was reported).
MARGIN = 5


def http_then_browser(replica: Replica, **http_options: Any) -> dict[str, Any]:
    """Settings for the chain [WspHttpScraper (with ``http_options``), WspScraper] on the replica,
    both at its Source A."""
    return {
        **replica.django_settings(),
        "CEDULA_SOURCES": [
            {"BACKEND": WSP_HTTP, "OPTIONS": {**replica.source()["OPTIONS"], **http_options}},
            replica.source(),
        ],
    }


def final_and_clean(info: CedulaInfo) -> None:
    """A final answer leaves no error behind: no code, no message, no retry, nothing scheduled."""
    assert info.fetched_at is not None
    assert (info.error_code, info.error_message, info.retry_count) == ("", "", 0)
    assert info.next_attempt_at is None
    assert not is_block_page(info.raw_response), "the stored answer is the lookup's, not the refusal"


@pytest.mark.integration
@pytest.mark.browser
def test_the_firewall_refuses_the_http_client_and_the_browser_answers(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    redis_cluster: Callable[..., dict[str, Any]],
    cedula_replica: Replica,
) -> None:
    overrides = redis_cluster(http_then_browser(cedula_replica, impersonate=None, browser_headers=False))
    cedula_replica.set_fault("fingerprint")  # until cleared: every request without a browser's shape
    workers = [start_worker(["qcluster"], overrides) for _ in range(2)]
    for worker in workers:
        worker.wait_running()
    numbers = [f"1000000{n:03d}" for n in range(501, 509)]
    users = {number: make_user(cedula=number) for number in numbers}

    def all_final() -> bool:
        return not CedulaInfo.objects.exclude(status__in=CedulaInfo.FINAL_STATUSES).exists()

    logs = lambda: "\n".join(worker.log() for worker in workers)  # noqa: E731
    assert wait_until(all_final, timeout=150), logs()
    for number in numbers:
        info = CedulaInfo.objects.get(user=users[number])
        assert (info.status, info.source) == (Status.ACTIVE, "wsp"), (number, info.error_message, logs())
        final_and_clean(info)

    # What the firewall refused: the plain client's page loads, for their headers, and nothing else.
    refused = cedula_replica.requests(fault="fingerprint")
    assert refused, "the plain HTTP client was refused"
    for record in refused:
        assert (record.source, record.kind, record.method) == ("wsp", "page", "GET"), record
        assert (record.answer, record.status) == ("block", 403), record
        assert record.detail.startswith("fingerprint: ")
        assert "no Chrome User-Agent" in record.detail
    # At most one refusal per worker, all before the pause could be seen: none after the first one's
    # time and a small margin.
    first_block = min(record.time for record in refused)
    assert len(refused) <= len(workers), [(record.time, record.detail) for record in refused]
    assert all(record.time <= first_block + MARGIN for record in refused), (first_block, refused)
    for worker in workers:
        assert worker.log().count("Source wsp-http failed (blocked): asking the next one") <= 1
    assert logs().count("Source wsp-http is paused after a block") == len(numbers) - len(refused)
    # Every lookup was the browser's (the plain client never got past the page), once per number.
    lookups = cedula_replica.lookups(source="wsp")
    assert sorted(record.cedula or "" for record in lookups) == numbers
    assert {record.answer for record in lookups} == {"found"}
    # The pause is 600 s from the block; the wait above took at most 150 s of it; this process sees
    # the pause through Redis.
    assert (
        600 - 150 - 10 < throttle.blocked_for(source="wsp-http") <= 600
    )  # the pause, seen here through Redis
    assert throttle.blocked_for(source="wsp") == 0, "the browser shares the site, not the pause"
    assert throttle.blocked_for() == 0
    assert cedula_replica.errors == []
    for worker in workers:
        assert "finished as" in worker.log(), "both processes did lookups"
        worker.stop()  # before the fixture deletes this run's keys, which the workers write to


def test_the_http_scraper_passes_the_fingerprint_check_and_no_browser_starts(
    settings: Any,
    make_user: Callable[..., Any],
    cedula_replica: Replica,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in http_then_browser(cedula_replica).items():
        setattr(settings, name, value)  # the inline backend: each job runs here, after its commit
    runtimes: list[str] = []

    def no_browser() -> None:
        runtimes.append("asked")
        raise AssertionError("the browser runtime was asked for")

    monkeypatch.setattr(browser, "get_browser_runtime", no_browser)
    cedula_replica.set_fault("fingerprint")
    numbers = {
        "1000000001": Status.ACTIVE,
        "1000000010": Status.NOT_FOUND,
        "1000000020": Status.CANCELLED_DECEASED,
    }
    users = {number: make_user(cedula=number) for number in numbers}

    for number, status in numbers.items():
        info = CedulaInfo.objects.get(user=users[number])
        assert (info.status, info.source) == (status, "wsp-http"), (number, info.error_message)
        final_and_clean(info)
    assert cedula_replica.requests(fault="fingerprint") == [], "Chrome's headers pass the check"
    assert sorted(record.cedula or "" for record in cedula_replica.lookups(source="wsp")) == sorted(numbers)
    assert runtimes == []
    children = psutil.Process().children(recursive=True)
    assert not any("chrom" in child.name().lower() for child in children), children
