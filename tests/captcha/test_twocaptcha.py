"""The 2Captcha solver with the real client, against a local HTTPS stand-in of 2Captcha's API."""

from __future__ import annotations

import concurrent.futures
import json
import logging
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from django_cedula.captcha.twocaptcha import TwoCaptchaSolver
from django_cedula.exceptions import CaptchaError
from django_cedula.scrapers.browser_scraper import CaptchaSolve

API_KEY = "0123456789abcdef0123456789abcdef"


class FakeTwoCaptcha(BaseHTTPRequestHandler):
    """in.php takes a job, res.php answers "not ready" once, then the token (or an error).

    Modes: ``ok``; ``unsolvable``; ``never`` (res.php is never ready); ``hang`` (res.php does not
    answer until the test ends, as a service that stopped responding).
    """

    jobs: ClassVar[list[dict[str, Any]]] = []
    polls: ClassVar[int] = 0
    mode: ClassVar[str] = "ok"
    release: ClassVar[threading.Event] = threading.Event()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, text: str) -> None:
        body = text.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        fields = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        type(self).jobs.append(fields)
        if fields.get("key") != API_KEY:
            self._reply("ERROR_KEY_DOES_NOT_EXIST")
        else:
            self._reply("OK|4242")

    def do_GET(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        assert query["id"] == "4242"
        type(self).polls += 1
        if type(self).mode == "hang":
            type(self).release.wait(60)
        if type(self).polls == 1 or type(self).mode == "never":
            self._reply("CAPCHA_NOT_READY")
        elif type(self).mode == "unsolvable":
            self._reply("ERROR_CAPTCHA_UNSOLVABLE")
        else:
            self._reply("OK|solved-token-" + query["key"][-4:])


class StandInServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up on a hanging request has closed its end: nothing to report.
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


@pytest.fixture
def fake_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A TLS server on 127.0.0.1 with a certificate the client is told to trust."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    FakeTwoCaptcha.jobs, FakeTwoCaptcha.polls, FakeTwoCaptcha.mode = [], 0, "ok"
    FakeTwoCaptcha.release = threading.Event()
    server = StandInServer(("127.0.0.1", 0), FakeTwoCaptcha)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    FakeTwoCaptcha.release.set()
    server.shutdown()
    server.server_close()


def test_solves_through_the_api(fake_api: str) -> None:
    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api, polling_interval=1)
    assert solver.solve("site-key-123", "https://wsp.example/censo/") == "solved-token-cdef"
    (job,) = FakeTwoCaptcha.jobs
    assert job["method"] == "userrecaptcha"
    assert job["googlekey"] == "site-key-123"
    assert job["pageurl"] == "https://wsp.example/censo/"
    assert FakeTwoCaptcha.polls == 2  # polled until ready


def test_a_wrong_key_is_a_captcha_error_that_does_not_quote_the_key(fake_api: str) -> None:
    solver = TwoCaptchaSolver(api_key="wrong-key-wrong-key", server=fake_api, polling_interval=1)
    with pytest.raises(CaptchaError) as excinfo:
        solver.solve("site-key", "https://wsp.example/")
    assert "ERROR_KEY_DOES_NOT_EXIST" in str(excinfo.value)
    assert "wrong-key-wrong-key" not in str(excinfo.value)


def test_an_unsolvable_captcha_is_a_captcha_error(fake_api: str) -> None:
    FakeTwoCaptcha.mode = "unsolvable"
    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api, polling_interval=1)
    with pytest.raises(CaptchaError, match="UNSOLVABLE"):
        solver.solve("site-key", "https://wsp.example/")


def test_an_unreachable_service_is_a_captcha_error_without_the_key() -> None:
    solver = TwoCaptchaSolver(api_key=API_KEY, server="127.0.0.1:9", polling_interval=1, timeout=2)
    with pytest.raises(CaptchaError) as excinfo:
        solver.solve("site-key", "https://wsp.example/")
    assert API_KEY not in str(excinfo.value)


def test_the_key_stays_out_of_reprs_and_options() -> None:
    solver = TwoCaptchaSolver(api_key=API_KEY)
    assert API_KEY not in repr(solver)
    assert API_KEY not in json.dumps(solver.options)
    with pytest.raises(ValueError, match="api_key"):
        TwoCaptchaSolver(api_key="")


# --------------------------------------------------------------------------- the key in no log line


