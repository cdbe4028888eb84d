"""Bulk re-validation: ``manage.py cedula_revalidate --all`` over 100,000 users, on SQLite and PostgreSQL.

    .venv/bin/python -m benchmarks.revalidate [--quick]

Every user has a row answered 40 days ago (ACTIVE), so ``--all`` re-queues every one of them: the
yearly "check everybody again". The command runs for real in its own process, as cron would run
it, and queues its jobs through:

- ``django_q``: Django-Q2 on its ORM broker, the package's default (an ``OrmQ`` row per job), with
  Django's default ``CONN_MAX_AGE = 0``: the headline figure;
- ``django_q_persistent``: the same with persistent connections (``CONN_MAX_AGE = None``);
- ``recording``: the package's own work only (the row updates; jobs kept in a list in memory).

Figures: wall time of the command (Django set-up excluded) and the process's peak resident memory
(``getrusage``, which includes Django itself). A run still going after the time budget is stopped
(its goal is already missed) and its time for all rows extrapolated from the rows it had done.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import resource
import sys
import threading
import time
from typing import Any

from .common import (
    MIB,
    VENDORS,
    Figure,
    child_parser,
    database,
    failed_figure,
    median,
    progress,
    project_environment,
    run_child,
    standalone,
    write_result,
)

TITLE = "Bulk re-validation (cedula_revalidate --all)"
GOAL_ROWS = 100_000
GOAL_SECONDS = 60.0
GOAL_MB = 250.0
#: How the jobs are queued: (task backend, CONN_MAX_AGE of the command's process).
VARIANTS = {
    "django_q": ("django_cedula.backends.django_q.DjangoQBackend", "0"),
    "django_q_persistent": ("django_cedula.backends.django_q.DjangoQBackend", "none"),
    "recording": ("django_cedula.testing.backends.RecordingBackend", "0"),
}


def run(quick: bool, budget: float | None = None, repeats: int | None = None) -> list[Figure]:
    """Both databases; a run still going after ``budget`` seconds is stopped (0: never)."""
    rows = 10_000 if quick else GOAL_ROWS
    repeats = repeats or (1 if quick else 3)
    if budget is None:
        # Past the goal the answer is known: stop there and extrapolate.
        budget = 30.0 if quick else GOAL_SECONDS
    figures: list[Figure] = []
    for vendor, label in VENDORS.items():
        benchmark = f"revalidate {rows // 1000}k, {label}"
        try:
            with database(vendor, "bench_revalidate") as database_env:
                env = project_environment(database_env)
                progress(f"{benchmark}: building {rows} users and rows")
                built = run_child("benchmarks.revalidate", ["build", "--rows", str(rows)], env)
                results: dict[str, list[dict[str, Any]]] = {}
                for variant, (backend, max_age) in VARIANTS.items():
                    results[variant] = []
                    for number in range(repeats):
                        limit = f"budget {budget:.0f} s" if budget else "no budget"
                        progress(f"{benchmark}: {variant}, run {number + 1} of {repeats} ({limit})")
                        run_child("benchmarks.revalidate", ["reset"], env)
                        result = run_child(
                            "benchmarks.revalidate",
                            ["run", "--budget", str(budget)],
                            project_environment(
                                database_env,
                                CEDULA_BENCH_SETTINGS=json.dumps({"CEDULA_TASKS": {"BACKEND": backend}}),
                                CEDULA_BENCH_CONN_MAX_AGE=max_age,
                            ),
                            timeout=(budget or 24 * 3600) + 600,
                        )
                        results[variant].append(result)
                        if not result["completed"]:
                            break  # a second run would be stopped the same way
        except Exception as exc:
            figures.append(failed_figure(benchmark, exc))
            continue
        figures += figures_for(benchmark, rows, budget, built, results)
    return figures


def figures_for(
    benchmark: str, rows: int, budget: float, built: dict[str, Any], results: dict[str, list[dict[str, Any]]]
) -> list[Figure]:
    """Time and memory of the default setup against the goals, then the package's own share."""

    def seconds(runs: list[dict[str, Any]]) -> tuple[float, str, str]:
        """Seconds for 100,000 rows (the goal's count), the result's text and what it rests on."""
        completed = [run["seconds"] for run in runs if run["completed"]]
        if completed:
            measured = median(completed)
            if rows == GOAL_ROWS:
                return measured, f"{measured:.1f} s", f"median of {len(completed)} runs"
            estimate = measured * GOAL_ROWS / rows
            return estimate, f"{measured:.1f} s for {rows // 1000}k", f"~{estimate:.0f} s for 100k"
        last = runs[-1]
        rate = last["rows_done"] / last["seconds"]
        estimate = GOAL_ROWS / rate if rate else float("inf")
        return estimate, f"~{estimate:.0f} s for 100k", f"stopped at {budget:.0f} s: {last['rows_done']} rows"

    def over(runs: list[dict[str, Any]]) -> str:
        done = min(run["rows_done"] for run in runs)
        return "" if done >= rows else f" ({done} rows)"

    data = {"rows": rows, "budget": budget, "build": built, "runs": results}
    queue_seconds, queue_text, queue_basis = seconds(results["django_q"])
    kept_seconds, kept_text, kept_basis = seconds(results["django_q_persistent"])
    own_seconds, own_text, own_basis = seconds(results["recording"])
    peak = max(run["peak_rss"] for run in results["django_q"]) / MIB
    own_peak = max(run["peak_rss"] for run in results["recording"]) / MIB
    start = median([run["rss_at_start"] for run in results["django_q"]]) / MIB
    return [
        Figure(
            benchmark,
            "wall time, Django-Q2 ORM broker",
            queue_text,
            queue_basis,
            f"{queue_seconds / GOAL_SECONDS:.1f}x goal",
            f"< {GOAL_SECONDS:.0f} s",
            queue_seconds < GOAL_SECONDS,
            data,
        ),
        Figure(
            benchmark,
            "peak RSS, Django-Q2 ORM broker",
            f"{peak:.0f} MiB{over(results['django_q'])}",
            f"{start:.0f} MiB after Django set-up",
            f"{peak / start:.2f}x",
            f"< {GOAL_MB:.0f} MB",
            peak * MIB < GOAL_MB * 1_000_000,
        ),
        Figure(
            benchmark,
            "  wall time, same, CONN_MAX_AGE=None",
            kept_text,
            kept_basis,
            f"{kept_seconds / queue_seconds:.2f}x of above",
        ),
        Figure(
            benchmark,
            "  wall time, package's rows only",
            own_text,
            own_basis,
            f"{own_seconds / queue_seconds:.2f}x of above",
        ),
        Figure(
            benchmark,
            "  peak RSS, package's rows only",
            f"{own_peak:.0f} MiB{over(results['recording'])}",
            "jobs kept in a list",
        ),
    ]


