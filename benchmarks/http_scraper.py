"""The HTTP-only scraper against the browser one: a worker's memory, CPU per lookup, same outcomes.

    .venv/bin/python -m benchmarks.http_scraper [--quick]

Three measurements, each in a process of its own, against the local replica:

- ``memory``: one Django-Q2 ``qcluster`` with one worker (``recycle`` above the number of jobs, as
  in ``benchmarks.memory``) on PostgreSQL, validating with ``WspHttpScraper``; after every 50
  validations the resident memory of the whole ``qcluster`` process tree is sampled with psutil
  (RSS summed over the processes, and PSS, which divides shared pages among them), and its CPU
  time per validation is read. The browser cluster's figures are ``benchmarks.memory``'s (its
  last full run), not measured again.
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
from .memory import SCRAPER_RSS

#: ``benchmarks.memory``'s figures for the same qcluster with the browser scraper (docs/benchmarks.rst,
#: 2026-11-30 full run): tree RSS at its peaks over the first and the last 200 of 1,000 validations,
#: and tree PSS after 50 and after 1,000 (MiB).
BROWSER_TREE_RSS = (1528, 1591)
BROWSER_TREE_PSS = (580, 399)

TITLE = "HTTP-only scraper against the browser scraper"
STEP = 50
GOAL_RSS_MIB = 100
GOAL_CPU_MS = 10
WSP_HTTP = "django_cedula.scrapers.wsp_http.WspHttpScraper"
CENSO_HTTP = "django_cedula.scrapers.consultacenso_http.ConsultaCensoHttpScraper"


def run(quick: bool) -> list[Figure]:
    validations, lookups = (250, 20) if quick else (1000, 50)
    figures: list[Figure] = []
    benchmark = f"http scraper, {validations} validations"
    try:
        progress(f"{benchmark}: one qcluster worker with WspHttpScraper, PostgreSQL")
        with database("postgres", "bench_http_scraper") as database_env:
            memory = run_child(
                "benchmarks.http_scraper",
                ["memory", "--validations", str(validations)],
                project_environment(database_env, CEDULA_BENCH_CONN_MAX_AGE="none"),
                timeout=3600,
            )
        figures += memory_figures(benchmark, validations, memory)
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


def memory_figures(benchmark: str, validations: int, result: dict[str, Any]) -> list[Figure]:
    samples = {int(count): values for count, values in result["samples"].items()}
    idle, last = samples[0], samples[validations]
    peak_rss = max(values["tree_rss"] for count, values in samples.items() if count)
    cpu_ms = result["cluster_cpu"] / validations * 1000
    browser = f"browser qcluster tree: {BROWSER_TREE_RSS[1]} MiB (benchmarks.memory)"
    return [
        Figure(
            benchmark,
            f"qcluster tree RSS after {validations} (psutil)",
            f"{last['tree_rss'] / MIB:.0f} MiB",
            browser,
            f"{last['tree_rss'] / MIB / BROWSER_TREE_RSS[1]:.2f}x",
            f"<= {GOAL_RSS_MIB} MiB",
            last["tree_rss"] / MIB <= GOAL_RSS_MIB,
            result,
        ),
        Figure(
            benchmark,
            "  same, before the first job -> peak",
            f"{idle['tree_rss'] / MIB:.0f} -> {peak_rss / MIB:.0f} MiB",
            f"{idle['processes']} processes (Django-Q2's sentinel, pusher, monitor, worker)",
        ),
        Figure(
            benchmark,
            "  qcluster tree PSS, before -> after",
            f"{idle['tree_pss'] / MIB:.0f} -> {last['tree_pss'] / MIB:.0f} MiB",
            f"browser tree: {BROWSER_TREE_PSS[0]} -> {BROWSER_TREE_PSS[1]} MiB; shared pages divided",
        ),
        Figure(
            benchmark,
            "  the worker process's RSS",
            f"{last['worker_rss'] / MIB:.0f} MiB",
            "the package's share: the tree's growth from before the first job",
            "",
            f"<= {GOAL_RSS_MIB} MiB",
            last["worker_rss"] / MIB <= GOAL_RSS_MIB,
        ),
        Figure(
            benchmark,
            "  largest process RSS, before -> after",
            f"{idle['largest_rss'] / MIB:.0f} -> {last['largest_rss'] / MIB:.0f} MiB",
            f"browser worker + Chromium: {SCRAPER_RSS[0]} -> {SCRAPER_RSS[1]} MiB (benchmarks.scraper)",
        ),
        Figure(
            benchmark,
            "  CPU per validation, qcluster tree",
            f"{cpu_ms:.1f} ms",
            "queue, ORM, lookup and the row's update",
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
    options = parser.parse_args(argv)
    stop_on_sigterm()
    if options.action == "memory":
        result = measure_memory(options.validations, Path(options.out).parent)
    elif options.action == "cpu":
        result = measure_cpu(options.lookups)
    else:
        result = measure_outcomes()
    return write_result(options.out, result)


def tree_sample(root: int) -> dict[str, Any]:
    """RSS (psutil, summed) and PSS of ``root`` and its descendants; the largest process's RSS."""
    import psutil

    processes = [psutil.Process(root)]
    processes += processes[0].children(recursive=True)
    rss = []
    each = {}
    worker = 0
    for process in processes:
        try:
            rss.append(process.memory_info().rss)
            cpu = sum(process.cpu_times()[:2])
            each[process.pid] = {"rss": rss[-1], "pss": tree_rollup_one(process.pid), "cpu": cpu}
        except psutil.Error:
            continue
        if _maps_curl(process.pid):
            worker = rss[-1]
    return {
        "each": each,
        # The worker does the lookups: the one process that has loaded curl_cffi (once jobs have run).
        "worker_rss": worker,
        "tree_rss": sum(rss),
        "tree_pss": tree_pss(root),
        "largest_rss": max(rss, default=0),
        "processes": len(rss),
    }


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