class EveryRecord(logging.Handler):
    """Every record that reaches the root logger, formatted as a log file would show it."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, self.format(record)))


@pytest.fixture
def every_record(caplog: pytest.LogCaptureFixture) -> Iterator[EveryRecord]:
    root = logging.getLogger()
    handler, level = EveryRecord(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.mark.parametrize("mode", ["ok", "unsolvable"])
def test_the_key_is_in_no_log_line_of_any_logger_at_debug(
    fake_api: str, every_record: EveryRecord, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    FakeTwoCaptcha.mode = mode
    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api, polling_interval=1)
    try:
        solver.solve("site-key", "https://wsp.example/")
    except CaptchaError:
        assert mode == "unsolvable"
    polls = [line for name, line in every_record.lines if "res.php" in line]
    assert len(polls) == FakeTwoCaptcha.polls, "urllib3 did not log its requests: the test saw nothing"
    assert all("key=***" in line for line in polls)
    assert not [line for _, line in every_record.lines if API_KEY in line]
    assert API_KEY not in caplog.text
    assert not [r for r in caplog.records if API_KEY in r.getMessage()]


def test_a_traceback_logged_with_the_key_loses_it(every_record: EveryRecord) -> None:
    TwoCaptchaSolver(api_key=API_KEY)  # building the solver registers its key
    try:
        raise OSError(f"GET /res.php?key={API_KEY}&action=get failed")
    except OSError:
        logging.getLogger("urllib3.connectionpool").debug("retrying %s", f"key={API_KEY}", exc_info=True)
    (line,) = [line for name, line in every_record.lines if name == "urllib3.connectionpool"]
    assert "retrying key=***" in line
    assert "OSError: GET /res.php?key=***&action=get failed" in line
    assert API_KEY not in line


# --------------------------------------------------------------------------- a solve ends with its lookup


def solve_in_thread(solver: TwoCaptchaSolver, timeout: float) -> tuple[BaseException | str, float]:
    """Run a solve with ``timeout`` left; its outcome and how long it took (a hung solve fails the test)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        future = pool.submit(solver.solve, "site-key", "https://wsp.example/", timeout=timeout)
        try:
            outcome: BaseException | str = future.result(timeout=30)
        except CaptchaError as exc:
            outcome = exc
        return outcome, time.monotonic() - started


@pytest.mark.parametrize("mode", ["never", "hang"])
def test_a_solve_gives_up_when_its_lookup_has_no_time_left(fake_api: str, mode: str) -> None:
    FakeTwoCaptcha.mode = mode
    # The solver's own limit (180 s) and pause between polls (5 s) are both past the time left.
    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api, polling_interval=5)
    outcome, took = solve_in_thread(solver, timeout=1.5)
    assert isinstance(outcome, CaptchaError)
    assert "within 1.5 s" in str(outcome)
    # Ended by the time left, not after another 5 s pause or a request without an end; the margin
    # is for thread scheduling only.
    assert took < 1.5 + 2.0


def test_the_solver_s_own_limit_still_applies_when_the_lookup_has_more(fake_api: str) -> None:
    FakeTwoCaptcha.mode = "never"
    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api, polling_interval=1, timeout=1)
    outcome, _ = solve_in_thread(solver, timeout=100)
    assert isinstance(outcome, CaptchaError)
    assert "within 1 s" in str(outcome)


def test_no_time_left_means_no_solve_at_all(fake_api: str) -> None:
    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api, polling_interval=1)
    with pytest.raises(CaptchaError, match="no time left"):
        solver.solve("site-key", "https://wsp.example/", timeout=0)
    assert FakeTwoCaptcha.jobs == []  # nothing was bought


def test_the_scraper_s_solve_threads_are_freed_by_the_lookup_s_end(fake_api: str, settings: Any) -> None:
    """The scraper's two solve threads, each given a solve that would outlive its lookup."""
    FakeTwoCaptcha.mode = "hang"
    settings.CEDULA_LOOKUP_TIMEOUT = 1.5
    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api, polling_interval=5)
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="cedula-captcha")
    try:
        lookups = [CaptchaSolve(solver, executor) for _ in range(2)]
        for lookup in lookups:
            lookup.start("site-key", "https://wsp.example/")
        for lookup in lookups:
            assert lookup.future is not None
            with pytest.raises(CaptchaError, match="within"):
                lookup.future.result(timeout=30)
        # Both threads are free again: a third job runs though the service still hangs.
        assert executor.submit(lambda: "ran").result(timeout=5) == "ran"
    finally:
        FakeTwoCaptcha.release.set()
        executor.shutdown(wait=False, cancel_futures=True)
