"""The retention purge: ``purge_expired`` over 100,000 expired rows, on SQLite and PostgreSQL.

    .venv/bin/python -m benchmarks.purge [--quick]

Every row is ACTIVE, answered 40 days ago, with a raw answer (2 KB) and a voting place, under
``CEDULA_PRIVACY = {"RAW_RESPONSE_DAYS": 7, "PLACE_DAYS": 30}``: the first sweep after a site
lowers its retention limits, or turns them on over a table a year old, blanks every one of them.
The purge runs in its own process (as the sweep's schedule would run it), its default ranges of
1,000 rows.

Figures: wall time against the sweep's interval (``SCHEDULE_MINUTES``: the purge must be done
before the next sweep starts), the peak of Python's allocations during the purge (``tracemalloc``)
and the process's resident memory growth (``getrusage``), each at 100,000 rows and at a tenth of
that: memory bounded means the same peak for ten times the rows. Then a sweep with nothing left
to purge, the steady state: what the purge adds to every sweep.
"""

from __future__ import annotations

import argparse
import datetime
import resource
import sys
import time
import tracemalloc
from typing import Any

from .common import (
    MIB,
    VENDORS,
    Figure,
    child_parser,
    database,
    failed_figure,
    progress,
    project_environment,
    run_child,
    standalone,
    write_result,
)

TITLE = "Retention purge (purge_expired)"
GOAL_ROWS = 100_000
#: The peak of Python's allocations during the purge may not exceed this (a bounded purge holds
#: one range's keys at most; one that loaded the rows would need hundreds of MB).
GOAL_PEAK_MB = 16.0
RAW_ANSWER = "<table id='consulta'>" + "x" * 2000 + "</table>"


