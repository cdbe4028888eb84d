"""A worker's memory for one oversized answer: a 20 MiB body and a gzip bomb (100 MiB, 100 KiB on the wire).

    .venv/bin/python -m benchmarks.answers [--quick] [--json PATH]

Each case runs in a fresh process: Django set up as ``benchmarks.scraper`` does (no database), the
real scraper and Debian's Chromium, against the local replica run as a separate process (``python -m
django_cedula.testing.replica``), so that the replica's own buffers are not counted. One ordinary
lookup first starts the browser; then the resident memory (RSS) of the Python process and of its
browser tree (Playwright's driver and Chromium, the replica excluded) is read before the lookup of
the oversized number, every 10 ms during it (the peak; for the Python process also ``VmHWM`` after
resetting it), and 2 s after it returned.

The replica's table numbers 1000000055 (``huge``, 20 MiB) and 1000000056 (``gzip_bomb``, 100 MiB
expanding from about 100 KiB) are looked up; ``--quick`` runs Source A only, the full run both sources.
Goal: the Python process's peak stays within 50 MiB of its memory before the lookup (the answer is cut
to ``MAX_ANSWER_BYTES`` inside the page).
"""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from .common import (
    MIB,
    ROOT,
    Figure,
    child_parser,
    failed_figure,
    module_main,
    progress,
    run_child,
    stop_on_sigterm,
    write_result,
)

TITLE = "Worker memory for one oversized answer"
CASES = {"huge": "1000000055", "bomb": "1000000056"}
CASE_NAMES = {"huge": "20 MiB answer", "bomb": "gzip bomb (100 MiB from ~100 KiB)"}
GOAL_PYTHON_PEAK = 50 * MIB
SAMPLE_EVERY = 0.01
SETTLE = 2.0


def run(quick: bool) -> list[Figure]:
    sources = ["wsp"] if quick else ["wsp", "censo"]
    figures: list[Figure] = []
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for source in sources:
        for case in CASES:
            benchmark = f"answers, {CASE_NAMES[case]} ({source})"
            progress(f"{benchmark}: fresh process")
            try:
                result = run_child(
                    "benchmarks.answers", ["--case", case, "--source", source], env, timeout=600
                )
            except Exception as exc:
                figures.append(failed_figure(benchmark, exc))
                continue
            figures += figures_for(benchmark, result)
    return figures


def figures_for(benchmark: str, result: dict[str, Any]) -> list[Figure]:
    def line(name: str) -> str:
        before, peak, after = (result[f"{name}_{moment}"] for moment in ("before", "peak", "after"))
        return (
            f"{before / MIB:.0f} -> peak {peak / MIB:.0f} (+{(peak - before) / MIB:.0f}) "
            f"-> after {after / MIB:.0f} (+{(after - before) / MIB:.0f}) MiB"
        )

    python_growth = result["python_peak"] - result["python_before"]
    # Not "error": that key marks a benchmark that failed (benchmarks.common.failed_figure).
    outcome = f"{result['status']}: {result['lookup_error']}"[:100]
    return [
        Figure(
            benchmark,
            "Python RSS: before, peak, 2 s after",
            line("python"),
            goal=f"peak under +{GOAL_PYTHON_PEAK / MIB:.0f} MiB",
            met=python_growth < GOAL_PYTHON_PEAK,
            data=result,
        ),
        Figure(benchmark, "Chromium tree RSS: before, peak, 2 s after", line("browser"), data=result),
        Figure(benchmark, "lookup outcome", outcome, f"{result['seconds']:.1f} s", data=result),
    ]


# -- the child: one lookup of one oversized answer ---------------------------------------------------


