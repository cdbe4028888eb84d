"""Run the example project with everything it needs, and stop it all on Ctrl-C.

    .venv/bin/python example_project/demo.py [--port 8000] [--replica-port 8765] [--no-browser]

It prepares the SQLite database (migrate, cache table, an ``admin`` user with a fresh password),
then starts three processes: the package's replica of the Registraduría site, a Django-Q2
cluster (``manage.py qcluster``) and the web server (``manage.py runserver``). It prints the
site's address, the admin login and cédulas to register with, then shows the worker's log.
Ctrl-C (or SIGTERM) stops every process it started, and every process those started.

With ``CEDULA_REAL_SITE=1`` and ``TWOCAPTCHA_API_KEY`` set, no replica is started: lookups go
to the real Registraduría site (see ``settings.py``).

The process helpers (:class:`Service`, :class:`Stack`) are also what the end-to-end tests
use to run the project. POSIX only (process groups and signals).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import webbrowser
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "example_project"
MANAGE = PROJECT / "manage.py"
DEFAULT_DATABASE = PROJECT / "db.sqlite3"
ADMIN_USERNAME = "admin"

#: Cédulas worth registering with, and what the example's profile page ends up showing.
#: The replica's column comes from its outcome table (``django_cedula.testing.replica``).
DEMO_CEDULAS: tuple[tuple[str, str], ...] = (
    ("1000000001", "Active: a voting place in Bogotá, mesa 12"),
    ("1000000002", "Active: a voting place in Medellín, mesa 7"),
    ("1000000010", "Not in the census"),
    ("1000000020", "Cancelled (deceased): Cancelada por Muerte"),
    ("1000000021", "Cancelled: Cancelada por Doble Cedulación"),
    ("1000000042", "Active (the scraper reloads the page by itself)"),
    ("1000000044", "Waiting to retry, then Active (found on the first retry)"),
    ("1000000041", "Waiting to retry (3 times, ~1.5 min), then Timed out and a Try again button"),
    ("1000000050", "Waiting to retry (3 times, ~1.5 min), then Blocked and a Try again button"),
    ("1234567890", "Active: any other number gets a place derived from it"),
)


# -- processes ------------------------------------------------------------------------------------


def _start_time(pid: int) -> str | None:
    """The start time of ``pid`` from ``/proc`` (tells a process from a later one with its pid)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().decode(errors="replace").rpartition(")")[2].split()
    except OSError:
        return None
    if fields and fields[0] in ("Z", "X"):
        return None  # a zombie is dead already
    return fields[19] if len(fields) > 19 else None


def descendants(pid: int) -> dict[int, str]:
    """Every living descendant of ``pid`` with its start time (empty where there is no ``/proc``)."""
    children: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as handle:
                    parent = int(handle.read().decode(errors="replace").rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(name))
    found: dict[int, str] = {}
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        started = _start_time(child)
        if started is not None:
            found[child] = started
        todo.extend(children.get(child, []))
    return found


def still_running(processes: Mapping[int, str]) -> list[int]:
    """The processes of ``processes`` (pid -> start time) that are alive, and not a later namesake."""
    return [pid for pid, started in processes.items() if _start_time(pid) == started]


def kill_leftovers(processes: Mapping[int, str]) -> list[int]:
    """SIGKILL each process of ``processes`` (pid -> start time) that is still running."""
    killed = []
    for pid in still_running(processes):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    return killed


def exit_code(process: subprocess.Popen[bytes]) -> int | None:
    """``process``'s exit code (negative: killed by that signal), or None while it runs.

    Unlike ``Popen.poll()`` this does not reap it, so that its process group id stays reserved
    until :meth:`Service.stop` has signalled the group.
    """
    if process.returncode is not None or not hasattr(os, "waitid"):
        return process.poll()
    try:
        result = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return process.poll()
    if result is None:
        return None
    return result.si_status if result.si_code == os.CLD_EXITED else -result.si_status


