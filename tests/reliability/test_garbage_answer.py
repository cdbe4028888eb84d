"""A garbage answer (binary noise, a NUL character among it) is stored like any other failure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from django_cedula.models import CedulaInfo
from django_cedula.testing.replica import Replica
from tests.browser.helpers import assert_no_tagged_processes
from tests.integration.conftest import Worker, wait_until

from .mixed_faults import BROKEN_KINDS
from .support import ChromiumWatch, job_failures, job_runs, rows_final, wait_for_cluster

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Status = CedulaInfo.Status

NUMBER = "3700000001"


def test_a_garbage_answer_ends_the_attempt_as_a_parse_error_on_every_database(
    start_worker: Callable[..., Worker],
    make_user: Callable[..., Any],
    configure: Callable[..., dict[str, Any]],
    cedula_replica: Replica,
    chromium: ChromiumWatch,
    request: pytest.FixtureRequest,
) -> None:
    """The replica's garbage answer (a table cut short, then binary noise with a NUL character) must
    end the attempt as a parse error, stored with the raw answer; with no retries configured the row
    is final at once: ERROR, error_code parse_error, and the job a success.

    The NUL character once made PostgreSQL refuse the whole outcome (the row stayed PROCESSING);
    control characters are now replaced before storing."""
    if connection.vendor in BROKEN_KINDS and "garbage" in BROKEN_KINDS[connection.vendor]:
        request.applymarker(pytest.mark.xfail(strict=True, reason=BROKEN_KINDS[connection.vendor]["garbage"]))
    overrides = configure(CEDULA_RETRY_DELAYS=[])
    cedula_replica.set_fault("garbage", NUMBER, times=1)
    cluster = start_worker(["qcluster"], overrides)
    wait_for_cluster(cluster)
    user = make_user(cedula=NUMBER)
    assert wait_until(lambda: len(job_runs(user.pk, 1)) == 1, timeout=60), cluster.log()

    assert job_failures() == [], "the job raised"
    assert rows_final([user.pk]), CedulaInfo.objects.get(user=user).status
    info = CedulaInfo.objects.get(user=user)
    assert (info.status, info.retry_count, info.error_code) == (Status.ERROR, 0, "parse_error")
    assert info.raw_response, "the raw answer is kept (CEDULA_STORE_RAW_RESPONSE)"
    assert "\x00" not in info.raw_response
    assert "\x00" not in info.error_message
    assert len(cedula_replica.lookups(NUMBER)) == 1
    cluster.stop()
    assert_no_tagged_processes(chromium.tag, timeout=15)
    chromium.assert_none_left()
