"""Shared helpers for the benchmarks: machine description, medians, and a printed table."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any


def machine() -> str:
    """One line describing the machine the figures come from."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as info:
        cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    memory = ""
    try:
        with open("/proc/meminfo") as info:
            kib = int(next(line.split()[1] for line in info if line.startswith("MemTotal")))
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    chromium = ""
    with contextlib.suppress(OSError):
        chromium = subprocess.run(
            ["chromium", "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    return f"{cpu}, {os.cpu_count()} cores{memory}; Python {platform.python_version()}; {chromium}"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a plain-text table with aligned columns."""
    cells = [[str(value) for value in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  " + "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))


def tree_pss(root: int | None = None) -> int:
    """Proportional set size, in bytes, of ``root`` (this process) and all its descendants."""
    return tree_rollup(root, ("Pss",))


def tree_anon(root: int | None = None) -> int:
    """Anonymous memory (heaps, JavaScript, caches: not files), PSS, in bytes, of ``root`` and its
    descendants.

    Unlike the whole PSS it does not depend on what else runs on the machine: PSS divides the pages
    of Chromium's files among every Chromium on the machine, so another program's browsers lower
    ours; anonymous pages are shared only among processes forked from one another, all in the tree.
    """
    return tree_rollup(root, ("Pss_Anon",))


def tree_rollup(root: int | None, fields: Sequence[str]) -> int:
    """The sum of ``fields`` of ``/proc/<pid>/smaps_rollup``, in bytes, over ``root`` and its descendants."""
    from django_cedula.browser import processes

    root = os.getpid() if root is None else root
    total = 0
    for pid in [root, *(p.pid for p in processes.descendants(root))]:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                for line in rollup:
                    name, _, rest = line.partition(":")
                    if name in fields:
                        total += int(rest.split()[0]) * 1024
        except (OSError, ValueError, IndexError):
            pass
    return total


# -- Shared by the benchmarks that run a whole project (``python -m benchmarks``) -------------------

#: Every process a benchmark starts carries this variable, so that what it leaves behind (a
#: Chromium whose worker died) can be told from browsers other work on the machine runs.
TAG_VAR = "CEDULA_BENCH_TAG"
ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
#: The database server the benchmarks use (as the tests do: trust authentication).
PG = {
    "host": os.environ.get("PGHOST", "127.0.0.1"),
    "port": os.environ.get("PGPORT", "5432"),
    "user": "postgres",
}
VENDORS = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


@dataclasses.dataclass
class Figure:
    """One row of the summary table, with the raw numbers behind it for ``--json``."""

    benchmark: str
    measure: str
    result: str
    reference: str = ""
    ratio: str = ""
    goal: str = ""
    #: ``None`` when the row has no goal of its own (a reference figure).
    met: bool | None = None
    data: dict[str, Any] = dataclasses.field(default_factory=dict)

    def cells(self) -> list[str]:
        met = "" if self.met is None else ("yes" if self.met else "NO")
        return [self.benchmark, self.measure, self.result, self.reference, self.ratio, self.goal, met]


FIGURE_HEADER = ["benchmark", "measure", "result", "compared with", "ratio", "goal", "met"]


def failed_figure(benchmark: str, error: str | BaseException) -> Figure:
    """The row that stands for a benchmark that could not finish, so the others are still reported;
    ``error`` is the message, or the exception (shown as ``Type: message``)."""
    if isinstance(error, BaseException):
        error = f"{type(error).__name__}: {error}"
    return Figure(benchmark, "failed", error[:100], met=False, data={"error": error})


def print_figures(title: str, figures: Sequence[Figure]) -> None:
    print_table(title, FIGURE_HEADER, [figure.cells() for figure in figures])


def load() -> str:
    """The 1, 5 and 15 minute load averages: figures from a busy machine are slower."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def progress(message: str) -> None:
    """A line on stderr, so that a long run shows where it is without mixing into the table."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def tree_rss(root: int) -> int:
    """Resident memory of ``root`` and its descendants, summed (shared pages count once per process)."""
    from django_cedula.browser import processes

    return processes.tree_rss_bytes(root)


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) used so far by ``root`` and its live descendants, and by the children
    they have reaped."""
    from django_cedula.browser import processes

    ticks = 0
    for pid in [root, *(p.pid for p in processes.descendants(root))]:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rpartition(b")")[2].split()
        except OSError:
            continue
        # utime, stime, cutime, cstime: fields 14 to 17 of the line, 11 to 14 after the command name.
        ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[int, int]:
    """Busy and total jiffies of the whole machine so far (``/proc/stat``); compare two readings."""
    with open("/proc/stat") as stat:
        values = [int(value) for value in stat.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle and iowait
    return sum(values) - idle, sum(values)


def busy_fraction(before: tuple[int, int], after: tuple[int, int]) -> float:
    """How busy the machine's CPUs were between two :func:`machine_cpu` readings (0 to 1)."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total else 0.0


def tagged_processes(tag: str) -> list[int]:
    """Live processes whose environment carries ``TAG_VAR=tag``: what this run started."""
    return processes_carrying(TAG_VAR, tag)


def processes_carrying(name: str, value: str) -> list[int]:
    """Live processes other than this one whose environment carries ``name=value``."""
    from django_cedula.browser import processes

    needle = f"{name}={value}".encode()
    found = []
    for info in processes.iter_processes():
        if info.pid == os.getpid() or not info.alive:
            continue
        try:
            with open(f"/proc/{info.pid}/environ", "rb") as environ:
                if needle in environ.read().split(b"\0"):
                    found.append(info.pid)
        except OSError:
            continue
    return found


def kill_stragglers(find: Callable[[], list[int]], timeout: float) -> list[int]:
    """Give the processes ``find`` lists up to ``timeout`` seconds to exit, then SIGKILL those still
    there; returns them."""
    deadline = time.monotonic() + timeout
    while True:
        left = find()
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


def chromium_count() -> int:
    """How many processes on the whole machine have "chromium" in their command line (``pgrep -f``)."""
    done = subprocess.run(["pgrep", "-f", "chromium"], capture_output=True, text=True, check=False)
    return len(done.stdout.split())


@contextlib.contextmanager
def database(vendor: str, name: str) -> Iterator[dict[str, str]]:
    """A new, empty database for one benchmark, dropped afterwards; yields the environment naming it.

    PostgreSQL: ``name`` is created (and dropped first if a previous run left it). SQLite: a file
    in a fresh temporary directory, on disk as a site's would be.
    """
    env = {"CEDULA_BENCH_DATABASE": vendor}
    if vendor == "postgres":
        _drop_and_create(name, create=True)
        try:
            yield {**env, "CEDULA_BENCH_DATABASE_NAME": name}
        finally:
            _drop_and_create(name, create=False)
    else:
        with tempfile.TemporaryDirectory(prefix=f"{name}-") as directory:
            yield {**env, "CEDULA_BENCH_DATABASE_NAME": str(Path(directory) / f"{name}.sqlite3")}


def _drop_and_create(name: str, *, create: bool) -> None:
    import psycopg
    from psycopg import sql

    conninfo = psycopg.conninfo.make_conninfo(dbname="postgres", **PG)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        # WITH (FORCE): a worker killed mid-run may still hold a connection for a moment.
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if create:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def project_environment(database_env: dict[str, str], **extra: str) -> dict[str, str]:
    """The environment of a process of the benchmark project (``benchmarks.settings``)."""
    env = dict(os.environ)
    env.update(database_env)
    env.update(
        DJANGO_SETTINGS_MODULE="benchmarks.settings",
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def run_child(
    module: str, args: Sequence[str], env: dict[str, str] | None = None, *, timeout: float = 3600
) -> dict[str, Any]:
    """Run ``python -m module child ARGS --out FILE`` and return the JSON object it wrote there.

    Each measurement runs in its own process so that Django is set up once with the settings it
    needs, and memory figures are that process's own. Its output goes to a log file, shown if it
    fails. On a timeout it gets SIGTERM (its ``finally`` blocks stop what it started), then SIGKILL.
    """
    with tempfile.TemporaryDirectory(prefix="cedula-bench-") as directory:
        out, log_path = Path(directory) / "result.json", Path(directory) / "child.log"
        command = [sys.executable, "-m", module, "child", *args, "--out", str(out)]
        with log_path.open("wb") as log:
            child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(60)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
            except BaseException:
                child.send_signal(signal.SIGTERM)  # Ctrl-C: let it stop its own children
                child.wait(60)
                raise
        if child.returncode != 0 or not out.exists():
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{module} {' '.join(args)} exited with {child.returncode}:\n{tail}")
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def standalone_parser(description: str) -> argparse.ArgumentParser:
    """The options of a benchmark module run on its own: ``[--quick] [--json PATH]``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, for a smoke run")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    return parser


def child_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The options of a measurement's child process (:func:`run_child`): ``--out FILE`` and its own."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--out", required=True)
    return parser


def write_result(
    path: str | Path, result: dict[str, Any], *, default: Callable[[Any], Any] | None = None
) -> int:
    """Write a child's result where :func:`run_child` reads it; returns the child's exit status, 0."""
    with open(path, "w") as out:
        json.dump(result, out, default=default)
    return 0


def write_json(path: str | Path, payload: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(payload, indent=2, default=str) + "\n")


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that a child's ``finally`` blocks stop what it started."""

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def standalone(title: str, run: Callable[[bool], list[Figure]], argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.<name> [--quick] [--json PATH]``: one benchmark and its table."""
    parser = standalone_parser(title)
    options = parser.parse_args(argv)
    os.environ.setdefault(TAG_VAR, uuid.uuid4().hex)
    print(f"Machine: {machine()}; load {load()}")
    figures = run(options.quick)
    print_figures(title, figures)
    if options.json:
        write_json(options.json, {"machine": machine(), "figures": [dataclasses.asdict(f) for f in figures]})
    # Goals missed are figures like any other; only a benchmark that could not run fails the command.
    return 1 if any("error" in figure.data for figure in figures) else 0


def module_main(
    title: str, run: Callable[[bool], list[Figure]], child: Callable[[list[str]], int], argv: list[str] | None
) -> int:
    """A benchmark module's command line: ``child ARGS`` is one measurement (:func:`run_child`),
    anything else :func:`standalone`."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        return child(argv[1:])
    return standalone(title, run, argv)