@dataclass
class Service:
    """A process started in its own session (so Ctrl-C in the terminal reaches only demo.py)."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    #: What to call it in messages ("the web server").
    description: str = ""
    #: Every descendant seen so far (pid -> start time), so that none outlives :meth:`stop`.
    seen: dict[int, str] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        log_dir: Path,
        *,
        echo: IO[str] | None = None,
        description: str = "",
    ) -> Service:
        """Start ``argv``; its output goes to ``log_dir/<name>.log`` and, when given, to ``echo``."""
        log_path = log_dir / f"{name}.log"
        with contextlib.ExitStack() as files:
            output = subprocess.PIPE if echo is not None else files.enter_context(log_path.open("wb"))
            process = subprocess.Popen(
                list(argv),
                cwd=ROOT,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = cls(name, process, log_path, description or name)
        if echo is not None:
            threading.Thread(
                target=service._copy_output, args=(echo,), name=f"{name}-output", daemon=True
            ).start()
        return service

    def _copy_output(self, echo: IO[str]) -> None:
        assert self.process.stdout is not None
        with self.log_path.open("wb") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                with contextlib.suppress(ValueError, OSError):
                    echo.write(f"{self.name:>7} | {line.decode(errors='replace').rstrip()}\n")
                    echo.flush()

    @property
    def running(self) -> bool:
        return exit_code(self.process) is None

    def remember_descendants(self) -> None:
        """Note the processes this service started (workers, browsers) while they are still ours."""
        if self.running:
            self.seen.update(descendants(self.process.pid))

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM the process and give it ``timeout`` seconds to stop what it started, then SIGKILL
        its process group and anything else it started. Returns the exit code."""
        self.remember_descendants()
        if self.running:
            # The leader only: qcluster stops its own workers, which close their browsers.
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.running and time.monotonic() < deadline:
                time.sleep(0.05)
        # The leader is exited but not reaped yet, so its group id cannot have been reused.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        code = self.process.wait()
        # Browsers run in process groups of their own; give them a moment to follow their parent.
        deadline = time.monotonic() + 5
        while still_running(self.seen):
            if time.monotonic() > deadline:
                kill_leftovers(self.seen)
                break
            time.sleep(0.05)
        return code


