"""Reading 1 MiB of pathological markup: time and peak memory, the package's reader before and after lxml.

    .venv/bin/python -m benchmarks.parsing [--quick] [--json PATH]

Each input is 1 MiB (``MAX_ANSWER_BYTES``, the most a scraper reads of an answer) of one kind of
:data:`django_cedula.testing.replica.faults.HOSTILE_MARKUP`: unclosed comments (``<!--`` repeated),
one tag repeating an attribute (``<a x=y x=y ...``), ``<div>`` nested 200,000 deep, one huge text
node, an entity flood (``&amp;`` repeated), unclosed ``<b>`` tags, a table of 260,000 cells, and
stray ``<``. Two readers see it: the answer's (``parse_wsp_response``, as the scrapers read a wsp
answer; the markup is the whole body, as the replica's ``hostile_markup`` fault sends it) and the
form page's (``read_form_page``, as the HTTP-only scrapers read the page they load).

"After" is this checkout's package; "before" is the package as it was on the last commit whose
reader used the standard library's ``html.parser`` (found with ``git log -S``, or the commit named
by ``CEDULA_BENCH_PARSING_BEFORE``), exported with ``git archive`` into a temporary directory. Each
measurement runs in a fresh process importing one of the two: the wall time of the call (the median
of 3 calls after; one call before, which can take minutes) and the growth of the process's peak
resident memory during it (``VmHWM``, reset before the call, less the RSS before it). A call still
running after the time limit (60 s; 20 s with ``--quick``) is stopped and reported as such, with
the peak RSS the parent saw.

Ratios are before / after: above 1, the lxml reader is faster (or grows the process less).

Goal (after): each read ends within 2 s and grows the process by under 64 MiB: far inside
``CEDULA_LOOKUP_TIMEOUT`` (120 s by default) and a worker's memory.
"""

from __future__ import annotations

import gc
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from .common import (
    MIB,
    ROOT,
    Figure,
    child_parser,
    failed_figure,
    module_main,
    progress,
    stop_on_sigterm,
    write_result,
)

TITLE = "Reading 1 MiB of pathological markup"
READERS = {"answer": "parse_wsp_response", "form page": "read_form_page"}
GOAL_SECONDS = 2.0
GOAL_GROWTH = 64 * MIB
#: Names the commit whose package is "before" (default: found in the history, see the docstring).
BEFORE_VAR = "CEDULA_BENCH_PARSING_BEFORE"
SAMPLE_EVERY = 0.02


def run(quick: bool) -> list[Figure]:
    from django_cedula.testing.replica.faults import HOSTILE_MARKUP, HOSTILE_MARKUP_BYTES

    limit = 20.0 if quick else 60.0
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="cedula-bench-parsing-") as directory:
        try:
            before_ref = _before_ref()
            before_tree: Path | None = _export(before_ref, Path(directory))
        except (OSError, subprocess.CalledProcessError, RuntimeError) as exc:
            progress(f"parsing: no 'before' package ({exc}); measuring this checkout only")
            before_ref, before_tree = "", None
        for kind, (head, unit) in HOSTILE_MARKUP.items():
            for reader in READERS:
                benchmark = f"parsing, {kind.replace('_', ' ')} ({reader})"
                progress(f"{benchmark}: after")
                try:
                    after = _measure(ROOT, head, unit, HOSTILE_MARKUP_BYTES, reader, 3, limit)
                    before = None
                    if before_tree is not None:
                        progress(f"{benchmark}: before ({before_ref[:10]})")
                        before = _measure(before_tree, head, unit, HOSTILE_MARKUP_BYTES, reader, 1, limit)
                except Exception as exc:  # one row failing must not lose the others
                    figures.append(failed_figure(benchmark, exc))
                    continue
                figures.append(_figure(benchmark, after, before, before_ref))
    return figures


def _figure(benchmark: str, after: dict[str, Any], before: dict[str, Any] | None, ref: str) -> Figure:
    def shown(result: dict[str, Any]) -> str:
        seconds = result["seconds"]
        time_text = f"> {seconds:.0f} s (stopped)" if result["stopped"] else _duration(seconds)
        return f"{time_text}, +{result['growth'] / MIB:.0f} MiB"

    ratio = ""
    if before is not None:
        times = before["seconds"] / max(after["seconds"], 1e-6)
        memory = (before["growth"] + MIB) / (after["growth"] + MIB)  # +1 MiB: no division by ~0
        ratio = f"time {'>' if before['stopped'] else ''}{_times(times)}, memory {_times(memory)}"
    met = not after["stopped"] and after["seconds"] < GOAL_SECONDS and after["growth"] < GOAL_GROWTH
    return Figure(
        benchmark,
        "time; peak RSS growth (lxml)",
        f"{shown(after)} ({after['status']})",
        "" if before is None else f"html.parser ({ref[:10]}): {shown(before)}",
        ratio,
        f"under {GOAL_SECONDS:g} s and +{GOAL_GROWTH / MIB:.0f} MiB",
        met,
        data={"after": after, "before": before, "before_ref": ref},
    )


