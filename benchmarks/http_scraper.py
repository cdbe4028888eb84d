"""The HTTP-only scraper against the browser one: a worker's memory, CPU per lookup, same outcomes.

    .venv/bin/python -m benchmarks.http_scraper [--quick]

Three measurements, each in a process of its own, against the local replica:

- ``memory``: one Django-Q2 ``qcluster`` with one worker (``recycle`` above the number of jobs, as
  in ``benchmarks.memory``) on PostgreSQL, validating with ``WspHttpScraper``, then the same with
  ``WspScraper``, in the same run; after every 50 validations psutil samples the worker's own tree
  (the worker process and its children: Playwright's driver and Chromium for the browser, nothing
  for HTTP; the figure the goal is about, "a worker with its Chromium holds about 1.3 GB") and the
  whole ``qcluster`` tree (Django-Q2's sentinel, pusher, monitor and main process too, about 200
  MiB whatever the scraper), as RSS summed over processes and as PSS (shared pages divided), and
  the tree's CPU time per validation is read.
- ``cpu``: one process, one lookup stream, ``WspHttpScraper`` then ``WspScraper`` on one replica
  running in a process of its own (its CPU is not counted): CPU seconds per lookup of the process
  and its children (Chromium included), and of the calling thread alone.
- ``outcomes``: every row of the replica's outcome table and every fault, for both sources, with the
  browser scraper and the HTTP one on a freshly reset replica each: the same status and the same
  data fields (``error`` and ``raw_html`` aside), counted.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from .common import (
    MIB,
    Figure,
    child_parser,
    cpu_seconds,
    database,
    failed_figure,
    median,
    module_main,
    progress,
    project_environment,
    run_child,
    stop_on_sigterm,
    tree_pss,
    write_result,
)

TITLE = "HTTP-only scraper against the browser scraper"
STEP = 50
GOAL_RSS_MIB = 100
GOAL_CPU_MS = 10
WSP_HTTP = "django_cedula.scrapers.wsp_http.WspHttpScraper"
CENSO_HTTP = "django_cedula.scrapers.consultacenso_http.ConsultaCensoHttpScraper"
WSP_BROWSER = "django_cedula.scrapers.wsp.WspScraper"
#: The two lanes of the memory measurement: the scraper each worker validates with.
SCRAPERS = {"http": WSP_HTTP, "browser": WSP_BROWSER}


def run(quick: bool) -> list[Figure]:
    validations, lookups = (250, 20) if quick else (1000, 50)
    figures: list[Figure] = []
    benchmark = f"http scraper, {validations} validations"
    try:
        lanes: dict[str, dict[str, Any]] = {}
        for lane in SCRAPERS:
            progress(f"{benchmark}: one qcluster worker with {SCRAPERS[lane].rsplit('.', 1)[1]}, PostgreSQL")
            with database("postgres", "bench_http_scraper") as database_env:
                lanes[lane] = run_child(
                    "benchmarks.http_scraper",
                    ["memory", "--validations", str(validations), "--scraper", lane],
                    project_environment(database_env, CEDULA_BENCH_CONN_MAX_AGE="none"),
                    timeout=3600,
                )
        figures += memory_figures(benchmark, validations, lanes["http"], lanes["browser"])
    except Exception as exc:
        figures.append(failed_figure(benchmark, exc))
    benchmark = f"http scraper, {lookups} lookups in one process"
    try:
        progress(f"{benchmark}: CPU per lookup, WspHttpScraper then WspScraper")
        cpu = run_child("benchmarks.http_scraper", ["cpu", "--lookups", str(lookups)], _plain_environment())
        figures += cpu_figures(benchmark, cpu)
    except Exception as exc:
        figures.append(failed_figure(benchmark, exc))
    benchmark = "http scraper, same outcomes"
    try:
        progress(f"{benchmark}: every table row and fault, both sources, browser and HTTP")
        outcomes = run_child("benchmarks.http_scraper", ["outcomes"], _plain_environment(), timeout=3600)
        figures.append(outcome_figure(benchmark, outcomes))
    except Exception as exc:
        figures.append(failed_figure(benchmark, exc))
    return figures


def _plain_environment() -> dict[str, str]:
    """The one-process measurements configure Django themselves (``settings.configure``)."""
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def memory_figures(
    benchmark: str, validations: int, result: dict[str, Any], browser: dict[str, Any]
) -> list[Figure]:
    """The HTTP lane's figures, each beside the browser lane's of the same run."""

    def ends(lane: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        samples = {int(count): values for count, values in lane["samples"].items()}
        return samples[0], samples[validations]

    idle, last = ends(result)
    browser_idle, browser_last = ends(browser)
    worker_mib, browser_worker_mib = last["worker_rss"] / MIB, browser_last["worker_rss"] / MIB
    return [
        Figure(
            benchmark,
            f"worker's tree RSS after {validations} (psutil)",
            f"{worker_mib:.0f} MiB",
            f"WspScraper: {browser_worker_mib:.0f} MiB ({browser_last['worker_processes']} processes: worker,"
            " Playwright's driver, Chromium's)",
            f"{worker_mib / browser_worker_mib:.3f}x",
            f"<= {GOAL_RSS_MIB} MiB",
            worker_mib <= GOAL_RSS_MIB,
            {"http": result, "browser": browser},
        ),
        Figure(
            benchmark,
            f"  worker's tree PSS after {validations}",
            f"{last['worker_pss'] / MIB:.0f} MiB",
            f"WspScraper: {browser_last['worker_pss'] / MIB:.0f} MiB (shared pages divided)",
        ),
        Figure(
            benchmark,
            f"  whole qcluster tree RSS after {validations}",
            f"{last['tree_rss'] / MIB:.0f} MiB",
            f"WspScraper: {browser_last['tree_rss'] / MIB:.0f} MiB; {last['processes']} processes with HTTP"
            " (Django-Q2's main, sentinel, pusher, monitor, worker)",
            f"{last['tree_rss'] / browser_last['tree_rss']:.2f}x",
        ),
        Figure(
            benchmark,
            "  whole qcluster tree PSS, before -> after",
            f"{idle['tree_pss'] / MIB:.0f} -> {last['tree_pss'] / MIB:.0f} MiB",
            f"WspScraper: {browser_idle['tree_pss'] / MIB:.0f} -> {browser_last['tree_pss'] / MIB:.0f} MiB",
        ),
        Figure(
            benchmark,
            "  CPU per validation, qcluster tree",
            f"{result['cluster_cpu'] / validations * 1000:.1f} ms",
            f"WspScraper: {browser['cluster_cpu'] / validations * 1000:.0f} ms (queue, ORM, lookup, row)",
            f"{result['cluster_cpu'] / browser['cluster_cpu']:.3f}x",
        ),
    ]


def cpu_figures(benchmark: str, result: dict[str, Any]) -> list[Figure]:
    http_ms = result["http_cpu_per_lookup"] * 1000
    browser_ms = result["browser_cpu_per_lookup"] * 1000
    return [
        Figure(
            benchmark,
            "CPU per lookup, this process and its children",
            f"{http_ms:.1f} ms",
            f"WspScraper + Chromium: {browser_ms:.0f} ms",
            f"{http_ms / browser_ms:.3f}x",
            f"<= {GOAL_CPU_MS} ms",
            http_ms <= GOAL_CPU_MS,
            result,
        ),
        Figure(
            benchmark,
            "  CPU per lookup, the lookup's own thread",
            f"{result['http_thread_cpu_per_lookup'] * 1000:.1f} ms",
            f"replica (own process, not counted): {result['http_replica_cpu_per_lookup'] * 1000:.1f} ms",
        ),
        Figure(
            benchmark,
            "  time per lookup (median)",
            f"{result['http_seconds'] * 1000:.0f} ms",
            f"WspScraper: {result['browser_seconds'] * 1000:.0f} ms",
            f"{result['http_seconds'] / result['browser_seconds']:.2f}x",
        ),
    ]


def outcome_figure(benchmark: str, result: dict[str, Any]) -> Figure:
    cases = result["cases"]
    same = sum(case["same"] for case in cases)
    differing = [f"{case['source']}:{case['case']}" for case in cases if not case["same"]]
    return Figure(
        benchmark,
        "browser and HTTP agree (status and fields)",
        f"{same} of {len(cases)}",
        "differ: " + (", ".join(differing[:5]) or "none"),
        "",
        "every row and fault",
        same == len(cases),
        result,
    )


# -- Child processes -----------------------------------------------------------------------------------


def child(argv: list[str]) -> int:
    parser = child_parser()
    parser.add_argument("action", choices=["memory", "cpu", "outcomes"])
    parser.add_argument("--validations", type=int, default=1000)
    parser.add_argument("--lookups", type=int, default=50)
    parser.add_argument("--scraper", choices=sorted(SCRAPERS), default="http")
    options = parser.parse_args(argv)
    stop_on_sigterm()
    if options.action == "memory":
        result = measure_memory(options.validations, Path(options.out).parent, SCRAPERS[options.scraper])
    elif options.action == "cpu":
        result = measure_cpu(options.lookups)
    else:
        result = measure_outcomes()
    return write_result(options.out, result)


def tree_sample(root: int) -> dict[str, Any]:
    """RSS (psutil, summed) and PSS of ``root`` and its descendants, and of the worker's own tree
    (the worker process and its descendants); the largest process's RSS."""
    import psutil

    processes = [psutil.Process(root)]
    processes += processes[0].children(recursive=True)
    rss: dict[int, int] = {}
    each = {}
    for process in processes:
        try:
            rss[process.pid] = process.memory_info().rss
            cpu = sum(process.cpu_times()[:2])
            each[process.pid] = {"rss": rss[process.pid], "pss": tree_rollup_one(process.pid), "cpu": cpu}
        except psutil.Error:
            continue
    worker = _worker(processes)
    worker_tree = [] if worker is None else [worker.pid, *(child.pid for child in _children(worker))]
    return {
        "each": each,
        "worker_rss": sum(rss.get(pid, 0) for pid in worker_tree),
        "worker_pss": sum(tree_rollup_one(pid) for pid in worker_tree),
        "worker_processes": len(worker_tree),
        "tree_rss": sum(rss.values()),
        "tree_pss": tree_pss(root),
        "largest_rss": max(rss.values(), default=0),
        "processes": len(rss),
    }


