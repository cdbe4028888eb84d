"""End-to-end throughput: a 2-worker Django-Q2 cluster validating registrations on the replica.

    .venv/bin/python -m benchmarks.cluster [--quick]

A real ``python -m django qcluster`` (2 workers, ORM broker on PostgreSQL) runs the real scraper
(``WspScraper`` with headless Chromium) against the local replica, with no rate limit and no pause
between a worker's lookups. Users are registered one transaction each, as a site would; the rate
is counted from the first registration to the moment the last row became final (its
``updated_at``). The cluster is warmed up first (each worker's browser launched): the figure is
the steady rate, not the first seconds after a deploy.

The rate is compared with one sequential lookup stream: the floor of the scraper benchmark (one
reused page doing nothing but the lookup, ``benchmarks.scraper.bare_lookup``) and the package's
own ``WspScraper`` in one process, both measured here, just before, on the same machine. To tell
how the cluster scales from what the machine allows, the same runs once with one worker, and the
CPU time the cluster's processes use per validation is set beside one lookup stream's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .common import (
    TAG_VAR,
    Figure,
    busy_fraction,
    child_parser,
    cpu_seconds,
    database,
    failed_figure,
    kill_stragglers,
    machine_cpu,
    median,
    module_main,
    progress,
    project_environment,
    run_child,
    stop_on_sigterm,
    tagged_processes,
    write_result,
)

TITLE = "Cluster throughput (validations per minute)"
WORKERS = 2
#: Numbers the replica answers "found" with a derived place (not in its outcome table).
FIRST_NUMBER = 60_000_000


def run(quick: bool) -> list[Figure]:
    users, batches, lookups = (30, 1, 20) if quick else (100, 3, 50)
    benchmark = f"cluster, {WORKERS} workers, PostgreSQL"
    try:
        progress(f"{benchmark}: one sequential lookup stream, {lookups} lookups (floor and WspScraper)")
        floor = run_child("benchmarks.cluster", ["floor", "--lookups", str(lookups)], floor_environment())
        runs = {}
        # Two workers, the figure asked for; then one, to see what the second one adds on this machine.
        for workers, count in ((WORKERS, batches), (1, 1)):
            progress(f"{benchmark}: {workers} worker(s), {count} batch(es) of {users} registrations")
            with database("postgres", "bench_cluster") as database_env:
                runs[workers] = run_child(
                    "benchmarks.cluster",
                    ["throughput", "--users", str(users), "--batches", str(count), "--workers", str(workers)],
                    driver_environment(database_env),
                    timeout=3600,
                )
    except Exception as exc:
        return [failed_figure(benchmark, exc)]

    def rate(workers: int) -> float:
        return median([batch["per_minute"] for batch in runs[workers]["batches"]])

    def per_validation(workers: int, key: str) -> float:
        return median([batch[key] / batch["users"] for batch in runs[workers]["batches"]])

    floor_rate = 60 / floor["floor_seconds"]
    package_rate = 60 / floor["package_seconds"]
    busy = median([batch["machine_busy"] for batch in runs[WORKERS]["batches"]])
    return [
        Figure(
            benchmark,
            f"validations/min, {users} registrations",
            f"{rate(WORKERS):.0f}/min",
            f"floor: 1 stream, {floor['floor_seconds'] * 1000:.0f} ms/lookup = {floor_rate:.0f}/min",
            f"{rate(WORKERS) / floor_rate:.2f}x",
            "none set",
            None,
            {"floor": floor, "cluster": runs},
        ),
        Figure(
            benchmark,
            "  same rate",
            f"{rate(WORKERS):.0f}/min",
            f"WspScraper: 1 stream, {floor['package_seconds'] * 1000:.0f} ms = {package_rate:.0f}/min",
            f"{rate(WORKERS) / package_rate:.2f}x",
        ),
        Figure(
            benchmark,
            "  1 worker instead",
            f"{rate(1):.0f}/min",
            f"{WORKERS} workers: {rate(WORKERS):.0f}/min",
            f"{rate(WORKERS) / rate(1):.2f}x for 2",
        ),
        Figure(
            benchmark,
            "  CPU per validation, cluster tree",
            f"{per_validation(WORKERS, 'cluster_cpu') * 1000:.0f} ms",
            f"WspScraper stream: {floor['package_cpu_per_lookup'] * 1000:.0f} ms; machine {busy:.0%} busy",
            f"{per_validation(WORKERS, 'cluster_cpu') / floor['package_cpu_per_lookup']:.2f}x",
        ),
    ]


def floor_environment() -> dict[str, str]:
    """The floor runs the scraper benchmark's own configuration (``settings.configure``)."""
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def driver_environment(database_env: dict[str, str]) -> dict[str, str]:
    """The process that registers users and reads rows: a persistent connection keeps it light on
    the cores the cluster needs. (The cluster itself runs with Django's default.)"""
    return project_environment(database_env, CEDULA_BENCH_CONN_MAX_AGE="none")


