"""Commands over 100,000 rows run in constant memory (measured with tracemalloc).

Run with ``-s`` to see the figures.
"""

from __future__ import annotations

import datetime
import io
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from django_cedula.models import CedulaInfo
from django_cedula.testing.backends import RecordingBackend

# 100,000 rows take ~25 s: measured once per database, in the integration-* environments.
pytestmark = [pytest.mark.django_db, pytest.mark.integration]
Status = CedulaInfo.Status

ROWS = 100_000
#: Peak Python allocations allowed per command. Measured at 0.3 to 0.7 MB (print with -s); the bound
#: leaves headroom yet fails a command that holds every row (some 15 MB as bare tuples, far more as models).
PEAK_LIMIT = 10 * 1024 * 1024


@pytest.fixture
def many_users(recording_backend: type[RecordingBackend]) -> int:
    """100,000 users (bulk_create), each with a row in one of five states, answered 40 days ago.

    The rows are written by one ``INSERT ... SELECT`` from the users: bulk_create of 100,000
    twenty-column rows alone takes about half a minute, which this test cannot afford.
    """
    started = time.monotonic()
    user_model = get_user_model()
    batch = 10_000
    for offset in range(0, ROWS, batch):
        user_model.objects.bulk_create(
            [
                user_model(username=f"bulk{index}", password="!", cedula=str(1_000_000_000 + index))
                for index in range(offset, offset + batch)
            ]
        )
    _insert_rows_for_every_user()
    assert CedulaInfo.objects.count() == ROWS
    if connection.vendor == "postgresql":
        # Autovacuum would have analysed tables this size; without statistics PostgreSQL takes them
        # for empty and scans them whole for every batch.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"\n[memory] created {ROWS} users and rows in {time.monotonic() - started:.1f}s")
    return ROWS


def _insert_rows_for_every_user() -> None:
    users = get_user_model()._meta
    quote = connection.ops.quote_name
    user_pk = f"u.{quote(users.pk.column)}"
    long_ago = timezone.now() - datetime.timedelta(days=40)
    statuses = [Status.ACTIVE, Status.NOT_FOUND, Status.PENDING, Status.ERROR, Status.RETRYING]
    special: dict[str, tuple[str, list[Any]]] = {
        "user": (user_pk, []),
        "cedula": (f"u.{quote('cedula')}", []),
        "status": (
            f"CASE ({user_pk} %% 5) " + " ".join(f"WHEN {n} THEN %s" for n in range(5)) + " END",
            [str(status) for status in statuses],
        ),
        "error_code": (f"CASE ({user_pk} %% 7) WHEN 0 THEN %s ELSE %s END", ["timeout", ""]),
    }
    defaults = {
        "requested_at": long_ago,
        "fetched_at": long_ago,
        "created_at": long_ago,
        "updated_at": long_ago,
    }
    columns, expressions, params = [], [], []
    for field in CedulaInfo._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(quote(field.column))
        if field.name in special:
            expression, extra = special[field.name]
            expressions.append(expression)
            params.extend(extra)
        else:
            expressions.append("%s")
            params.append(field.get_db_prep_save(defaults.get(field.name, field.get_default()), connection))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(CedulaInfo._meta.db_table)} ({', '.join(columns)}) "
            f"SELECT {', '.join(expressions)} FROM {quote(users.db_table)} u",
            params,
        )


def peak_of(command: Callable[[], Any]) -> tuple[int, float]:
    """Peak traced allocation (bytes) while running ``command``, and the seconds it took."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        started = time.monotonic()
        command()
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, elapsed


@pytest.fixture
def report() -> Callable[[str, int, float], None]:
    def show(label: str, peak: int, elapsed: float) -> None:
        print(f"[memory] {label}: peak {peak / 1024 / 1024:.1f} MB in {elapsed:.1f}s")

    return show


def test_revalidate_dry_run_and_stats_over_100000_rows(
    many_users: int, recording_backend: type[RecordingBackend], report: Callable[[str, int, float], None]
) -> None:
    out = io.StringIO()
    peak, elapsed = peak_of(
        lambda: call_command("cedula_revalidate", "--all", "--dry-run", stdout=out, stderr=io.StringIO())
    )
    report("cedula_revalidate --all --dry-run", peak, elapsed)
    # PENDING and RETRYING rows are under way; the others are past the cooldown.
    under_way = CedulaInfo.objects.filter(status__in=[Status.PENDING, Status.RETRYING]).count()
    assert 0 < under_way < ROWS
    assert out.getvalue().startswith(f"Dry run: would queue {ROWS - under_way} of {ROWS} users")
    assert f"{under_way} skipped: already under way" in out.getvalue()
    assert peak < PEAK_LIMIT
    assert recording_backend.jobs == []

    out = io.StringIO()
    peak, elapsed = peak_of(lambda: call_command("cedula_stats", "--json", stdout=out))
    report("cedula_stats --json", peak, elapsed)
    assert f'"total": {ROWS}' in out.getvalue()
    assert peak < PEAK_LIMIT