def _children(process: Any) -> list[Any]:
    import psutil

    try:
        return list(process.children(recursive=True))
    except psutil.Error:
        return []


def _worker(processes: list[Any]) -> Any:
    """The worker that does the lookups: the parent of Playwright's driver (the browser scraper), or,
    for the HTTP scraper, of the processes without children that have curl_cffi loaded, the one that
    used the most CPU. ``manage.py check`` builds the sources in qcluster's main process, so every
    process of the cluster, forked after it, has curl_cffi loaded: the lookups' CPU tells the worker
    from Django-Q2's pusher and monitor (before the first job, any of them may be taken)."""
    import psutil

    for process in processes:
        try:
            if "run-driver" in " ".join(process.cmdline()):
                return process.parent()
        except psutil.Error:
            continue
    candidates = []
    for process in processes:
        try:
            if not process.children() and _maps_curl(process.pid):
                candidates.append((sum(process.cpu_times()[:2]), process))
        except psutil.Error:
            continue
    return max(candidates, key=lambda candidate: candidate[0])[1] if candidates else None


def _maps_curl(pid: int) -> bool:
    """Whether process ``pid`` has curl_cffi's library mapped (the worker, after its first lookup)."""
    try:
        with open(f"/proc/{pid}/maps") as maps:
            return any("curl_cffi" in line for line in maps)
    except OSError:
        return False