def run(quick: bool) -> list[Figure]:
    rows = 10_000 if quick else GOAL_ROWS
    sizes = [rows // 10, rows]
    tenth = f"{rows // 10 // 1000}k rows"
    figures: list[Figure] = []
    for vendor, label in VENDORS.items():
        benchmark = f"purge {rows // 1000}k, {label}"
        try:
            results: dict[int, dict[str, Any]] = {}
            with database(vendor, "bench_purge") as database_env:
                env = project_environment(database_env)
                for size in sizes:
                    progress(f"{benchmark}: building {size} expired rows")
                    run_child("benchmarks.purge", ["build", "--rows", str(size)], env, timeout=1800)
                    progress(f"{benchmark}: purging {size} rows")
                    results[size] = run_child("benchmarks.purge", ["run"], env, timeout=1800)
        except Exception as exc:
            figures.append(failed_figure(benchmark, exc))
            continue
        big, small = results[rows], results[rows // 10]
        goal_seconds = big["schedule_minutes"] * 60.0
        if big["raw_responses"] != rows or big["places"] != rows or big["left"] != 0:
            figures.append(
                failed_figure(benchmark, f"purged {big['raw_responses']}/{big['places']} of {rows}")
            )
            continue
        figures += [
            Figure(
                benchmark,
                "wall time, raw answers and places",
                f"{big['seconds']:.1f} s",
                f"the sweep's interval, {goal_seconds:.0f} s",
                f"{big['seconds'] / goal_seconds:.3f}x",
                f"< {goal_seconds:.0f} s",
                big["seconds"] < goal_seconds,
                {"results": results},
            ),
            Figure(
                benchmark,
                "peak Python allocations (tracemalloc)",
                f"{big['traced_peak'] / MIB:.2f} MiB",
                f"{small['traced_peak'] / MIB:.2f} MiB for {tenth}",
                f"{big['traced_peak'] / max(small['traced_peak'], 1):.2f}x for 10x rows",
                f"< {GOAL_PEAK_MB:.0f} MiB",
                big["traced_peak"] < GOAL_PEAK_MB * MIB,
            ),
            Figure(
                benchmark,
                "  peak RSS growth during the purge",
                f"+{big['rss_growth'] / MIB:.1f} MiB",
                f"+{small['rss_growth'] / MIB:.1f} MiB for {tenth}",
                f"{big['rss_at_start'] / MIB:.0f} MiB after Django set-up",
            ),
            Figure(
                benchmark,
                "  a purge with nothing expired (every sweep)",
                f"{big['steady_ms']:.0f} ms",
                f"{rows // 1000}k rows already purged",
            ),
        ]
    return figures


# -- Child processes: Django set up on benchmarks.settings --------------------------------------------


def child(argv: list[str]) -> int:
    parser = child_parser()
    parser.add_argument("action", choices=["build", "run"])
    parser.add_argument("--rows", type=int, default=0)
    options = parser.parse_args(argv)
    import django

    django.setup()
    result = build(options.rows) if options.action == "build" else purge()
    return write_result(options.out, result)


def build(rows: int) -> dict[str, Any]:
    """``rows`` users, each with an ACTIVE row answered 40 days ago (a raw answer and a place);
    the table emptied first. Users with ``bulk_create``, rows with one ``INSERT ... SELECT``."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from django_cedula.models import CedulaInfo

    started = time.monotonic()
    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    CedulaInfo.objects.all().delete()
    user_model.objects.all().delete()
    for offset in range(0, rows, 10_000):
        user_model.objects.bulk_create(
            [
                user_model(username=f"bulk{index}", password="!", cedula=str(1_000_000_000 + index))
                for index in range(offset, min(rows, offset + 10_000))
            ]
        )
    quote = connection.ops.quote_name
    users = user_model._meta
    long_ago = timezone.now() - datetime.timedelta(days=40)
    special = {"user": f"u.{quote(str(users.pk.column))}", "cedula": f"u.{quote('cedula')}"}
    values = {
        "status": CedulaInfo.Status.ACTIVE,
        "departamento": "ANTIOQUIA",
        "municipio": "MEDELLÍN",
        "puesto": "IE SAN JOSÉ",
        "direccion": "CALLE 10 # 20-30",
        "mesa": "7",
        "raw_response": RAW_ANSWER,
        "requested_at": long_ago,
        "fetched_at": long_ago,
        "created_at": long_ago,
        "updated_at": long_ago,
    }
    columns, expressions, params = [], [], []
    for field in CedulaInfo._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(quote(str(field.column)))
        if field.name in special:
            expressions.append(special[field.name])
        else:
            expressions.append("%s")
            params.append(field.get_db_prep_save(values.get(field.name, field.get_default()), connection))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(CedulaInfo._meta.db_table)} ({', '.join(columns)}) "
            f"SELECT {', '.join(expressions)} FROM {quote(users.db_table)} u",
            params,
        )
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")  # as autovacuum would keep a table this size
    return {"rows": CedulaInfo.objects.count(), "seconds": time.monotonic() - started}


def purge() -> dict[str, Any]:
    """:func:`~django_cedula.sweeper.purge_expired` under the retention limits of the module's
    docstring, timed and traced; then once more with nothing left (the steady state)."""
    from django.test.utils import override_settings

    from django_cedula.models import CedulaInfo
    from django_cedula.sweeper import SCHEDULE_MINUTES, purge_expired

    limits = {"REQUIRE_CONSENT": False, "RAW_RESPONSE_DAYS": 7, "PLACE_DAYS": 30}
    with override_settings(CEDULA_PRIVACY=limits):
        CedulaInfo.objects.exists()  # the connection opened outside the measure
        rss_at_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        tracemalloc.start()
        started = time.monotonic()
        report = purge_expired()
        seconds = time.monotonic() - started
        _current, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_at_start
        started = time.monotonic()
        again = purge_expired()
        steady_ms = (time.monotonic() - started) * 1000
    left = (
        CedulaInfo.objects.exclude(raw_response="").count()
        + CedulaInfo.objects.exclude(departamento="").count()
    )
    if again.raw_responses or again.places:
        raise RuntimeError(f"a second purge still found {again.as_dict()}")
    return {
        "rows": CedulaInfo.objects.count(),
        "raw_responses": report.raw_responses,
        "places": report.places,
        "left": left,
        "seconds": seconds,
        "traced_peak": traced_peak,
        "rss_at_start": rss_at_start,
        "rss_growth": rss_growth,
        "steady_ms": steady_ms,
        "schedule_minutes": SCHEDULE_MINUTES,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        return child(argv[1:])
    parser = argparse.ArgumentParser(add_help=False)
    _options, rest = parser.parse_known_args(argv)
    return standalone(TITLE, run, rest)


if __name__ == "__main__":
    sys.exit(main())
