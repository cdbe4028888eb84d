"""``python -m django_cedula.testing.replica`` in a subprocess."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from django_cedula.testing.replica import DEFAULT_SITE_KEY
from django_cedula.testing.replica.__main__ import build_parser
from django_cedula.testing.replica.tokens import issue_token

from .helpers import Remote, WspClient

ROOT = Path(__file__).resolve().parents[2]


class Running:
    """A replica subprocess whose stdout is read line by line in the background."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "django_cedula.testing.replica", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def line(self, timeout: float = 10.0) -> str:
        return self.lines.get(timeout=timeout)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=10)
        finally:
            if self.process.poll() is None:
                self.process.kill()


@pytest.fixture
def cli() -> Iterator[Running]:
    running = Running(
        "--port",
        "0",
        "--quiet",
        "--token-max-age",
        "30",
        "--fault",
        "get500::1",
        "--slow-seconds",
        "0.1",
    )
    yield running
    running.stop()


def test_cli_serves_and_stops_on_sigterm(cli: Running) -> None:
    first = cli.line()
    assert first.startswith("django-cedula replica running at http://127.0.0.1:")
    url = first.rsplit(" ", 1)[1]
    printed = [cli.line() for _ in range(6)]
    assert f"  Source A (wsp):           {url}censo/consultar/" in printed
    assert "  captcha tokens:           the solver stand-ins', once each, 30 s" in printed
    assert "  fault: get500 for every request, 1 time(s)" in printed

    client = WspClient(Remote(url))
    assert client.load().status == 500, "the --fault from the command line fired"
    assert client.load().status == 200
    # A token issued in this process is accepted by the replica in the other one, once.
    assert client.post("1000000001").json()["success"] is True
    used = client.captcha
    assert client.lookup("1000000001", captcha=used).json()["data"]["message"].startswith("Marque el cuadro")
    stale = issue_token(DEFAULT_SITE_KEY, issued_at=time.time() - 31)
    assert client.lookup("1000000001", captcha=stale).json()["success"] is False, "--token-max-age 30"
    assert client.lookup("1000000052").json()["success"] is True, "--slow-seconds 0.1 keeps it quick"
    assert cli.stop() == 0


def test_cli_stops_on_ctrl_c() -> None:
    running = Running("--port", "0", "--quiet")
    assert running.line().startswith("django-cedula replica running at")
    assert running.stop(signal.SIGINT) == 0


def test_cli_stops_on_sigint_even_when_started_with_it_ignored() -> None:
    """What a background job of a non-interactive shell gets (CI ran the suite so once): a
    KeyboardInterrupt never comes, the replica's own handler still stops it."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited by the child
    try:
        running = Running("--port", "0", "--quiet")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert running.line().startswith("django-cedula replica running at")
    assert running.stop(signal.SIGINT) == 0


def test_cli_logs_requests_unless_quiet() -> None:
    running = Running("--port", "0")
    url = running.line().rsplit(" ", 1)[1]
    WspClient(Remote(url)).load()
    assert running.stop() == 0
    assert running.process.stderr is not None
    assert '"GET /censo/consultar/ HTTP/1.1" 200' in running.process.stderr.read()


def test_cli_rejects_a_bad_fault() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "django_cedula.testing.replica", "--fault", "explode"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "not a fault mode" in result.stderr


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("drop", ("drop", None, None)),
        ("slow:1020304050", ("slow", "1020304050", None)),
        ("block:1020304050:2", ("block", "1020304050", 2)),
        ("curl_error::3", ("curl_error", None, 3)),
    ],
)
def test_fault_spec_parsing(spec: str, expected: tuple[str, str | None, int | None]) -> None:
    (mode, cedula, times), *_ = build_parser().parse_args(["--fault", spec]).fault
    assert (mode.value, cedula, times) == expected


@pytest.mark.parametrize("spec", ["slow::0", "slow::x", "slow:1:2:3"])
def test_fault_spec_errors(spec: str) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--fault", spec])


def test_defaults_bind_loopback() -> None:
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.valid_token, args.token_max_age) == ("127.0.0.1", 8765, None, 120.0)


def test_cli_fixed_token_only_when_asked() -> None:
    running = Running("--port", "0", "--quiet", "--valid-token", "cli-token")
    try:
        url = running.line().rsplit(" ", 1)[1]
        printed = [running.line() for _ in range(6)]
        assert "  fixed captcha token:      the --valid-token string, on every use" in printed
        assert not any("cli-token" in line for line in printed), "the token's value is not printed"
        client = WspClient(Remote(url))
        assert client.lookup("1000000001", captcha="cli-token").json()["success"] is True
        assert client.lookup("1000000001", captcha="cli-token").json()["success"] is True
    finally:
        assert running.stop() == 0