def tree_rollup_one(pid: int) -> int:
    """PSS of one process, in bytes (``/proc/<pid>/smaps_rollup``)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            return sum(int(line.split()[1]) * 1024 for line in rollup if line.startswith("Pss:"))
    except (OSError, ValueError, IndexError):
        return 0


def measure_memory(validations: int, log_dir: Path, scraper: str) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command

    from .cluster import register, running_cluster, wait_final

    call_command("migrate", verbosity=0)
    samples: dict[int, dict[str, Any]] = {}
    statuses: dict[str, int] = {}

    def source(replica: Any) -> dict[str, Any]:
        return {"CEDULA_SOURCES": [{"BACKEND": scraper, "OPTIONS": {"url": replica.wsp_url}}]}

    with running_cluster(1, log_dir, recycle=validations + 100, extra=source) as cluster:
        time.sleep(1)
        samples[0] = tree_sample(cluster.pid)
        cpu_before = cpu_seconds(cluster.pid)
        done = 0
        while done < validations:
            count = min(STEP, validations - done)
            ended = wait_final(register(count), timeout=60 + count * 5, cluster=cluster)
            for status, number in ended.items():
                statuses[status] = statuses.get(status, 0) + number
            done += count
            samples[done] = tree_sample(cluster.pid)
        cluster_cpu = cpu_seconds(cluster.pid) - cpu_before
    if statuses != {"active": validations}:
        raise RuntimeError(f"not every lookup was found: {statuses}")
    return {"samples": samples, "statuses": statuses, "cluster_cpu": cluster_cpu}


#: The page timeout of every scraper measured in one process.
PAGE_TIMEOUT = 4.0


def _configure() -> None:
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_cedula"],
        DATABASES={},
        USE_TZ=True,
        CEDULA_CAPTCHA_SOLVER={"BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver"},
        CEDULA_MIN_LOOKUP_INTERVAL=0,
        CEDULA_TOKEN_SUPPLY={"ENABLED": False},
        CEDULA_LOOKUP_TIMEOUT=30,
    )
    import django

    django.setup()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def measure_cpu(lookups: int) -> dict[str, Any]:
    """CPU per lookup with the replica in a process of its own (its CPU is taken off the tree's)."""
    import subprocess
    import urllib.request

    port = _free_port()
    replica = subprocess.Popen(
        [sys.executable, "-m", "django_cedula.testing.replica", "--port", str(port), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base, timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or replica.poll() is not None:
                    raise RuntimeError("the replica did not start") from None
                time.sleep(0.2)
        _configure()
        from django_cedula.browser import reset_browser_runtime
        from django_cedula.scrapers.wsp import WspScraper
        from django_cedula.scrapers.wsp_http import WspHttpScraper

        url = base + "censo/consultar/"

        def ours() -> float:
            return cpu_seconds(os.getpid()) - cpu_seconds(replica.pid)

        figures: dict[str, Any] = {"lookups": lookups}
        scrapers = (
            ("http", WspHttpScraper(url=url, page_timeout=PAGE_TIMEOUT)),
            ("browser", WspScraper(url=url, page_timeout=PAGE_TIMEOUT)),
        )
        for name, scraper in scrapers:
            scraper.scrape_cedula("1000000001")  # warm up (the browser launches, the site key is learnt)
            cpu, thread, served = ours(), time.thread_time(), cpu_seconds(replica.pid)
            durations = []
            for index in range(lookups):
                started = time.perf_counter()
                result = scraper.scrape_cedula(str(57_000_000 + index))
                durations.append(time.perf_counter() - started)
                if result.status.value != "found":
                    raise RuntimeError(f"{name} lookup ended as {result.status}: {result.error}")
            figures[f"{name}_cpu_per_lookup"] = (ours() - cpu) / lookups
            figures[f"{name}_thread_cpu_per_lookup"] = (time.thread_time() - thread) / lookups
            figures[f"{name}_replica_cpu_per_lookup"] = (cpu_seconds(replica.pid) - served) / lookups
            figures[f"{name}_seconds"] = median(durations)
        reset_browser_runtime()
    finally:
        replica.terminate()
        replica.wait(30)
    return figures


def measure_outcomes() -> dict[str, Any]:
    """Every table row and fault, both sources: the browser scraper's result against the HTTP one's."""
    from django_cedula.exceptions import ConfigurationError
    from django_cedula.results import DATA_FIELDS
    from django_cedula.testing.replica import OUTCOMES, FaultMode, Replica

    replica = Replica().start()
    cases: list[dict[str, Any]] = []
    try:
        _configure()
        from django_cedula.browser import reset_browser_runtime
        from django_cedula.scrapers.consultacenso import ConsultaCensoScraper
        from django_cedula.scrapers.consultacenso_http import ConsultaCensoHttpScraper
        from django_cedula.scrapers.wsp import WspScraper
        from django_cedula.scrapers.wsp_http import WspHttpScraper

        runs: list[tuple[str, str, FaultMode | None, int | None]] = [
            (f"table {number}", number, None, None) for number in OUTCOMES
        ]
        runs += [("table any other", "52123456", None, None)]
        runs += [
            (f"fault {mode}", "1000000001", mode, 1 if mode is FaultMode.GET500 else None)
            for mode in FaultMode
        ]
        wsp, censo, timeout = replica.wsp_url, replica.censo_url, PAGE_TIMEOUT
        pairs = (
            ("wsp", WspScraper(url=wsp, page_timeout=timeout), WspHttpScraper(url=wsp, page_timeout=timeout)),
            (
                "censo",
                ConsultaCensoScraper(url=censo, page_timeout=timeout),
                ConsultaCensoHttpScraper(url=censo, page_timeout=timeout),
            ),
        )
        for source, browser, http in pairs:
            for name, number, mode, times in runs:
                results = []
                for scraper in (browser, http):
                    replica.reset()
                    replica.slow_seconds = 6  # past the page timeout (4 s)
                    if mode is not None:
                        replica.set_fault(mode, times=times)
                    try:
                        result = scraper.scrape_cedula(number)
                    except ConfigurationError:  # the http407 fault: a proxy asks for credentials
                        results.append({"status": "config_error"})
                        continue
                    results.append(
                        {"status": result.status.value, **{f: getattr(result, f) for f in DATA_FIELDS}}
                    )
                cases.append(
                    {
                        "source": source,
                        "case": name,
                        "browser": results[0]["status"],
                        "http": results[1]["status"],
                        "same": results[0] == results[1],
                    }
                )
        reset_browser_runtime()
    finally:
        replica.stop()
    return {"cases": cases}


def main(argv: list[str] | None = None) -> int:
    return module_main(TITLE, run, child, argv)


if __name__ == "__main__":
    sys.exit(main())
