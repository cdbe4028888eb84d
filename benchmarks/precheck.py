"""The free vigencia pre-check on a registration mix: solves saved, and what its failures cost.

    .venv/bin/python -m benchmarks.precheck [--quick] [--json PATH]

A real ``python -m django qcluster`` (2 workers, Django-Q2's ORM broker on PostgreSQL, Redis
``127.0.0.1:6379/10`` as the shared cache under a key prefix of each scenario's own) validates with
``WspHttpScraper`` against the local replica, no rate limit and no pause between a worker's lookups
(as ``benchmarks.cluster``). The captcha solver is the replica's stand-in at a short, fixed latency
(1 s a solve), counted by the replica (``replica.solves()``), with the token supply off: each census
lookup solves for itself, so that solves are the census lookups and nothing else (the supply's
stock is a figure of its own, ``benchmarks.captcha``).

Each scenario runs in a process of its own, on a database of its own, with a fresh replica and
cluster: a warm-up (``2 x workers`` registrations of found numbers, their solves counted with the
scenario's), then N registrations (100; ``--quick``: 20) at once, one transaction each, in a seeded
order, of the mix the issue names: 85 % found (distinct numbers outside the outcome table), 8 %
alive but not in the census (1000000090), 5 % numbers that do not exist (1000000091) and 2 %
deceased (1000000092). Several users share those three numbers: ``CedulaInfo.cedula`` is not unique,
and each user's validation asks for itself.

1. ``off``: no pre-check (``CEDULA_PRECHECK`` unset), the reference;
2. ``on``: ``replica.precheck_settings()`` with the package's defaults but its pace (timeout 3 s,
   pause 60 s after a 429, ``rate=None``: the census lookups run unpaced here, and with the package's
   default census pace, one lookup every 5 s, the pre-check's one a second never binds; paced at one
   a second against an unpaced census, the pre-check would be the benchmark's bottleneck);
3. ``down``: the same, the service resetting every connection (fault ``vigencia_reset``);
4. ``slow``: the same, the service answering after 10 s, beyond the pre-check's 3 s timeout
   (``vigencia_slow``);
5. ``paused``: the same, the service answering HTTP 429 (``vigencia_429``): the pre-check pauses
   60 s for the whole cluster, and asks again once the pause is over.

The fault is switched on after the warm-up. Figures: solves per final validation (warm-up
included in both counts); registration to final state of the numbers that do not exist and of the
deceased, with the queue's pick-up (registration's commit to the job's claim of the row, read by
polling the rows every 0.05 s) and the job's own time (claim to final); throughput (N over the time
from the first registration to the last final row) and p50 registration to final, each scenario
against ``off``; and the p50 of a job's own time (claim to final), which leaves the queue out: what
the pre-check adds to each validation.
"""

from __future__ import annotations

import random
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from .cluster import Cluster, cluster_overrides, wait_final
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

TITLE = "Vigencia pre-check (2 workers, WspHttpScraper, solves 1 s, no rate limit)"
WORKERS = 2
#: The scenarios in the order they run: the pre-check on or off, and the vigencia fault switched on
#: for the batch.
SCENARIOS: dict[str, tuple[bool, str | None]] = {
    "off": (False, None),
    "on": (True, None),
    "down": (True, "vigencia_reset"),
    "slow": (True, "vigencia_slow"),
    "paused": (True, "vigencia_429"),
}
WHAT = {
    "down": "down (connection reset)",
    "slow": "slow (10 s, timeout 3 s)",
    "paused": "paused (HTTP 429)",
}
#: The pre-check's options: the package's defaults but its pace (see the module's docstring).
PRECHECK_OPTIONS: dict[str, Any] = {"timeout": 3, "pause_after_429": 60, "rate": None}
#: Seconds the ``slow`` service takes to answer (beyond the timeout).
SLOW_SECONDS = 10.0
SOLVE_SECONDS = 1.0
WSP_HTTP = "django_cedula.scrapers.wsp_http.WspHttpScraper"
#: Redis database of the shared cache (keys under a prefix of the scenario's own).
REDIS_DB = 10
#: Numbers the replica answers found with a derived place (outside its outcome table).
FIRST_FOUND = 70_000_000
ALIVE_NOT_IN_CENSUS = "1000000090"
NONEXISTENT = "1000000091"
DECEASED = "1000000092"
#: The mix: share of the registrations, and the number each gets (``None``: a distinct found one).
MIX: list[tuple[str, float, str | None]] = [
    ("alive, not in the census", 0.08, ALIVE_NOT_IN_CENSUS),
    ("does not exist", 0.05, NONEXISTENT),
    ("deceased", 0.02, DECEASED),
]
SEED = 22
#: Seconds between two looks at the rows still waiting for their job.
CLAIM_POLL = 0.05
#: Goals of issue #22.
SOLVES_GOAL = 0.95
FINAL_GOAL = 2.0  # seconds from the claim of the row to its final state (plus the queue's pick-up)
WITHIN = 0.05


