"""What a change of the Registraduría's pages costs: a 2-worker Django-Q2 cluster, health on and off.

    .venv/bin/python -m benchmarks.source_change [--quick]

A real ``python -m django qcluster`` (2 workers, ORM broker on PostgreSQL, Redis as the shared
cache that holds each source's health) runs ``WspHttpScraper`` (source ``wsp-http``) against the
local replica, with a solver that takes 1 s and gets its tokens from the replica (which counts
every solve of the cluster), ``CEDULA_RETRY_DELAYS = [5, 5, 5]`` (Django-Q2's scheduler starts a
delayed job at its next tick, about every 30 s), the token supply off and no rate limit: the
measurement of issue #21.

For each change the replica can make (``new_markup``: answers in a markup nobody reads;
``refuse_tokens``: every captcha token refused; ``form_shape``: a form page without what the
lookup needs), the fault is switched on, then N users register (one transaction each), and for
the first 60 s the benchmark counts the solves (the replica's), the lookups posted to wsp, the
rows that ended (a final status) and the attempts counted after the source went out of service
(a row's attempts: its ``retry_count``, plus one once it is final; an attempt counts as "while out
of service" when it is first seen in a poll that began after the moment the cluster took the source
out; those seen in the poll that spans that moment are kept apart). Twice, at the same time, each
on a database of its own: with source health on (``CEDULA_SOURCE_HEALTH["OUT_AFTER"] = 3``, the
default) and off (``OUT_AFTER = 0``, the package before health).

Both runs go on to 120 s: by then health off has spent every retry (four attempts a row, the
scheduler's ticks at about 30, 60 and 90 s), so the rows ended and the spend by 120 s show what a
change costs when nobody is told. Then, for ``new_markup``, in the health-on run, the fault is
cleared (the site is right again, or the package was upgraded to read it) and ``manage.py
cedula_sources --resume wsp-http`` runs as an operator would: the time from the command's start
until every row is final. ``--quick``: 6 registrations, 30 s, no extension.
"""

from __future__ import annotations

import collections
import concurrent.futures
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from .cluster import Cluster, cluster_overrides, register
from .common import (
    ROOT,
    Figure,
    child_parser,
    database,
    failed_figure,
    module_main,
    progress,
    project_environment,
    run_child,
    stop_on_sigterm,
    write_result,
)

TITLE = "A source that changed its pages: spend, rows and the drain after the resume"
WORKERS = 2
CHANGES = ("new_markup", "refuse_tokens", "form_shape")
WSP_HTTP = "django_cedula.scrapers.wsp_http.WspHttpScraper"
#: ``WspHttpScraper.source_name``: what health and ``cedula_sources`` call it.
SOURCE = "wsp-http"
#: Redis database of the shared cache (keys under a prefix of each run's own, deleted afterwards).
#: The Redis database of the shared cache (``tests/hostile/test_statuses.py`` flushes database 13).
REDIS_DB = int(os.environ.get("CEDULA_BENCH_CHANGE_REDIS_DB", "15"))
RETRY_DELAYS = [5, 5, 5]
SOLVE_SECONDS = 1.0
OUT_AFTER = 3
#: Seconds between two readings of the rows and of the source's health.
POLL = 0.25
#: Seconds the drain after the resume is waited for at the most (its goal is 120).
DRAIN_TIMEOUT = 300.0
#: The goals of issue #21.
LOOKUPS_GOAL = 3
SOLVES_GOAL = 8
DRAIN_GOAL = 120.0


def run(quick: bool) -> list[Figure]:
    users, window, horizon = (6, 30, 30) if quick else (12, 60, 120)
    figures: list[Figure] = []
    for change in CHANGES:
        benchmark = f"source change, {change}, {WORKERS} workers"
        drain = change == "new_markup"
        progress(
            f"{benchmark}: {users} registrations, health on and off side by side, {horizon} s"
            + (", then --resume and the drain" if drain else "")
        )
        try:
            on, off = _pair(change, users, window, horizon, drain=drain)
        except Exception as exc:
            figures.append(failed_figure(benchmark, exc))
            continue
        figures += change_figures(benchmark, change, users, window, on, off)
    return figures