def _times(ratio: float) -> str:
    """``before / after`` as shown: above 1, the lxml reader is faster (or smaller)."""
    return f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _before_ref() -> str:
    """The last commit whose reader imported ``html.parser``."""
    if os.environ.get(BEFORE_VAR):
        return os.environ[BEFORE_VAR]
    removed = _git("log", "-1", "--format=%H", "-S", "from html.parser import", "--", _MARKUP).strip()
    if not removed:
        raise RuntimeError("no commit in this history changed html.parser's import in the reader")
    if "from html.parser import" in _git("show", f"{removed}:{_MARKUP}"):
        return removed  # the history's last change added it: that commit still reads with it
    return _git("rev-parse", f"{removed}^").strip()


_MARKUP = "django_cedula/scrapers/parsing/markup.py"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def _export(ref: str, directory: Path) -> Path:
    """The package as of ``ref``, in ``directory``/before."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "django_cedula"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    tree = directory / "before"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # 3.12, and the security releases of 3.10 and 3.11
            tar.extractall(tree, filter="data")
        else:  # pragma: no cover - our own history's archive
            tar.extractall(tree)
    return tree


def _measure(
    tree: Path, head: bytes, unit: bytes, size: int, reader: str, repeat: int, limit: float
) -> dict[str, Any]:
    """One child process reading the markup with the package found in ``tree``."""
    with tempfile.TemporaryDirectory(prefix="cedula-bench-") as directory:
        out, ready, log_path = (Path(directory) / name for name in ("result.json", "ready.json", "log"))
        command = [
            sys.executable, "-m", "benchmarks.parsing", "child", "--tree", str(tree), "--head", head.hex(),
            "--unit", unit.hex(), "--size", str(size), "--reader", reader, "--repeat", str(repeat),
            "--ready", str(ready), "--out", str(out),
        ]  # fmt: skip
        with log_path.open("wb") as log:
            child = psutil.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            peak, started = 0, time.monotonic()
            try:
                while child.poll() is None and time.monotonic() - started < limit + 30:
                    call = _ready(ready)
                    if call is not None and time.monotonic() - call["at"] > limit:
                        break
                    try:
                        peak = max(peak, child.memory_info().rss)
                    except psutil.Error:
                        break
                    time.sleep(SAMPLE_EVERY)
            finally:
                stopped = child.poll() is None
                if stopped:
                    child.kill()
                child.wait()
        if stopped:
            call = _ready(ready)
            if call is None:
                raise RuntimeError(f"the child did not get ready in {limit + 30:g} s")
            return {"stopped": True, "seconds": limit, "growth": max(0, peak - call["rss"]), "status": "-"}
        if child.returncode != 0 or not out.exists():
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the child exited with {child.returncode}:\n{tail}")
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def _ready(path: Path) -> dict[str, Any] | None:
    """What the child wrote before its timed call (its RSS, the call's start), or ``None`` yet."""
    try:
        call: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return call


# -- the child: one reader, one input, one package --------------------------------------------------


def _status_line(name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_hwm() -> None:
    # Linux: writing 5 to clear_refs resets the peak resident set size (VmHWM) to the current one.
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def child(argv: list[str]) -> int:
    parser = child_parser(prog="python -m benchmarks.parsing child")
    parser.add_argument("--tree", required=True)
    parser.add_argument("--head", required=True)
    parser.add_argument("--unit", required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--reader", choices=sorted(READERS), required=True)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--ready", required=True)
    options = parser.parse_args(argv)
    stop_on_sigterm()
    # Before anything imports the package: the tree given is the one measured.
    sys.path.insert(0, options.tree)
    from django_cedula.scrapers import parsing

    if not Path(parsing.__file__).resolve().is_relative_to(Path(options.tree).resolve()):
        raise RuntimeError(f"imported {parsing.__file__}, not the package in {options.tree}")
    read = getattr(parsing, READERS[options.reader])
    head, unit = bytes.fromhex(options.head), bytes.fromhex(options.unit)
    markup = (head + unit * (options.size // len(unit) + 1))[: options.size].decode("ascii")
    read("<p>warm</p>")  # imports and caches, out of the figures

    seconds: list[float] = []
    growth, status = 0, ""
    for _ in range(options.repeat):
        gc.collect()
        rss = _status_line("VmRSS")
        _reset_hwm()
        # Written whole, then renamed: the parent never reads half of it.
        pending = Path(options.ready + ".tmp")
        pending.write_text(json.dumps({"rss": rss, "at": time.monotonic()}))
        pending.replace(options.ready)
        started = time.perf_counter()
        result = read(markup)
        seconds.append(time.perf_counter() - started)
        growth = max(growth, _status_line("VmHWM") - rss)
        status = str(getattr(getattr(result, "status", None), "value", type(result).__name__))
        del result
    return write_result(
        options.out,
        {
            "stopped": False,
            "seconds": statistics.median(seconds),
            "all_seconds": seconds,
            "growth": growth,
            "status": status,
        },
    )


def main(argv: list[str] | None = None) -> int:
    return module_main(TITLE, run, child, argv)


if __name__ == "__main__":
    sys.exit(main())