# -- Child processes: Django set up on benchmarks.settings --------------------------------------------


def child(argv: list[str]) -> int:
    parser = child_parser()
    parser.add_argument("action", choices=["build", "reset", "run"])
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--budget", type=float, default=0.0, help="seconds; 0: no limit")
    options = parser.parse_args(argv)
    rss_at_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    import django

    django.setup()
    if options.action == "build":
        result = build(options.rows)
    elif options.action == "reset":
        result = reset()
    else:
        result = run_command(options.budget, options.out)
    result["rss_before_django"] = rss_at_start
    return write_result(options.out, result)


def _long_ago() -> datetime.datetime:
    from django.utils import timezone

    return timezone.now() - datetime.timedelta(days=40)


def build(rows: int) -> dict[str, Any]:
    """``rows`` users with a cédula each, and an ACTIVE row answered 40 days ago for every one.

    The users go in with ``bulk_create``; the rows with one ``INSERT ... SELECT`` from the users
    (as ``tests/ops/test_memory.py`` does): creating them through the ORM would take minutes.
    """
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from django_cedula.models import CedulaInfo

    started = time.monotonic()
    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    for offset in range(0, rows, 10_000):
        user_model.objects.bulk_create(
            [
                user_model(username=f"bulk{index}", password="!", cedula=str(1_000_000_000 + index))
                for index in range(offset, min(rows, offset + 10_000))
            ]
        )
    quote = connection.ops.quote_name
    users = user_model._meta
    long_ago = _long_ago()
    special = {"user": f"u.{quote(str(users.pk.column))}", "cedula": f"u.{quote('cedula')}"}
    values = {
        "status": CedulaInfo.Status.ACTIVE,
        "departamento": "ANTIOQUIA",
        "municipio": "MEDELLÍN",
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
    _analyze()
    return {"rows": CedulaInfo.objects.count(), "seconds": time.monotonic() - started}


def _analyze() -> None:
    """Fresh planner statistics, as autovacuum would keep them on a real PostgreSQL table this size.

    Without them PostgreSQL takes the tables for empty, and after a run it carries 100,000 dead
    row versions into the next one.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def reset() -> dict[str, Any]:
    """Every row back to answered 40 days ago, and an empty queue, between runs."""
    from django_q.models import OrmQ

    from django_cedula.models import CedulaInfo

    long_ago = _long_ago()
    changed = CedulaInfo.objects.update(
        status=CedulaInfo.Status.ACTIVE,
        requested_at=long_ago,
        fetched_at=long_ago,
        updated_at=long_ago,
        retry_count=0,
        next_attempt_at=None,
    )
    OrmQ.objects.all().delete()
    _analyze()
    return {"rows": changed}


def run_command(budget: float, out: str) -> dict[str, Any]:
    """Run ``cedula_revalidate --all``; past ``budget`` seconds, report how far it got and stop."""
    from django.conf import settings
    from django.core.management import call_command
    from django_q.models import OrmQ

    from django_cedula.models import CedulaInfo

    uses_django_q = "django_q" in settings.CEDULA_TASKS["BACKEND"]
    total = CedulaInfo.objects.count()
    rss_at_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    finished = threading.Event()
    started = time.monotonic()

    def watchdog() -> None:
        if finished.wait(budget):
            return
        elapsed = time.monotonic() - started
        # This thread has its own database connection: it sees what the command committed. With
        # Django-Q2, a job in the queue is a user done; otherwise a row reset (500 at a time).
        if uses_django_q:
            done = OrmQ.objects.count()
        else:
            done = CedulaInfo.objects.filter(status=CedulaInfo.Status.PENDING).count()
        rate = done / elapsed if done else 0.0
        result = {
            "completed": False,
            "seconds": elapsed,
            "rows": total,
            "rows_done": done,
            "estimate_seconds": total / rate if rate else float("inf"),
            "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "rss_at_start": rss_at_start,
        }
        with open(out, "w") as handle:
            json.dump(result, handle)
        # Stop mid-batch: the database rolls the open batch back, and the next run resets anyway.
        os._exit(0)

    if budget > 0:
        threading.Thread(target=watchdog, daemon=True).start()
    output = io.StringIO()
    call_command("cedula_revalidate", "--all", stdout=output, stderr=output)
    elapsed = time.monotonic() - started
    finished.set()
    queued = OrmQ.objects.count() if uses_django_q else None
    if queued is not None and queued != total:
        raise RuntimeError(f"{queued} jobs in Django-Q2's queue after re-validating {total} users")
    return {
        "completed": True,
        "seconds": elapsed,
        "rows": total,
        "rows_done": CedulaInfo.objects.filter(status=CedulaInfo.Status.PENDING).count(),
        "estimate_seconds": elapsed,
        "jobs_queued": queued,
        "output": output.getvalue().strip().splitlines()[0],
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "rss_at_start": rss_at_start,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        return child(argv[1:])
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--budget", type=float, help="seconds before a run is stopped; 0: run to the end")
    parser.add_argument("--repeats", type=int, help="runs of each variant (default 3; 1 with --quick)")
    options, rest = parser.parse_known_args(argv)
    return standalone(TITLE, lambda quick: run(quick, options.budget, options.repeats), rest)


if __name__ == "__main__":
    sys.exit(main())