def measure_memory(validations: int, log_dir: Path) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command

    from .cluster import register, running_cluster, wait_final

    call_command("migrate", verbosity=0)
    samples: dict[int, dict[str, Any]] = {}
    statuses: dict[str, int] = {}
    with running_cluster(
        1, log_dir, recycle=validations + 100, extra={"CEDULA_SCRAPER": WSP_HTTP}
    ) as cluster:
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


def _configure(url: str) -> None:
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_cedula"],
        DATABASES={},
        USE_TZ=True,
        CEDULA_SOURCE_URL=url,
        CEDULA_CAPTCHA_SOLVER="django_cedula.captcha.replica.ReplicaCaptchaSolver",
        CEDULA_MIN_LOOKUP_INTERVAL=0,
        CEDULA_CAPTCHA_POOL=False,
        CEDULA_PAGE_TIMEOUT=4,
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
        _configure(base + "censo/consultar/")
        from django_cedula.browser import get_browser_runtime
        from django_cedula.scrapers.wsp import WspScraper
        from django_cedula.scrapers.wsp_http import WspHttpScraper

        def ours() -> float:
            return cpu_seconds(os.getpid()) - cpu_seconds(replica.pid)

        figures: dict[str, Any] = {"lookups": lookups}
        for name, scraper in (("http", WspHttpScraper()), ("browser", WspScraper())):
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
        get_browser_runtime().close()
    finally:
        replica.terminate()
        replica.wait(30)
    return figures


def measure_outcomes() -> dict[str, Any]:
    """Every table row and fault, both sources: the browser scraper's result against the HTTP one's."""
    from django.conf import settings

    from django_cedula.results import DATA_FIELDS
    from django_cedula.testing.replica import OUTCOMES, FaultMode, Replica

    replica = Replica().start()
    cases: list[dict[str, Any]] = []
    try:
        _configure(replica.wsp_url)
        from django_cedula.browser import get_browser_runtime
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
        pairs = (
            ("wsp", replica.wsp_url, WspScraper(), WspHttpScraper()),
            ("censo", replica.censo_url, ConsultaCensoScraper(), ConsultaCensoHttpScraper()),
        )
        for source, url, browser, http in pairs:
            settings.CEDULA_SOURCE_URL = url
            for name, number, mode, times in runs:
                results = []
                for scraper in (browser, http):
                    replica.reset()
                    replica.slow_seconds = 6  # past the page timeout (4 s)
                    if mode is not None:
                        replica.set_fault(mode, times=times)
                    result = scraper.scrape_cedula(number)
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
        get_browser_runtime().close()
    finally:
        replica.stop()
    return {"cases": cases}


def main(argv: list[str] | None = None) -> int:
    return module_main(TITLE, run, child, argv)


if __name__ == "__main__":
    sys.exit(main())
