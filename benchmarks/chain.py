"""The fallback chain while its first source blocks: a 2-worker Django-Q2 cluster on the replica.

    .venv/bin/python -m benchmarks.chain [--quick]

A real ``python -m django qcluster`` (2 workers, ORM broker on PostgreSQL, Redis as the shared
cache that holds the per-source pause) runs ``CEDULA_SOURCES`` = [WspScraper, ConsultaCensoScraper]
with headless Chromium against the local replica, no rate limit and no pause between a worker's
lookups. After a warm-up (each worker's browser launched), two batches of registrations, one
transaction each, as a site would:

1. healthy: both sources answer, so every validation goes to the first (wsp);
2. blocked: the replica answers wsp with its block page (fault ``block_wsp``) for the whole batch.

For the blocked batch: how many validations end final and through which source, how many requests
reached wsp after its pause began (goal 0; the pause begins when the first block is answered, plus
one second for the worker to read it and write the pause to the cache; requests a worker had
already sent are not during the pause), and the time from registration to the final row, against
the healthy batch's.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path
from typing import Any

from .cluster import Cluster, cluster_overrides, register, wait_final
from .common import (
    Figure,
    child_parser,
    database,
    failed_figure,
    median,
    module_main,
    progress,
    project_environment,
    run_child,
    stop_on_sigterm,
    write_result,
)

TITLE = "Fallback chain with its first source blocked"
WORKERS = 2
#: Seconds the blocked source is paused for (longer than any batch).
COOLDOWN = 600
#: Seconds after the first block answer by which its worker has written the pause to the cache.
REPORT_GRACE = 1.0
#: Redis database of the shared cache (keys under a prefix of the run's own).
REDIS_DB = 9


def run(quick: bool) -> list[Figure]:
    users = 10 if quick else 50
    benchmark = f"chain, {WORKERS} workers, PostgreSQL"
    try:
        progress(f"{benchmark}: {users} validations healthy, then {users} with wsp blocked")
        with database("postgres", "bench_chain") as database_env:
            result = run_child(
                "benchmarks.chain",
                ["measure", "--users", str(users)],
                project_environment(database_env, CEDULA_BENCH_CONN_MAX_AGE="none"),
                timeout=3600,
            )
    except Exception as exc:
        return [failed_figure(benchmark, exc)]
    healthy, blocked = result["healthy"], result["blocked"]
    final = blocked["final"]
    through = blocked["sources"].get("consultacenso", 0)
    return [
        Figure(
            benchmark,
            f"final, {users} validations, wsp blocked",
            f"{final}/{users}",
            f"through consultacenso: {through}",
            "",
            f"{users}/{users}",
            final == users,
            result,
        ),
        Figure(
            benchmark,
            "  requests to wsp during its pause",
            str(blocked["wsp_during_pause"]),
            f"before it: {blocked['wsp_before_pause']} (the lookups that met the block)",
            "",
            "0",
            blocked["wsp_during_pause"] == 0,
        ),
        Figure(
            benchmark,
            "  time to final, median",
            f"{blocked['median_seconds']:.1f} s",
            f"healthy, through wsp: {healthy['median_seconds']:.1f} s",
            f"{blocked['median_seconds'] / healthy['median_seconds']:.2f}x",
        ),
        Figure(
            benchmark,
            "  time to final, slowest",
            f"{blocked['max_seconds']:.1f} s",
            f"healthy: {healthy['max_seconds']:.1f} s",
            f"{blocked['max_seconds'] / healthy['max_seconds']:.2f}x",
        ),
        Figure(
            benchmark,
            "  whole batch",
            f"{blocked['batch_seconds']:.1f} s",
            f"healthy: {healthy['batch_seconds']:.1f} s",
            f"{blocked['batch_seconds'] / healthy['batch_seconds']:.2f}x",
        ),
    ]


# -- The child process -----------------------------------------------------------------------------


def child(argv: list[str]) -> int:
    parser = child_parser()
    parser.add_argument("action", choices=["measure"])
    parser.add_argument("--users", type=int, default=50)
    options = parser.parse_args(argv)
    stop_on_sigterm()
    return write_result(options.out, measure(options.users, Path(options.out).parent))


def chain_overrides(replica: Any, prefix: str) -> dict[str, Any]:
    """The cluster benchmark's worker settings, with the chain [wsp, consultacenso] and Redis as the
    cache of the per-source pause (keys under ``prefix``)."""
    return {
        **cluster_overrides(replica, workers=WORKERS),
        **replica.chain_settings(),
        "CEDULA_BLOCK_COOLDOWN": COOLDOWN,
        "CEDULA_RETRY_DELAYS": [],
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:6379/{REDIS_DB}",
                "KEY_PREFIX": prefix,
            }
        },
    }


def measure(users: int, log_dir: Path) -> dict[str, Any]:
    """Warm the cluster up, then one healthy batch and one with wsp blocked; what each measured."""
    import django

    django.setup()
    from django.core.management import call_command

    from django_cedula.testing.replica import Replica

    call_command("migrate", verbosity=0)
    prefix = f"bench-chain-{uuid.uuid4().hex}"
    replica = Replica().start()
    cluster = Cluster(chain_overrides(replica, prefix), log_dir / "qcluster.log")
    try:
        cluster.start()
        wait_final(register(2 * WORKERS), timeout=180, cluster=cluster)
        healthy = batch(users, replica, cluster)
        replica.reset()
        replica.set_fault("block_wsp")
        blocked = batch(users, replica, cluster)
    finally:
        cluster.stop()
        replica.stop()
        _delete_keys(prefix)
    return {"users": users, "workers": WORKERS, "healthy": healthy, "blocked": blocked}


def batch(users: int, replica: Any, cluster: Cluster) -> dict[str, Any]:
    """Register ``users`` users and wait until every row is final; the times, sources and requests."""
    from django.db.models import Count

    from django_cedula.models import CedulaInfo

    started = time.time()
    ids = register(users)
    statuses = wait_final(ids, timeout=120 + users * 10, cluster=cluster)
    rows = CedulaInfo.objects.filter(user_id__in=ids)
    # From the row's creation (the registration) to its final state.
    seconds = [
        (updated - created).total_seconds()
        for created, updated in rows.values_list("created_at", "updated_at")
    ]
    sources = {row["source"]: row["n"] for row in rows.values("source").annotate(n=Count("id"))}
    # Final with an answer of the source (found, not found, cancelled), not out of retries.
    final = rows.filter(status__in=CedulaInfo.FINAL_STATUSES, fetched_at__isnull=False).count()
    to_wsp = replica.requests(source="wsp")
    blocks = [record.time for record in to_wsp if record.answer == "block"]
    pause_from = min(blocks) + REPORT_GRACE if blocks else None
    during = [record for record in to_wsp if pause_from is not None and record.time > pause_from]
    return {
        "statuses": statuses,
        "final": final,
        "sources": sources,
        "median_seconds": median(seconds),
        "max_seconds": max(seconds),
        "batch_seconds": _batch(rows, started),
        "wsp_requests": len(to_wsp),
        "wsp_blocks": len(blocks),
        "wsp_during_pause": len(during),
        "wsp_before_pause": len(to_wsp) - len(during),
        "censo_lookups": len(replica.lookups(source="censo")),
    }


def _delete_keys(prefix: str) -> None:
    """Delete the run's keys (the pause, the token supply) from the shared Redis database: only
    those under its own prefix."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


def _batch(rows: Any, started: float) -> float:
    """Seconds from the batch's first registration to its last final row."""
    from django.db.models import Max

    last = rows.aggregate(last=Max("updated_at"))["last"]
    return float(last.timestamp() - started)


def main(argv: list[str] | None = None) -> int:
    return module_main(TITLE, run, child, argv)


if __name__ == "__main__":
    sys.exit(main())