@contextlib.contextmanager
def replica_process() -> Iterator[tuple[int, str, str]]:
    """The replica CLI on a free port, in a process of its own; yields its pid, URL and token."""
    from django_cedula.testing.replica import DEFAULT_VALID_TOKEN

    process = subprocess.Popen(
        [
            sys.executable,
            "-u",
            "-m",
            "django_cedula.testing.replica",
            "--port",
            "0",
            "--quiet",
            "--valid-token",
            DEFAULT_VALID_TOKEN,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        if "running at" not in first:
            raise RuntimeError(f"the replica did not start: {first!r}")
        yield process.pid, first.rsplit(" ", 1)[1].strip(), DEFAULT_VALID_TOKEN
    finally:
        process.terminate()
        process.wait(10)


def python_rss() -> int:
    from django_cedula.browser import processes

    return processes.rss_bytes(os.getpid())


def python_hwm() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def reset_hwm() -> None:
    # Linux: writing 5 to clear_refs resets the peak resident set size (VmHWM) to the current one.
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def browser_rss(replica_pid: int) -> int:
    """RSS summed over this process's descendants but the replica's own tree."""
    from django_cedula.browser import processes

    table = list(processes.iter_processes())
    excluded = {replica_pid, *(p.pid for p in processes.descendants(replica_pid, table))}
    return sum(
        processes.rss_bytes(p.pid) for p in processes.descendants(os.getpid(), table) if p.pid not in excluded
    )


def child(argv: list[str]) -> int:
    parser = child_parser(prog="python -m benchmarks.answers child")
    parser.add_argument("--case", choices=sorted(CASES), required=True)
    parser.add_argument("--source", choices=["wsp", "censo"], required=True)
    options = parser.parse_args(argv)
    stop_on_sigterm()

    from .scraper import configure

    with replica_process() as (replica_pid, url, token):
        source_url = url + ("censo/consultar/" if options.source == "wsp" else "consultacenso/")
        configure(
            source_url,
            {"token": token},
            "django_cedula.scrapers.wsp.WspScraper"
            if options.source == "wsp"
            else "django_cedula.scrapers.consultacenso.ConsultaCensoScraper",
        )
        from django_cedula.results import ScrapeResult
        from django_cedula.scrapers import get_scraper
        from django_cedula.scrapers.base import BaseScraper

        scraper = get_scraper()
        warm = ScrapeResult.coerce(scraper.scrape_cedula("1000000001"))  # start the browser
        if warm.status.value != "found":
            raise RuntimeError(f"the warm-up lookup ended {warm.status}: {warm.error}")
        gc.collect()
        time.sleep(SETTLE)
        python_before, browser_before = python_rss(), browser_rss(replica_pid)
        reset_hwm()

        outcome: list[ScrapeResult] = []
        thread = threading.Thread(
            target=lambda: outcome.append(ScrapeResult.coerce(scraper.scrape_cedula(CASES[options.case])))
        )
        started = time.monotonic()
        thread.start()
        python_peak, browser_peak = python_before, browser_before
        while thread.is_alive():
            python_peak = max(python_peak, python_rss())
            browser_peak = max(browser_peak, browser_rss(replica_pid))
            thread.join(SAMPLE_EVERY)
        seconds = time.monotonic() - started
        python_peak = max(python_peak, python_hwm())
        result = outcome.pop()
        gc.collect()
        time.sleep(SETTLE)
        python_after, browser_after = python_rss(), browser_rss(replica_pid)
        if isinstance(scraper, BaseScraper):
            scraper.close()
        from django_cedula.browser import reset_browser_runtime

        reset_browser_runtime()

    data = {
        "case": options.case,
        "source": options.source,
        "status": result.status.value,
        "lookup_error": result.error,
        "raw_chars": len(result.raw_html),
        "seconds": seconds,
        "python_before": python_before,
        "python_peak": python_peak,
        "python_after": python_after,
        "browser_before": browser_before,
        "browser_peak": browser_peak,
        "browser_after": browser_after,
    }
    return write_result(options.out, data)


def main(argv: list[str] | None = None) -> int:
    return module_main(TITLE, run, child, argv)


if __name__ == "__main__":
    sys.exit(main())