def run(quick: bool) -> list[Figure]:
    users = 20 if quick else 100
    benchmark = f"precheck, {WORKERS} workers, PostgreSQL"
    results: dict[str, dict[str, Any]] = {}
    try:
        for name in SCENARIOS:
            progress(f"{benchmark}: scenario {name}, {users} registrations")
            with database("postgres", f"bench_precheck_{name}") as database_env:
                results[name] = run_child(
                    "benchmarks.precheck",
                    ["measure", "--scenario", name, "--users", str(users)],
                    project_environment(database_env, CEDULA_BENCH_CONN_MAX_AGE="none"),
                    timeout=1200,
                )
    except Exception as exc:
        return [failed_figure(benchmark, exc)]
    return figures(benchmark, users, results)


def figures(benchmark: str, users: int, results: dict[str, dict[str, Any]]) -> list[Figure]:
    off, on = results["off"], results["on"]
    rows = [
        Figure(
            benchmark,
            f"solves per final validation, pre-check on, mix of {users}",
            f"{on['solves_per_final']:.3f} ({on['solves']}/{on['finals']})",
            f"off: {off['solves_per_final']:.3f} ({off['solves']}/{off['finals']})",
            f"{on['solves_per_final'] / off['solves_per_final']:.2f}x",
            f"<= {SOLVES_GOAL}",
            on["solves_per_final"] <= SOLVES_GOAL,
            results,
        )
    ]
    ended = on["ended_by_precheck"]
    met = ended["count"] == ended["expected"] and ended["census_lookups"] == 0
    met = met and ended["claim_to_final_max"] <= FINAL_GOAL
    rows.append(
        Figure(
            benchmark,
            f"  does not exist + deceased ({ended['expected']}): job's time (claim -> final), max",
            f"{_job_time(ended['claim_to_final_max'])}; {ended['census_lookups']} census lookups",
            f"off: {off['ended_by_precheck']['claim_to_final_max']:.2f} s, "
            f"{off['ended_by_precheck']['census_lookups']} lookups",
            "",
            f"<= {FINAL_GOAL:g} s + pick-up, 0 solves",
            met,
        )
    )
    rows.append(
        Figure(
            benchmark,
            "  same rows, registration -> final, p50 / max",
            f"{ended['seconds_p50']:.2f} / {ended['seconds_max']:.2f} s",
            f"their pick-up p50 / max: {ended['pickup_p50']:.2f} / {ended['pickup_max']:.2f} s",
        )
    )
    for name in ["on", *WHAT]:
        result = results[name]
        label = WHAT.get(name, "on, service healthy")
        rate_ratio = result["per_minute"] / off["per_minute"]
        p50_ratio = result["p50_seconds"] / off["p50_seconds"]
        goal = name in WHAT
        rows.append(
            Figure(
                benchmark,
                f"throughput, pre-check {label}",
                f"{result['per_minute']:.1f}/min",
                f"off: {off['per_minute']:.1f}/min",
                f"{rate_ratio:.2f}x",
                f">= {1 - WITHIN:.2f}x" if goal else "",
                rate_ratio >= 1 - WITHIN if goal else None,
            )
        )
        rows.append(
            Figure(
                benchmark,
                f"  p50 registration -> final, {label}",
                f"{result['p50_seconds']:.1f} s",
                f"off: {off['p50_seconds']:.1f} s",
                f"{p50_ratio:.2f}x",
                f"<= {1 + WITHIN:.2f}x" if goal else "",
                p50_ratio <= 1 + WITHIN if goal else None,
            )
        )
        if "job_p50_seconds" in result:  # a job's own time, the queue's wait left out
            rows.append(
                Figure(
                    benchmark,
                    f"  p50 job's time (claim -> final), {label}",
                    f"{result['job_p50_seconds']:.2f} s",
                    f"off: {off['job_p50_seconds']:.2f} s",
                    f"{result['job_p50_seconds'] - off['job_p50_seconds']:+.2f} s",
                )
            )
    for name in WHAT:
        result = results[name]
        rows.append(
            Figure(
                benchmark,
                f"  pre-check requests, {WHAT[name]}",
                f"{result['vigencia_requests']} for {users} + {2 * WORKERS} warm-up validations",
                f"answers: {', '.join(f'{k} {v}' for k, v in sorted(result['vigencia_answers'].items()))}",
            )
        )
    return rows