def _pair(
    change: str, users: int, window: int, horizon: int, *, drain: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The health-on and health-off runs of ``change``, at the same time, each on its own database."""
    with (
        database("postgres", "bench_change_on") as on_env,
        database("postgres", "bench_change_off") as off_env,
        concurrent.futures.ThreadPoolExecutor(2) as pool,
    ):
        futures = []
        for health, env in (("on", on_env), ("off", off_env)):
            args = ["measure", "--change", change, "--health", health, "--users", str(users)]
            args += ["--window", str(window), "--horizon", str(horizon)]
            if drain and health == "on":
                args.append("--drain")
            environment = project_environment(env, CEDULA_BENCH_CONN_MAX_AGE="none")
            futures.append(pool.submit(run_child, "benchmarks.source_change", args, environment, timeout=900))
        on, off = (future.result() for future in futures)
    return on, off


def _ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}x" if reference else ""


def change_figures(
    benchmark: str, change: str, users: int, window: int, on: dict[str, Any], off: dict[str, Any]
) -> list[Figure]:
    """The rows of one change: health on, with health off beside it."""
    first, reference = on["window"], off["window"]
    form = change == "form_shape"
    out = on["out"]
    back = (on.get("horizon") or first)["back_after"]
    figures = [
        Figure(
            benchmark,
            f"solves in the first {window} s, {users} registrations",
            str(first["solves"]),
            f"health off: {reference['solves']}",
            _ratio(first["solves"], reference["solves"]),
            "0" if form else f"<= {SOLVES_GOAL}",
            first["solves"] == 0 if form else first["solves"] <= SOLVES_GOAL,
            {"on": on, "off": off},
        ),
        Figure(
            benchmark,
            "  lookups posted to wsp",
            str(first["lookups"]),
            f"health off: {reference['lookups']}; "
            f"form pages fetched: {first['pages']} (off: {reference['pages']})",
            _ratio(first["lookups"], reference["lookups"]),
            f"<= {LOOKUPS_GOAL}",
            first["lookups"] <= LOOKUPS_GOAL,
        ),
        Figure(
            benchmark,
            "  rows ended (final status)",
            str(first["ended"]),
            f"health off: {reference['ended']}",
            "",
            "0",
            first["ended"] == 0,
        ),
        Figure(
            benchmark,
            "  attempts counted while out of service",
            str(first["attempts_while_out"]) if out else "never out",
            f"in all: {first['attempts']} (at the change: {first['attempts_at_change']}); "
            f"health off: {reference['attempts']}",
            "",
            "0",
            bool(out) and first["attempts_while_out"] == 0,
        ),
        Figure(
            benchmark,
            "  out of service after",
            f"{out['after']:.1f} s" if out else "never",
            (
                f"sign: {out['reason']}; rows waiting at {window} s: {first['waiting']}/{users}"
                + (f"; BACK IN SERVICE at {back:.1f} s without a resume" if back is not None else "")
            )
            if out
            else "",
        ),
    ]
    late = on.get("horizon")
    if late is not None and late["at"] > first["at"] + 1:
        late_off = off["horizon"]
        figures += [
            Figure(
                benchmark,
                f"  by {late['at']:.0f} s: rows ended",
                f"{late['ended']} {_statuses(late)}",
                f"health off: {late_off['ended']} {_statuses(late_off)}",
                "",
                "0",
                late["ended"] == 0,
            ),
            Figure(
                benchmark,
                f"  by {late['at']:.0f} s: solves, lookups, form pages",
                f"{late['solves']}, {late['lookups']}, {late['pages']}",
                f"health off: {late_off['solves']}, {late_off['lookups']}, {late_off['pages']}",
                _ratio(late["solves"], late_off["solves"]) or _ratio(late["pages"], late_off["pages"]),
            ),
        ]
    drained = on.get("drain")
    if drained is not None:
        seconds = drained["seconds"]
        figures.append(
            Figure(
                benchmark,
                "  --resume -> every row final",
                f"{seconds:.1f} s" if seconds is not None else f"not within {DRAIN_TIMEOUT:.0f} s",
                f"{drained['waiting']} waiting, {drained['retrying']} retrying; then {_statuses(drained)}; "
                f"{drained['solves']} solves",
                "",
                f"< {DRAIN_GOAL:.0f} s",
                seconds is not None and seconds < DRAIN_GOAL and drained["final"] == users,
            )
        )
    return figures


def _statuses(snapshot: dict[str, Any]) -> str:
    return "(" + ", ".join(f"{status} {n}" for status, n in sorted(snapshot["statuses"].items())) + ")"


# -- The child process -----------------------------------------------------------------------------


def child(argv: list[str]) -> int:
    parser = child_parser()
    parser.add_argument("action", choices=["measure"])
    parser.add_argument("--change", choices=CHANGES, required=True)
    parser.add_argument("--health", choices=["on", "off"], required=True)
    parser.add_argument("--users", type=int, default=12)
    parser.add_argument("--window", type=float, default=60)
    parser.add_argument("--horizon", type=float, default=60)
    parser.add_argument("--drain", action="store_true")
    options = parser.parse_args(argv)
    stop_on_sigterm()
    result = measure(
        options.change,
        health_on=options.health == "on",
        users=options.users,
        window=options.window,
        horizon=max(options.horizon, options.window),
        drain=options.drain,
        log_dir=Path(options.out).parent,
    )
    return write_result(options.out, result)


def change_overrides(replica: Any, prefix: str, *, out_after: int) -> dict[str, Any]:
    """The workers' settings: the cluster benchmark's, with the HTTP scraper on the replica, the 1 s
    solver the replica counts, retries every 5 s, no token supply, and Redis (keys under ``prefix``)
    as the cache of the throttle and of the sources' health."""
    return {
        **cluster_overrides(replica, workers=WORKERS),
        "CEDULA_SOURCES": [{**replica.source("wsp"), "BACKEND": WSP_HTTP}],
        "CEDULA_CAPTCHA_SOLVER": replica.solver_settings(delay=SOLVE_SECONDS),
        "CEDULA_TOKEN_SUPPLY": {"ENABLED": False},
        "CEDULA_RETRY_DELAYS": RETRY_DELAYS,
        "CEDULA_SOURCE_HEALTH": {"OUT_AFTER": out_after},
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:6379/{REDIS_DB}",
                "KEY_PREFIX": prefix,
            }
        },
    }