# -- Driving a cluster (shared with benchmarks.memory) ---------------------------------------------------


class Cluster:
    """``python -m django qcluster`` in its own session, with settings overrides and a log file."""

    def __init__(self, overrides: dict[str, Any], log_path: Path) -> None:
        self.overrides = overrides
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60) -> Cluster:
        env = dict(os.environ)
        env["CEDULA_BENCH_SETTINGS"] = json.dumps(self.overrides)
        env.pop("CEDULA_BENCH_CONN_MAX_AGE", None)  # the driver's, not the cluster's
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "django", "qcluster"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so that stop() can take it all
            )
        deadline = time.monotonic() + timeout
        while " running." not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"qcluster did not start:\n{self.log()[-2000:]}")
            time.sleep(0.2)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM (Django-Q2 stops its workers, which close their browsers), then SIGKILL the group."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # anything of its group that outlived it


def cluster_overrides(replica: Any, *, workers: int, recycle: int | None = None) -> dict[str, Any]:
    """The settings of the worker processes: the replica, the real scraper, no politeness limits."""
    from django.conf import settings

    q_cluster = {**settings.Q_CLUSTER, "workers": workers, "log_level": "INFO"}
    if recycle is not None:
        q_cluster["recycle"] = recycle
    return {
        **replica.django_settings(),
        "Q_CLUSTER": q_cluster,
        "CEDULA_RATE_LIMIT": None,
        "CEDULA_MIN_LOOKUP_INTERVAL": 0,
        "LOGGING": {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {"console": {"class": "logging.StreamHandler"}},
            "loggers": {"django_cedula": {"handlers": ["console"], "level": "INFO"}},
        },
    }


_serial = itertools.count()