def _job_time(seconds: float) -> str:
    """A job's time from its claim to its final row: under one look at the rows, the claim was not
    seen (the row went from pending to final between two looks)."""
    return f"< {CLAIM_POLL:g} s" if seconds < CLAIM_POLL else f"{seconds:.2f} s"


# -- The child process: one scenario -----------------------------------------------------------------


def child(argv: list[str]) -> int:
    parser = child_parser()
    parser.add_argument("action", choices=["measure"])
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), required=True)
    parser.add_argument("--users", type=int, default=100)
    options = parser.parse_args(argv)
    stop_on_sigterm()
    return write_result(options.out, measure(options.scenario, options.users, Path(options.out).parent))


def mix(users: int) -> list[str]:
    """The numbers of ``users`` registrations, in a seeded order: each special kind its share
    (at least one), the rest distinct found numbers."""
    numbers: list[str] = []
    for _, share, number in MIX:
        assert number is not None
        numbers += [number] * max(1, round(users * share))
    numbers += [str(FIRST_FOUND + index) for index in range(users - len(numbers))]
    random.Random(SEED).shuffle(numbers)
    return numbers


def overrides(replica: Any, scenario: str, prefix: str) -> dict[str, Any]:
    """The workers' settings: the cluster benchmark's, the HTTP scraper, the counted solver, the
    shared cache and, but for ``off``, the pre-check."""
    precheck, _ = SCENARIOS[scenario]
    return {
        **cluster_overrides(replica, workers=WORKERS),
        "CEDULA_SOURCES": [{"BACKEND": WSP_HTTP, "OPTIONS": {"url": replica.wsp_url}}],
        "CEDULA_CAPTCHA_SOLVER": replica.solver_settings(delay=SOLVE_SECONDS),
        "CEDULA_TOKEN_SUPPLY": {"ENABLED": False},
        "CEDULA_PRECHECK": replica.precheck_settings(**PRECHECK_OPTIONS) if precheck else None,
        "CEDULA_RETRY_DELAYS": [],
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:6379/{REDIS_DB}",
                "KEY_PREFIX": prefix,
            }
        },
    }


def measure(scenario: str, users: int, log_dir: Path) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command

    from django_cedula.testing.replica import Replica

    call_command("migrate", verbosity=0)
    prefix = f"bench-precheck-{uuid.uuid4().hex[:12]}"
    replica = Replica(slow_seconds=SLOW_SECONDS).start()
    cluster = Cluster(overrides(replica, scenario, prefix), log_dir / "qcluster.log")
    try:
        cluster.start()
        warm_up = [str(FIRST_FOUND - 1 - index) for index in range(2 * WORKERS)]
        warm = Registrations()
        wait_final(warm.register(warm_up), timeout=120, cluster=cluster)
        fault = SCENARIOS[scenario][1]
        if fault is not None:
            replica.set_fault(fault)
        numbers = mix(users)
        batch = Registrations()
        ids = batch.register(numbers, watch=True)
        statuses = wait_final(ids, timeout=600, cluster=cluster)
        batch.stop()
        result = read(batch, numbers, statuses, replica, users + len(warm_up))
        errors = replica.errors
    finally:
        cluster.stop()
        replica.stop()
        _delete_keys(prefix)
    log = cluster.log()
    leaked = [number for number in {*numbers, *warm_up} if number in log]
    return {
        "scenario": scenario,
        **result,
        "replica_errors": len(errors),
        "full_numbers_in_log": len(leaked),
    }