class Watch:
    """Reads the rows of ``ids`` and the source's health every :data:`POLL` seconds: the attempts
    counted (and when they were first seen), when the source went out of service and whether it
    came back on its own. Raises when the run's keys vanished from Redis (see :func:`_sentinel`)."""

    def __init__(self, replica: Any, ids: list[int], started: float, *, health_on: bool, prefix: str) -> None:
        self.replica = replica
        self.ids = ids
        self.started = started
        self.health_on = health_on
        self.prefix = prefix
        self.attempts: dict[int, int] = {}
        self.read_at = started
        self.out_since: float | None = None
        #: When a poll first found the source in service again (only an operator should do that here).
        self.back_at: float | None = None
        self.reason = ""
        self.while_out = 0
        self.at_change = 0
        self.rows: list[tuple[Any, ...]] = []

    def poll(self) -> None:
        from django_cedula import health
        from django_cedula.models import FINAL_STATUSES, CedulaInfo

        began = self.read_at
        self.read_at = time.time()
        _check_sentinel(self.prefix)
        if self.health_on and self.back_at is None:
            state = health.state(SOURCE)
            if self.out_since is None and not state.in_service:
                self.out_since, self.reason = state.since, state.reason
            elif self.out_since is not None and state.in_service:
                self.back_at = self.read_at
        self.rows = list(
            CedulaInfo.objects.filter(user_id__in=self.ids).values_list(
                "user_id", "status", "retry_count", "error_code", "updated_at"
            )
        )
        for user_id, status, retries, _code, _updated in self.rows:
            attempts = retries + (1 if status in FINAL_STATUSES else 0)
            added = attempts - self.attempts.get(user_id, 0)
            self.attempts[user_id] = attempts
            if added <= 0 or self.out_since is None or (self.back_at is not None and began >= self.back_at):
                continue
            if began >= self.out_since:
                self.while_out += added
            elif self.read_at >= self.out_since:
                self.at_change += added

    def until(self, deadline: float, cluster: Cluster) -> None:
        while time.time() < deadline:
            if cluster.process is not None and cluster.process.poll() is not None:
                raise RuntimeError(f"qcluster exited:\n{cluster.log()[-2000:]}")
            self.poll()
            time.sleep(POLL)
        self.poll()

    def snapshot(self) -> dict[str, Any]:
        from django_cedula.models import FINAL_STATUSES, SOURCE_OUT_OF_SERVICE, CedulaStatus

        statuses = collections.Counter(str(status) for _, status, *_ in self.rows)
        lookups = self.replica.lookups(source="wsp")
        return {
            "at": self.read_at - self.started,
            "solves": self.replica.solves(),
            "lookups": len(lookups),
            "answers": dict(collections.Counter(str(record.answer) for record in lookups)),
            "pages": len(self.replica.requests(source="wsp", kind="page")),
            "ended": sum(1 for _, status, *_ in self.rows if status in FINAL_STATUSES),
            "statuses": dict(statuses),
            "waiting": sum(1 for row in self.rows if row[3] == SOURCE_OUT_OF_SERVICE),
            "retrying": sum(
                1 for row in self.rows if row[1] == CedulaStatus.RETRYING and row[3] != SOURCE_OUT_OF_SERVICE
            ),
            "attempts": sum(self.attempts.values()),
            "attempts_while_out": self.while_out,
            "attempts_at_change": self.at_change,
            "counted_solves": _counted_solves(),
            "back_after": None if self.back_at is None else self.back_at - self.started,
            "last_final": max(
                (row[4].timestamp() - self.started for row in self.rows if row[1] in FINAL_STATUSES),
                default=None,
            ),
        }


def _redis() -> Any:
    import redis

    return redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)


