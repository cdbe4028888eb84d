"""Every benchmark of the package, one table: ``.venv/bin/python -m benchmarks [--quick] [--only NAME]``.

- ``registration``: milliseconds the package adds to creating a user (SQLite, PostgreSQL);
- ``revalidate``: ``cedula_revalidate --all`` over 100,000 users, time and peak memory;
- ``cluster``: validations per minute of a 2-worker Django-Q2 cluster with the real scraper;
- ``memory``: a worker's memory over 1,000 validations through that cluster;
- ``answers``: a worker's memory for one oversized answer (20 MiB body, gzip bomb), before, peak, after;
- ``http``: the HTTP-only scraper against the browser one: a qcluster worker's memory after 1,000
  validations, CPU per lookup, and the same outcomes on every row of the replica's table and fault;
- ``captcha``: the captcha token supply against a solve per lookup: one worker's backlog throughput,
  registration to final state, solves per validation, tokens wasted, idle spend, two workers;
- ``chain``: the fallback chain [wsp, consultacenso] on a 2-worker cluster while wsp blocks: every
  validation final, requests to wsp during its pause, time to final against a healthy batch;
- ``precheck``: the free vigencia pre-check on a 2-worker cluster and a registration mix: solves per
  final validation, time to final of the numbers it ends, throughput and p50 with the service down,
  slow or answering 429, against the pre-check off;
- ``parsing``: reading 1 MiB of each kind of pathological markup (unclosed comments, repeated
  attributes, deep nesting, ...): time and peak memory, lxml against the earlier html.parser;
- ``purge``: the retention purge of 100,000 expired rows (raw answers and places): time against the
  sweep's interval, peak memory at 10k and 100k rows.
- ``change``: a source that changes its pages (new markup, refused tokens, a new form) under a
  2-worker cluster, source health on and off: solves, lookups, rows ended and attempts counted
  after the change, and the time to drain every row after ``cedula_sources --resume``.

Each runs in processes of its own, on databases it creates and drops, against the local replica;
nothing leaves the machine. ``python -m benchmarks.scraper`` is the scraper's own benchmark
(per-lookup time against its alternatives), not repeated here.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import signal
import sys
import traceback
import uuid
from collections.abc import Callable

from . import (
    answers,
    captcha,
    chain,
    cluster,
    http_scraper,
    memory,
    parsing,
    precheck,
    purge,
    registration,
    revalidate,
    source_change,
)
from .common import (
    TAG_VAR,
    Figure,
    chromium_count,
    failed_figure,
    load,
    machine,
    print_figures,
    progress,
    tagged_processes,
    write_json,
)

BENCHMARKS: dict[str, Callable[[bool], list[Figure]]] = {
    "registration": registration.run,
    "revalidate": revalidate.run,
    "cluster": cluster.run,
    "memory": memory.run,
    "answers": answers.run,
    "captcha": captcha.run,
    "chain": chain.run,
    "http": http_scraper.run,
    "precheck": precheck.run,
    "parsing": parsing.run,
    "purge": purge.run,
    "change": source_change.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and rows, for a smoke run")
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append", metavar="NAME",
                        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}")  # fmt: skip
    parser.add_argument("--json", metavar="PATH", help="also write the figures and raw numbers as JSON")
    options = parser.parse_args(argv)

    # Everything this run starts inherits the tag: what is left at the end is ours, whatever else
    # the machine is running (other test suites' browsers).
    tag = uuid.uuid4().hex
    os.environ[TAG_VAR] = tag
    started = datetime.datetime.now().astimezone()
    chromium_before = chromium_count()
    loads = {"start": load()}
    figures: list[Figure] = []
    for name, run in BENCHMARKS.items():
        if options.only and name not in options.only:
            continue
        loads[name] = load()
        try:
            figures += run(options.quick)
        except Exception as exc:  # one benchmark failing must not lose the others' figures
            traceback.print_exc()
            figures.append(failed_figure(name, exc))
    loads["end"] = load()
    left = [pid for pid in tagged_processes(tag) if pid != os.getpid()]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    chromium_after = chromium_count()
    finished = datetime.datetime.now().astimezone()

    print(f"Machine: {machine()}")
    print(
        f"Date: {started:%Y-%m-%d %H:%M} to {finished:%H:%M %Z}; "
        f"{'quick smoke run' if options.quick else 'full run'}"
    )
    print("Load average (1, 5, 15 min): " + "; ".join(f"{key} {value}" for key, value in loads.items()))
    print_figures(
        "django-cedula benchmarks (medians of repeated runs; details in docs/benchmarks.rst)", figures
    )
    print(
        f"\nProcesses left by this run: {len(left) or 'none'}{' (killed)' if left else ''}; "
        f"pgrep -f chromium, whole machine: {chromium_before} before, {chromium_after} after"
    )
    if options.json:
        write_json(
            options.json,
            {
                "machine": machine(),
                "started": started.isoformat(),
                "finished": finished.isoformat(),
                "quick": options.quick,
                "load": loads,
                "processes_left": left,
                "figures": [dataclasses.asdict(figure) for figure in figures],
            },
        )
        progress(f"wrote {options.json}")
    return 1 if left or any("error" in figure.data for figure in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