def register(count: int) -> list[int]:
    """Create ``count`` users, each in its own transaction; their jobs are queued as each commits."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    user_model = get_user_model()
    ids = []
    for _ in range(count):
        index = next(_serial)
        with transaction.atomic():
            user = user_model.objects.create(
                username=f"bench{index}", password="!", cedula=str(FIRST_NUMBER + index)
            )
        ids.append(user.pk)
    return ids


def wait_final(ids: list[int], timeout: float, cluster: Cluster) -> dict[str, int]:
    """Wait until every one of ``ids`` has a final row; returns how many ended in each status."""
    from django.db.models import Count

    from django_cedula.models import FINAL_STATUSES, CedulaInfo

    rows = CedulaInfo.objects.filter(user_id__gte=min(ids), user_id__lte=max(ids))
    deadline = time.monotonic() + timeout
    while rows.filter(status__in=FINAL_STATUSES).count() < len(ids):
        if cluster.process is not None and cluster.process.poll() is not None:
            raise RuntimeError(f"qcluster exited:\n{cluster.log()[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"rows still not final after {timeout:.0f} s:\n{cluster.log()[-2000:]}")
        time.sleep(0.2)
    return {row["status"]: row["n"] for row in rows.values("status").annotate(n=Count("id"))}


@contextlib.contextmanager
def running_cluster(
    workers: int,
    log_dir: Path,
    *,
    recycle: int | None = None,
    extra: dict[str, Any] | Callable[[Any], dict[str, Any]] | None = None,
) -> Iterator[Cluster]:
    """A replica in this process and a qcluster pointed at it; both stopped on the way out, and any
    process of ours still alive afterwards (a browser a worker left) is reported and killed.
    ``extra``: more settings of the workers, or a function of the replica that gives them (another
    source at the replica's URL, say)."""
    from django_cedula.testing.replica import Replica

    replica = Replica().start()
    more = extra(replica) if callable(extra) else (extra or {})
    overrides = {**cluster_overrides(replica, workers=workers, recycle=recycle), **more}
    cluster = Cluster(overrides, log_dir / "qcluster.log")
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        replica.stop()
        leftovers = _leftovers()
        if leftovers:
            print(f"processes left behind by the cluster, killed: {leftovers}", file=sys.stderr)


def _leftovers(timeout: float = 15) -> list[int]:
    """Processes of this run other than this one and its ancestors, after giving them time to exit."""
    tag = os.environ.get(TAG_VAR)
    if not tag:
        return []
    ours = {os.getpid(), os.getppid()}
    return kill_stragglers(
        lambda: [pid for pid in tagged_processes(tag) if pid not in ours and not _is_ancestor(pid)], timeout
    )


def _is_ancestor(pid: int) -> bool:
    from django_cedula.browser import processes

    current = processes.read_process(os.getpid())
    while current is not None and current.ppid > 1:
        if current.ppid == pid:
            return True
        current = processes.read_process(current.ppid)
    return False


# -- Child processes -----------------------------------------------------------------------------------


def child(argv: list[str]) -> int:
    parser = child_parser()
    parser.add_argument("action", choices=["floor", "throughput"])
    parser.add_argument("--lookups", type=int, default=50)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--workers", type=int, default=WORKERS)
    options = parser.parse_args(argv)
    stop_on_sigterm()
    if options.action == "floor":
        result = measure_floor(options.lookups)
    else:
        result = measure_throughput(options.users, options.batches, options.workers, Path(options.out).parent)
    return write_result(options.out, result)


def measure_floor(lookups: int) -> dict[str, Any]:
    """Median seconds per lookup of one sequential stream: the floor, then the package's scraper.

    Also the CPU each used per lookup: this process (the replica's thread included) and its
    Chromium, to compare with what the cluster spends per validation.
    """
    from django_cedula.testing.replica import DEFAULT_VALID_TOKEN, Replica

    from .scraper import configure, numbers, time_each

    # The package's scraper takes the stand-in's fresh tokens; the bare floor sends the fixed one.
    replica = Replica(valid_token=DEFAULT_VALID_TOKEN).start()
    try:
        configure(replica.wsp_url, {})  # fresh tokens the replica accepts once each
        from django_cedula.browser import find_browser_executable, reset_browser_runtime
        from django_cedula.scrapers import get_scraper

        # The one source configure() names: WspScraper with its options, at the replica's URL.
        scraper = get_scraper()
        scraper.scrape_cedula("1000000001")  # launch the browser and learn the site key
        cpu = cpu_seconds(os.getpid())
        package = time_each(scraper.scrape_cedula, numbers(lookups, start=55_000_000))
        package_cpu = cpu_seconds(os.getpid()) - cpu
        reset_browser_runtime()  # its browser gone before the floor launches one of its own
        executable = find_browser_executable(None) or "chromium"
        floor, floor_cpu = asyncio.run(_floor(replica.wsp_url, DEFAULT_VALID_TOKEN, executable, lookups))
    finally:
        replica.stop()
    return {
        "lookups": lookups,
        "floor_seconds": median(floor),
        "package_seconds": median(package),
        "floor_cpu_per_lookup": floor_cpu / lookups,
        "package_cpu_per_lookup": package_cpu / lookups,
    }


async def _floor(url: str, token: str, executable: str, lookups: int) -> tuple[list[float], float]:
    """The scraper benchmark's floor: ``bare_lookup`` on one page, reused, in one browser; the
    duration of each lookup, and the CPU seconds all of them used."""
    from playwright.async_api import async_playwright

    from django_cedula.browser import BrowserOptions

    from .scraper import bare_lookup, numbers

    args = BrowserOptions.defaults().launch_args()
    durations = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        try:
            page = await (await browser.new_context()).new_page()
            await bare_lookup(page, url, "1000000001", token)  # warm up
            cpu = cpu_seconds(os.getpid())
            for number in numbers(lookups, start=56_000_000):
                started = time.perf_counter()
                status = await bare_lookup(page, url, number, token)
                durations.append(time.perf_counter() - started)
                if status != "found":
                    raise RuntimeError(f"floor lookup ended as {status}")
            cpu = cpu_seconds(os.getpid()) - cpu
        finally:
            await browser.close()
    return durations, cpu


def measure_throughput(users: int, batches: int, workers: int, log_dir: Path) -> dict[str, Any]:
    """Register ``users`` users ``batches`` times on a warm cluster; each batch's rate and outcomes."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db.models import Max
    from django.utils import timezone

    from django_cedula.models import CedulaInfo

    call_command("migrate", verbosity=0)
    results = []
    with running_cluster(workers, log_dir) as cluster:
        # Warm-up: every worker launches its browser on its first job.
        warm_up = wait_final(register(2 * workers), timeout=180, cluster=cluster)
        for _ in range(batches):
            cpu_before, machine_before = cpu_seconds(cluster.pid), machine_cpu()
            started = timezone.now()
            ids = register(users)
            registered = (timezone.now() - started).total_seconds()
            statuses = wait_final(ids, timeout=120 + users * 10, cluster=cluster)
            cpu_after, machine_after = cpu_seconds(cluster.pid), machine_cpu()
            last = CedulaInfo.objects.filter(user_id__in=ids).aggregate(last=Max("updated_at"))["last"]
            seconds = (last - started).total_seconds()
            results.append(
                {
                    "users": users,
                    "seconds": seconds,
                    "registration_seconds": registered,
                    "per_minute": users / seconds * 60,
                    "statuses": statuses,
                    # Where the time went: the cluster's own CPU, and how busy the whole machine was
                    # (other programs included) while the batch ran.
                    "cluster_cpu": cpu_after - cpu_before,
                    "machine_busy": busy_fraction(machine_before, machine_after),
                }
            )
            if statuses != {CedulaInfo.Status.ACTIVE: users}:
                raise RuntimeError(f"not every lookup was found: {statuses}")
        log = cluster.log()
    return {"workers": workers, "warm_up": warm_up, "batches": results, "log_lines": len(log.splitlines())}


def main(argv: list[str] | None = None) -> int:
    return module_main(TITLE, run, child, argv)


if __name__ == "__main__":
    sys.exit(main())