def _sentinel(prefix: str) -> str:
    """A key of the run's own beside the cluster's: the health state lives in a Redis database
    others may share, and a ``cache.clear()`` there (``FLUSHDB``: a test's fixture) would put the
    source back in service behind the benchmark's back. Its absence voids the run."""
    return f"{prefix}:sentinel"


def _check_sentinel(prefix: str) -> None:
    if not _redis().exists(_sentinel(prefix)):
        raise RuntimeError(
            f"Redis database {REDIS_DB} lost this run's keys (flushed by another process?): "
            "the sources' health went with them, so the figures would be void"
        )


def _counted_solves() -> int:
    """Solves the workers counted (``CaptchaSpend``): the package's own account of its spend."""
    from django.db.models import Sum

    from django_cedula.models import CaptchaSpend

    return int(CaptchaSpend.objects.aggregate(total=Sum("requested"))["total"] or 0)


def measure(
    change: str, *, health_on: bool, users: int, window: float, horizon: float, drain: bool, log_dir: Path
) -> dict[str, Any]:
    """One run: the fault on, ``users`` registrations, readings until ``window`` and ``horizon``
    seconds, then (``drain``) the resume and the drain."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import override_settings

    from django_cedula import health
    from django_cedula.testing.replica import Replica

    call_command("migrate", verbosity=0)
    prefix = f"bench-change-{uuid.uuid4().hex}"
    replica = Replica().start()
    overrides = change_overrides(replica, prefix, out_after=OUT_AFTER if health_on else 0)
    cluster = Cluster(overrides, log_dir / "qcluster.log")
    # This process reads the sources' health from the cluster's cache, with the cluster's settings.
    driver = override_settings(**{k: v for k, v in overrides.items() if k not in ("Q_CLUSTER", "LOGGING")})
    driver.enable()
    result: dict[str, Any] = {"change": change, "health": health_on, "users": users, "workers": WORKERS}
    try:
        _redis().set(_sentinel(prefix), 1)
        cluster.start()
        replica.set_fault(change)
        started = time.time()
        watch = Watch(replica, register(users), started, health_on=health_on, prefix=prefix)
        watch.until(started + window, cluster)
        result["window"] = watch.snapshot()
        if horizon > window:
            watch.until(started + horizon, cluster)
            result["horizon"] = watch.snapshot()
        result["out"] = (
            {"after": watch.out_since - started, "reason": watch.reason}
            if watch.out_since is not None
            else None
        )
        if health_on:
            result["state"] = health.state(SOURCE).as_dict()
        if drain:
            result["drain"] = _drain(replica, watch, cluster, overrides)
        result["log_errors"] = [line for line in cluster.log().splitlines() if "Traceback" in line][:5]
    finally:
        driver.disable()
        cluster.stop()
        replica.stop()
        _delete_keys(prefix)
    return result


def _drain(replica: Any, watch: Watch, cluster: Cluster, overrides: dict[str, Any]) -> dict[str, Any]:
    """Clear the fault, run ``cedula_sources --resume`` as an operator would, and wait until every
    row is final: the seconds from the command's start to the last row's final write."""
    from django_cedula.models import FINAL_STATUSES

    before = watch.snapshot()
    replica.clear_faults()
    env = dict(os.environ, CEDULA_BENCH_SETTINGS=json.dumps(overrides))
    env.pop("CEDULA_BENCH_CONN_MAX_AGE", None)
    resumed = time.time()
    command = subprocess.run(
        [sys.executable, "-m", "django", "cedula_sources", "--resume", SOURCE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    command_seconds = time.time() - resumed
    deadline = resumed + DRAIN_TIMEOUT
    while True:
        watch.poll()
        done = all(row[1] in FINAL_STATUSES for row in watch.rows)
        if done or time.time() > deadline:
            break
        if cluster.process is not None and cluster.process.poll() is not None:
            raise RuntimeError(f"qcluster exited:\n{cluster.log()[-2000:]}")
        time.sleep(POLL)
    after = watch.snapshot()
    last = max(row[4] for row in watch.rows).timestamp()
    return {
        "command": {
            "returncode": command.returncode,
            "seconds": command_seconds,
            "output": command.stdout.strip(),
            "errors": command.stderr[-2000:] if command.returncode else "",
        },
        "seconds": last - resumed if done else None,
        "waiting": before["waiting"],
        "retrying": before["retrying"],
        "final": after["ended"],
        "statuses": after["statuses"],
        "solves": after["solves"] - before["solves"],
        "lookups": after["lookups"] - before["lookups"],
    }


def _delete_keys(prefix: str) -> None:
    """Delete the run's keys (health, throttle) from the shared Redis database: only its own."""
    client = _redis()
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


def main(argv: list[str] | None = None) -> int:
    return module_main(TITLE, run, child, argv)


if __name__ == "__main__":
    sys.exit(main())