class Registrations:
    """Registers users one transaction each and notes when each committed and when its job claimed
    the row (left ``pending``): Django-Q2 records no pick-up time, so a thread polls the rows."""

    def __init__(self) -> None:
        self.committed: dict[int, float] = {}
        self.claimed: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self, numbers: list[str], *, watch: bool = False) -> list[int]:
        from django.contrib.auth import get_user_model
        from django.db import transaction

        user_model = get_user_model()
        if watch:
            self._thread = threading.Thread(target=self._watch, name="claims", daemon=True)
            self._thread.start()
        ids = []
        for number in numbers:
            with transaction.atomic():
                user = user_model.objects.create(
                    username=f"u{uuid.uuid4().hex[:16]}", password="!", cedula=number
                )
            with self._lock:
                self.committed[user.pk] = time.time()
            ids.append(user.pk)
        return ids

    def _watch(self) -> None:
        from django.db import connection

        from django_cedula.models import CedulaInfo

        try:
            while not self._stop.is_set():
                with self._lock:
                    waiting = set(self.committed) - set(self.claimed)
                if waiting:
                    left = CedulaInfo.objects.filter(user_id__in=waiting).exclude(
                        status=CedulaInfo.Status.PENDING
                    )
                    now = time.time()
                    seen = list(left.values_list("user_id", flat=True))
                    with self._lock:
                        self.claimed.update(dict.fromkeys(seen, now))
                time.sleep(CLAIM_POLL)
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def read(
    batch: Registrations, numbers: list[str], statuses: dict[str, int], replica: Any, finals: int
) -> dict[str, Any]:
    """What the scenario measured: solves, times, and what the replica was asked."""
    from django_cedula.models import CedulaInfo

    rows = list(
        CedulaInfo.objects.filter(user_id__in=batch.committed).values(
            "user_id", "cedula", "status", "vigencia", "source", "retry_count", "updated_at"
        )
    )
    first = min(batch.committed.values())
    seconds, jobs, ended = [], [], []
    for row in rows:
        final_at = row["updated_at"].timestamp()
        committed = batch.committed[row["user_id"]]
        # A job quicker than one look at the rows is seen claimed only once final: no later than that.
        claimed = min(batch.claimed.get(row["user_id"], final_at), final_at)
        seconds.append(final_at - committed)
        jobs.append(final_at - claimed)
        if row["cedula"] in (NONEXISTENT, DECEASED):
            ended.append((final_at - committed, claimed - committed, final_at - claimed, row))
    last = max(row["updated_at"].timestamp() for row in rows)
    solves = replica.solves()
    census = replica.lookups(source="wsp")
    asked = replica.requests(source="vigencia", method="POST")
    answers: dict[str, int] = {}
    for record in asked:
        key = str(getattr(record.answer, "value", record.answer))
        answers[key] = answers.get(key, 0) + 1
    special = {NONEXISTENT, DECEASED}
    return {
        "users": len(numbers),
        "statuses": statuses,
        "vigencias": _count(row["vigencia"] or "-" for row in rows),
        "sources": _count(row["source"] for row in rows),
        "max_retry_count": max(row["retry_count"] for row in rows),
        "solves": solves,
        "finals": finals,
        "solves_per_final": solves / finals,
        "census_lookups": len(census),
        "batch_seconds": last - first,
        "per_minute": len(rows) / (last - first) * 60,
        "p50_seconds": median(seconds),
        "max_seconds": max(seconds),
        "job_p50_seconds": median(jobs),
        "ended_by_precheck": {
            "expected": sum(1 for number in numbers if number in special),
            "count": sum(1 for *_, row in ended if row["source"] == "vigencia"),
            "census_lookups": sum(1 for record in census if record.cedula in special),
            "seconds_p50": median([item[0] for item in ended]),
            "seconds_max": max(item[0] for item in ended),
            "pickup_p50": median([item[1] for item in ended]),
            "pickup_max": max(item[1] for item in ended),
            "claim_to_final_max": max(item[2] for item in ended),
            "claim_to_final_p50": median([item[2] for item in ended]),
        },
        "vigencia_requests": len(asked),
        "vigencia_answers": answers,
    }


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return counts


def _delete_keys(prefix: str) -> None:
    """Delete the scenario's keys from the shared Redis database: only those under its own prefix."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


def main(argv: list[str] | None = None) -> int:
    return module_main(TITLE, run, child, argv)


if __name__ == "__main__":
    sys.exit(main())
