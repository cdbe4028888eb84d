"""A worker's memory over 1,000 validations through a real Django-Q2 cluster.

    .venv/bin/python -m benchmarks.memory [--quick]

One ``qcluster`` with one worker (so that one process and one browser do every lookup, as in the
scraper benchmark's memory figure) and ``recycle`` above the number of jobs (Django-Q2 would
otherwise replace the worker after 500 jobs, its default, and hide any growth). PostgreSQL, the
replica and the real scraper, as in ``benchmarks.cluster``.

Users are registered 50 at a time; once each 50 are validated, with the worker between jobs, the
memory of the whole ``qcluster`` process tree (Django-Q2's sentinel, pusher, monitor, the worker
and its Playwright driver and Chromium) and of the worker's subtree alone is sampled: the summed
RSS, the proportional set size (PSS: shared pages divided among the processes that map them) and
the PSS of anonymous memory (heaps: what a leak grows).

The browser runtime replaces its reused page every ``recycle_after`` (200) lookups, so memory is a
saw-tooth of that period: "after 50" and "after 1,000" are different points of it. The goal is
therefore judged on the peak of the first 200 validations against the peak of the last 200.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from .cluster import register, running_cluster, wait_final
from .common import (
    MIB,
    Figure,
    child_parser,
    chromium_count,
    database,
    failed_figure,
    median,
    module_main,
    progress,
    project_environment,
    run_child,
    stop_on_sigterm,
    tree_anon,
    tree_pss,
    tree_rss,
    write_result,
)

TITLE = "Worker memory over many validations"
STEP = 50
GOAL_GROWTH = 0.25  # the scraper benchmark's goal for the same figure
#: What ``benchmarks.scraper`` reported for one process and its Chromium, after 50 and 1,000 lookups
#: (MiB): the figures to compare with the worker's own subtree.
SCRAPER_PSS = (721, 901)
SCRAPER_RSS = (1303, 1532)


def run(quick: bool) -> list[Figure]:
    validations = 250 if quick else 1000
    benchmark = f"worker memory, {validations} validations"
    progress(f"{benchmark}: one worker, PostgreSQL")
    try:
        with database("postgres", "bench_memory") as database_env:
            result = run_child(
                "benchmarks.memory",
                ["--validations", str(validations)],
                project_environment(database_env, CEDULA_BENCH_CONN_MAX_AGE="none"),
                timeout=7200,
            )
    except Exception as exc:
        return [failed_figure(benchmark, exc)]
    return figures_for(benchmark, validations, result)


def figures_for(benchmark: str, validations: int, result: dict[str, Any]) -> list[Figure]:
    samples = {int(count): values for count, values in result["samples"].items()}
    cycle = result["recycle_after"]
    first, last = samples[STEP], samples[validations]
    # The saw-tooth's peaks: the first page's life, and the last one's.
    early = [values for count, values in samples.items() if 0 < count <= cycle]
    late = [values for count, values in samples.items() if count > validations - cycle]

    def peak(group: list[dict[str, Any]], key: str) -> float:
        return float(max(values[key] for values in group))

    def growth(before: float, after: float) -> str:
        return f"{after / before - 1:+.0%}"

    def mib(before: float, after: float) -> str:
        return f"{before / MIB:.0f} -> {after / MIB:.0f} MiB"

    def scraper(figures: tuple[int, int]) -> str:
        return f"scraper bench: {figures[0]} -> {figures[1]} MiB ({figures[1] / figures[0] - 1:+.0%})"

    peak_rss = peak(early, "tree_rss"), peak(late, "tree_rss")
    figures = [
        Figure(
            benchmark,
            f"qcluster tree RSS, peak 1-{cycle} -> last {cycle}",
            mib(*peak_rss),
            f"saw-tooth: page replaced every {cycle}",
            growth(*peak_rss),
            f"growth < {GOAL_GROWTH:.0%}",
            peak_rss[1] / peak_rss[0] - 1 < GOAL_GROWTH,
            result,
        )
    ]
    rows = [
        # (measure, before, after, compared with)
        ("  same, anonymous (heaps) PSS", peak(early, "tree_anon"), peak(late, "tree_anon"), ""),
        (f"  qcluster tree RSS, after {STEP} -> {validations}", first["tree_rss"], last["tree_rss"], ""),
        (f"  qcluster tree PSS, after {STEP} -> {validations}", first["tree_pss"], last["tree_pss"], ""),
        ("  worker + its Chromium, RSS", first["worker_rss"], last["worker_rss"], scraper(SCRAPER_RSS)),
        ("  worker + its Chromium, PSS", first["worker_pss"], last["worker_pss"], scraper(SCRAPER_PSS)),
    ]
    figures += [
        Figure(benchmark, measure, mib(before, after), reference, growth(before, after))
        for measure, before, after, reference in rows
    ]
    return figures


def settled_sample(root: int, count: int = 3, interval: float = 0.3, settle: float = 1.0) -> dict[str, Any]:
    """The median of ``count`` samples, after ``settle`` seconds for the last job's page to close.

    One snapshot depends on the moment: Chromium starts and ends renderer processes as contexts
    close and the next page is prepared.
    """
    time.sleep(settle)
    samples = []
    for _ in range(count):
        samples.append(sample(root))
        time.sleep(interval)
    return {key: median([one[key] for one in samples]) for key in samples[0]}


def sample(root: int) -> dict[str, Any]:
    """RSS, PSS and anonymous PSS of the cluster's tree, and of its worker's subtree."""
    from django_cedula.browser import processes

    tree = processes.descendants(root)
    pythons = [info for info in tree if info.comm.startswith("python") or info.comm.startswith("qcluster")]
    # The worker is the Python process whose descendants (its driver, Chromium) hold no Python.
    worker = next(
        (
            info.pid
            for info in pythons
            if processes.descendants(info.pid, tree)
            and not any(child.comm.startswith("python") for child in processes.descendants(info.pid, tree))
        ),
        None,
    )
    return {
        "tree_rss": tree_rss(root),
        "tree_pss": tree_pss(root),
        "tree_anon": tree_anon(root),
        "worker_rss": tree_rss(worker) if worker else 0,
        "worker_pss": tree_pss(worker) if worker else 0,
        "worker_anon": tree_anon(worker) if worker else 0,
        # Other programs' browsers share Chromium's pages, and so lower our PSS: note how many ran.
        "chromium_processes_on_machine": chromium_count(),
        "processes": len(tree) + 1,
        "browser_processes": sum("chrom" in info.comm.lower() for info in tree),
    }


def child(argv: list[str]) -> int:
    parser = child_parser()
    parser.add_argument("--validations", type=int, required=True)
    options = parser.parse_args(argv)
    stop_on_sigterm()

    import django

    django.setup()
    from django.core.management import call_command

    from django_cedula.browser import BrowserOptions

    call_command("migrate", verbosity=0)
    samples: dict[int, dict[str, Any]] = {}
    statuses: dict[str, int] = {}
    with running_cluster(1, Path(options.out).parent, recycle=options.validations + 100) as cluster:
        samples[0] = settled_sample(cluster.pid)  # before the first job: no browser yet
        done = 0
        while done < options.validations:
            count = min(STEP, options.validations - done)
            ended = wait_final(register(count), timeout=120 + count * 10, cluster=cluster)
            for status, number in ended.items():
                statuses[status] = statuses.get(status, 0) + number
            done += count
            samples[done] = settled_sample(cluster.pid)
        recycled = "recycled worker" in cluster.log()
    if statuses != {"active": options.validations}:
        raise RuntimeError(f"not every lookup was found: {statuses}")
    result = {
        "samples": samples,
        "statuses": statuses,
        "worker_recycled": recycled,
        "recycle_after": BrowserOptions.defaults().recycle_after,
    }
    return write_result(options.out, result)


def main(argv: list[str] | None = None) -> int:
    return module_main(TITLE, run, child, argv)


if __name__ == "__main__":
    sys.exit(main())