def port_or_free(preferred: int, host: str = "127.0.0.1") -> int:
    """``preferred`` if it can be bound on ``host`` now, else a free port (``0`` always picks one)."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers themselves do
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError(f"no free port on {host}")


def wait_for_url(url: str, service: Service, timeout: float = 60.0) -> None:
    """Wait until ``url`` answers over HTTP (any status); fail early if ``service`` exits."""
    deadline = time.monotonic() + timeout
    while True:
        if not service.running:
            code = exit_code(service.process)
            raise RuntimeError(f"the {service.description} exited with code {code}:\n{service.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout:.0f} s") from None
            time.sleep(0.1)


# -- the project --------------------------------------------------------------------------------


def project_environment(
    database: Path, replica_url: str | None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of the example project's processes (``replica_url=None``: the real site)."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="example_project.settings",
        EXAMPLE_DATABASE=str(database),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
        PYTHONUNBUFFERED="1",
    )
    if replica_url is not None:
        env["CEDULA_REPLICA_URL"] = replica_url
        env.pop("CEDULA_REAL_SITE", None)
    env.update(extra or {})
    return env


@dataclass
class Stack:
    """The example project running for real: the replica (optional), a qcluster and runserver.

    ``replica_url`` points the project at a replica someone else runs (the tests run one
    in-process to switch its faults); ``start_replica`` starts one on ``replica_port`` instead;
    with neither, the project's own settings decide (the real site with ``CEDULA_REAL_SITE=1``).
    """

    database: Path
    log_dir: Path
    web_port: int = 8000
    replica_port: int = 8765
    start_replica: bool = True
    replica_url: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(9))
    #: Where the worker's log is copied as it is written (besides its log file).
    echo_worker: IO[str] | None = None
    services: list[Service] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}/"

    def _env(self) -> dict[str, str]:
        return project_environment(self.database, self.replica_url, self.extra_env)

    def _manage(self, *args: str) -> list[str]:
        return [sys.executable, str(MANAGE), *args]

    def prepare(self) -> None:
        """Migrate, create the cache table and the admin user (``manage.py demo_setup``)."""
        env = {**self._env(), "DJANGO_SUPERUSER_PASSWORD": self.admin_password}
        result = subprocess.run(
            self._manage("demo_setup", "--admin-username", ADMIN_USERNAME),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        if result.returncode:
            raise RuntimeError(f"manage.py demo_setup failed:\n{result.stdout}{result.stderr}")

    def start_replica_process(self) -> None:
        self.replica_port = port_or_free(self.replica_port)
        port = str(self.replica_port)
        argv = [sys.executable, "-m", "django_cedula.testing.replica", "--port", port, "--quiet"]
        replica = Service.start(
            "replica", argv, self._env(), self.log_dir, description="replica of the Registraduría"
        )
        self.services.append(replica)
        base = f"http://127.0.0.1:{self.replica_port}/"
        wait_for_url(base, replica)
        self.replica_url = base + "censo/consultar/"

    def start_workers(self) -> None:
        cluster = Service.start(
            "worker",
            self._manage("qcluster"),
            self._env(),
            self.log_dir,
            echo=self.echo_worker,
            description="Django-Q2 cluster",
        )
        self.services.append(cluster)

    def start_web(self) -> None:
        self.web_port = port_or_free(self.web_port)
        argv = self._manage("runserver", f"127.0.0.1:{self.web_port}", "--noreload")
        web = Service.start("web", argv, self._env(), self.log_dir, description="web server")
        self.services.append(web)
        wait_for_url(self.url, web)

    def start(self) -> Stack:
        """Prepare the database and start every process; on failure, stop what started."""
        try:
            if self.start_replica and self.replica_url is None:
                self.start_replica_process()
            self.prepare()
            self.start_workers()
            self.start_web()
        except BaseException:
            self.stop()
            raise
        return self

    def exited(self) -> Service | None:
        """A service that is no longer running, if any."""
        return next((service for service in self.services if not service.running), None)

    def remember_descendants(self) -> None:
        for service in self.services:
            service.remember_descendants()

    def stop(self) -> None:
        """Stop the web server, then the workers (they finish or drop their jobs), then the replica."""
        for service in reversed(self.services):
            service.stop()
        self.services.clear()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# -- the command --------------------------------------------------------------------------------


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM arrived: stop everything."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def _ignore(signum: int, frame: FrameType | None) -> None:
    print("Still stopping, one moment...", flush=True)


def cedula_table() -> str:
    """The demo cédulas with what the replica answers and what the profile page ends up showing."""
    from django_cedula.testing.replica.outcomes import outcome_for  # stdlib only: no Django needed

    rows = [("cédula", "the replica answers", "the profile page shows")]
    rows += [(number, outcome_for(number).label, shows) for number, shows in DEMO_CEDULAS]
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    return "\n".join(f"  {row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}" for row in rows)


def _note_port(what: str, asked: int, got: int) -> None:
    if asked and asked != got:
        print(f"Port {asked} is busy; the {what} listens on port {got} instead.", flush=True)


def _can_open_browser() -> bool:
    # Without a display, webbrowser may start a text browser in this very terminal.
    return sys.platform == "darwin" or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _relative(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the django-cedula example project with a worker.")
    parser.add_argument(
        "--port", type=int, default=8000, help="web server port (default 8000; busy: any free)"
    )
    parser.add_argument(
        "--replica-port", type=int, default=8765, help="replica port (default 8765; busy or 0: any free)"
    )
    parser.add_argument("--no-browser", action="store_true", help="do not open the site in a web browser")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # run from a clone: django_cedula and example_project import from here
    real_site = os.environ.get("CEDULA_REAL_SITE") == "1"
    if real_site and not os.environ.get("TWOCAPTCHA_API_KEY"):
        print("CEDULA_REAL_SITE=1 needs TWOCAPTCHA_API_KEY (a 2Captcha API key).", file=sys.stderr)
        return 2
    database = Path(os.environ.get("EXAMPLE_DATABASE", str(DEFAULT_DATABASE)))
    log_dir = Path(tempfile.mkdtemp(prefix="django-cedula-demo-"))
    stack = Stack(
        database=database,
        log_dir=log_dir,
        web_port=args.port,
        replica_port=args.replica_port,
        start_replica=not real_site,
        echo_worker=sys.stdout,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    print("django-cedula demo", flush=True)
    print(f"  database  {_relative(database)}\n  logs      {log_dir}", flush=True)
    try:
        if real_site:
            print("Lookups go to the REAL Registraduría site (CEDULA_REAL_SITE=1), solved by 2Captcha.")
        else:
            stack.start_replica_process()
            _note_port("replica", args.replica_port, stack.replica_port)
            print(f"Replica of the Registraduría site: {stack.replica_url}", flush=True)
        stack.prepare()
        stack.start_workers()
        stack.start_web()
        _note_port("web server", args.port, stack.web_port)
        print(
            f"\nThe example site is running at {stack.url}\n"
            f"  Register at {stack.url}register/ with one of the cédulas below; the profile page\n"
            "  follows the background lookup until it is final.\n"
            f"  Admin: {stack.url}admin/  user {ADMIN_USERNAME}  password {stack.admin_password}\n",
            flush=True,
        )
        if not real_site:
            print(cedula_table() + "\n", flush=True)
            print(
                "To see what happens when the Registraduría changes its pages, switch the replica:\n"
                "  .venv/bin/python -m django_cedula.testing.replica.remote "
                f"{stack.replica_url} set new_markup\n"
                "  (or form_shape, refuse_tokens), register a few users, then watch\n"
                "  .venv/bin/python example_project/manage.py cedula_sources; put it back with\n"
                f"  .venv/bin/python -m django_cedula.testing.replica.remote {stack.replica_url} clear\n"
                "  .venv/bin/python example_project/manage.py cedula_sources --resume wsp\n",
                flush=True,
            )
        if not args.no_browser and _can_open_browser():
            webbrowser.open(stack.url)
        print("Press Ctrl-C to stop. The worker's log follows.\n", flush=True)
        while True:
            stack.remember_descendants()
            failed = stack.exited()
            if failed is not None:
                code = exit_code(failed.process)
                print(
                    f"\nThe {failed.description} stopped unexpectedly (exit code {code}). "
                    f"The end of its log:\n{failed.log_tail()}",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
            time.sleep(0.5)
    except Interrupted:
        return 0
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(f"\nThe demo could not start: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        signal.signal(signal.SIGTERM, _ignore)
        signal.signal(signal.SIGINT, _ignore)
        print("\nStopping every process the demo started...", flush=True)
        stack.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
