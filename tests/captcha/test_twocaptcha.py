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
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from django_cedula.captcha.twocaptcha import TwoCaptchaSolver
from django_cedula.exceptions import CaptchaError, CaptchaUnreachable
from django_cedula.scrapers.solving import CaptchaSolve

API_KEY = "0123456789abcdef0123456789abcdef"


def _replica_token_issuer() -> Callable[[str], str] | None:
    """The issuer of signed tokens the local replica accepts, where that module exists."""
    try:
        from django_cedula.testing.replica.tokens import issue_token
    except ImportError:  # pragma: no cover
        return None
    return issue_token


ISSUE_TOKEN = _replica_token_issuer()


class FakeTwoCaptcha(BaseHTTPRequestHandler):
    """2Captcha's ``in.php`` / ``res.php`` API, every call recorded in :attr:`calls`.

    in.php takes a job and answers its id (4242, 4243, ...); res.php ``action=get`` answers "not
    ready" on a job's first poll, then its token (or an error); ``reportbad`` / ``reportgood`` answer
    ``OK_REPORT_RECORDED``.

    Modes: ``ok``; ``unsolvable``; ``never`` (res.php is never ready); ``hang`` (res.php does not
    answer until the test ends, as a service that stopped responding); ``down`` (res.php answers
    HTTP 503); ``report_refused`` (reports answer ``ERROR_REPORT_NOT_RECORDED``).
    """

    jobs: ClassVar[list[dict[str, Any]]] = []
    calls: ClassVar[list[dict[str, str]]] = []
    #: Job id -> the token its solve gives, and the polls it had.
    tokens: ClassVar[dict[str, str]] = {}
    job_polls: ClassVar[dict[str, int]] = {}
    polls: ClassVar[int] = 0
    mode: ClassVar[str] = "ok"
    release: ClassVar[threading.Event] = threading.Event()
    lock: ClassVar[threading.Lock] = threading.Lock()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, text: str, status: int = 200) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        fields = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        cls = type(self)
        with cls.lock:
            cls.calls.append({"path": urlsplit(self.path).path, **fields})
            cls.jobs.append(fields)
            if fields.get("key") != API_KEY:
                self._reply("ERROR_KEY_DOES_NOT_EXIST")
                return
            id_ = str(4241 + len(cls.jobs))
            site_key = fields.get("googlekey", "")
            cls.tokens[id_] = ISSUE_TOKEN(site_key) if ISSUE_TOKEN else f"solved-token-{id_}-{API_KEY[-4:]}"
            cls.job_polls[id_] = 0
        self._reply(f"OK|{id_}")

    def do_GET(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        cls = type(self)
        with cls.lock:
            cls.calls.append({"path": urlsplit(self.path).path, **query})
        if query.get("key") != API_KEY:
            self._reply("ERROR_KEY_DOES_NOT_EXIST")
            return
        action, id_ = query.get("action"), query.get("id", "")
        if cls.mode == "down":
            self._reply("<html>503 Service Unavailable</html>", status=503)
            return
        if action in ("reportbad", "reportgood"):
            known = id_ in cls.tokens
            if cls.mode == "report_refused":
                self._reply("ERROR_REPORT_NOT_RECORDED")
            else:
                self._reply("OK_REPORT_RECORDED" if known else "ERROR_WRONG_CAPTCHA_ID")
            return
        assert action == "get"
        if id_ not in cls.tokens:
            self._reply("ERROR_WRONG_CAPTCHA_ID")
            return
        with cls.lock:
            cls.polls += 1
            cls.job_polls[id_] += 1
            first = cls.job_polls[id_] == 1
        if cls.mode == "hang":
            cls.release.wait(60)
        if first or cls.mode == "never":
            self._reply("CAPCHA_NOT_READY")
        elif cls.mode == "unsolvable":
            self._reply("ERROR_CAPTCHA_UNSOLVABLE")
        else:
            self._reply("OK|" + cls.tokens[id_])

    @classmethod
    def reports(cls) -> list[tuple[str, str]]:
        """``(action, id)`` of every report received."""
        return [(c["action"], c["id"]) for c in cls.calls if c.get("action", "").startswith("report")]


#: The name of the stand-in's request threads (told apart from the client's in thread counts).
STAND_IN_THREAD = "2captcha-stand-in"


class StandInServer(ThreadingHTTPServer):
    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=STAND_IN_THREAD,
            daemon=True,
        )
        thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up on a hanging request has closed its end: nothing to report.
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made once for the module (an RSA key
    costs up to a second)."""
    folder = tmp_path_factory.mktemp("stand-in-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def fake_api(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A TLS server on 127.0.0.1 with a certificate the client is told to trust."""
    cert, key = certificate
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    FakeTwoCaptcha.jobs, FakeTwoCaptcha.calls, FakeTwoCaptcha.polls, FakeTwoCaptcha.mode = [], [], 0, "ok"
    FakeTwoCaptcha.tokens, FakeTwoCaptcha.job_polls = {}, {}
    FakeTwoCaptcha.release = threading.Event()
    server = StandInServer(("127.0.0.1", 0), FakeTwoCaptcha)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    # A short poll so that shutdown() returns at once rather than after half a second.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    FakeTwoCaptcha.release.set()
    server.shutdown()
    server.server_close()


def test_solves_through_the_api(fake_api: str) -> None:
    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api, polling_interval=0.2)
    token = solver.solve_token("site-key-123", "https://wsp.example/censo/")
    assert token.ref == "4242"  # 2Captcha's id of the solve, for a report
    assert token.value == FakeTwoCaptcha.tokens["4242"]
    assert token.seconds > 0
    (job,) = FakeTwoCaptcha.jobs
    assert job["method"] == "userrecaptcha"
    assert job["googlekey"] == "site-key-123"
    assert job["pageurl"] == "https://wsp.example/censo/"
    assert FakeTwoCaptcha.polls == 2  # polled until ready


def test_a_wrong_key_is_a_captcha_error_that_does_not_quote_the_key(fake_api: str) -> None:
    solver = TwoCaptchaSolver(api_key="wrong-key-wrong-key", server=fake_api, polling_interval=0.2)
    with pytest.raises(CaptchaError) as excinfo:
        solver.solve("site-key", "https://wsp.example/")
    assert "ERROR_KEY_DOES_NOT_EXIST" in str(excinfo.value)
    assert "wrong-key-wrong-key" not in str(excinfo.value)


def test_an_unsolvable_captcha_is_a_captcha_error(fake_api: str) -> None:
    FakeTwoCaptcha.mode = "unsolvable"
    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api, polling_interval=0.2)
    with pytest.raises(CaptchaError, match="UNSOLVABLE"):
        solver.solve("site-key", "https://wsp.example/")


def test_an_unreachable_service_is_a_captcha_error_without_the_key() -> None:
    solver = TwoCaptchaSolver(api_key=API_KEY, server="127.0.0.1:9", polling_interval=0.2, timeout=2)
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
    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api, polling_interval=0.2)
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
    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api, polling_interval=0.2, timeout=1)
    outcome, _ = solve_in_thread(solver, timeout=100)
    assert isinstance(outcome, CaptchaError)
    assert "within 1 s" in str(outcome)


def test_no_time_left_means_no_solve_at_all(fake_api: str) -> None:
    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api, polling_interval=0.2)
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


# --------------------------------------------------------------------------- many in flight, one thread


def client_threads() -> set[threading.Thread]:
    """The live threads but the stand-in's own request threads."""
    return {thread for thread in threading.enumerate() if thread.name != STAND_IN_THREAD}


def forbid_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    def sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s")

    monkeypatch.setattr(time, "sleep", sleep)


def test_twenty_solves_in_flight_from_one_thread_without_a_thread_each(
    fake_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api)
    assert solver.supports_submit
    # threading.active_count(), less the stand-in's own request threads, which come and go.
    before = client_threads()
    forbid_sleep(monkeypatch)  # submit and poll return at once: the caller decides when to ask again

    refs = [solver.submit("site-key", f"https://wsp.example/{n}") for n in range(20)]
    assert len(set(refs)) == 20
    assert [job["pageurl"] for job in FakeTwoCaptcha.jobs] == [f"https://wsp.example/{n}" for n in range(20)]
    assert all(
        job["method"] == "userrecaptcha" and job["googlekey"] == "site-key" for job in FakeTwoCaptcha.jobs
    )
    assert solver.solves_in_flight() == 20
    assert client_threads() == before  # twenty solves in flight, not one thread more

    assert [solver.poll(ref) for ref in refs] == [None] * 20  # not ready yet
    assert solver.solves_in_flight() == 20
    tokens = [solver.poll(ref) for ref in refs]
    assert all(token is not None for token in tokens)
    assert [(t.ref, t.value) for t in tokens if t] == [(ref, FakeTwoCaptcha.tokens[ref]) for ref in refs]
    assert all(t.seconds > 0 for t in tokens if t)
    assert FakeTwoCaptcha.polls == 40  # one request a poll
    assert solver.solves_in_flight() == 0  # delivered solves are forgotten

    assert client_threads() == before

    with pytest.raises(CaptchaError, match="not in flight"):
        solver.poll(refs[0])  # a delivered solve is not polled again
    assert FakeTwoCaptcha.polls == 40


@pytest.mark.skipif(ISSUE_TOKEN is None, reason="no signed replica tokens in this tree")
def test_the_stand_in_s_tokens_are_ones_the_replica_accepts(fake_api: str) -> None:
    from django_cedula.testing.replica.tokens import TokenCheck, check_token

    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api)
    ref = solver.submit("replica-site-key", "https://wsp.example/")
    solver.poll(ref)
    token = solver.poll(ref)
    assert token is not None
    assert check_token(token.value, "replica-site-key") is TokenCheck.ACCEPTED
    assert check_token(token.value, "another-site-key") is TokenCheck.FOREIGN_SITE_KEY


def test_an_unsolvable_submitted_solve_is_a_captcha_error_and_forgotten(fake_api: str) -> None:
    FakeTwoCaptcha.mode = "unsolvable"
    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api)
    ref = solver.submit("site-key", "https://wsp.example/")
    assert solver.poll(ref) is None
    with pytest.raises(CaptchaError, match="ERROR_CAPTCHA_UNSOLVABLE") as excinfo:
        solver.poll(ref)
    assert API_KEY not in str(excinfo.value)
    assert solver.solves_in_flight() == 0


def test_a_refused_submit_is_a_captcha_error_without_the_key(fake_api: str) -> None:
    solver = TwoCaptchaSolver(api_key="wrong-key-wrong-key", server=fake_api)
    with pytest.raises(CaptchaError, match="ERROR_KEY_DOES_NOT_EXIST") as excinfo:
        solver.submit("site-key", "https://wsp.example/")
    assert "wrong-key-wrong-key" not in str(excinfo.value)
    assert solver.solves_in_flight() == 0


def test_a_poll_the_service_does_not_answer_says_so_and_keeps_the_solve_with_one_warning(
    fake_api: str, caplog: pytest.LogCaptureFixture
) -> None:
    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api)
    ref = solver.submit("site-key", "https://wsp.example/")
    FakeTwoCaptcha.mode = "down"
    with caplog.at_level(logging.WARNING, logger="django_cedula.captcha.twocaptcha"):
        # Not "not ready" (None): the supply would take the solve for unfinished and its token
        # for younger than it is.
        for _ in range(2):
            with pytest.raises(CaptchaUnreachable) as unanswered:
                solver.poll(ref)
            assert API_KEY not in str(unanswered.value)
    assert solver.solves_in_flight() == 1
    warnings = [r for r in caplog.records if r.name == "django_cedula.captcha.twocaptcha"]
    assert len(warnings) == 1  # a service that is down does not flood the log
    assert "503" in warnings[0].getMessage()
    assert API_KEY not in warnings[0].getMessage()
    FakeTwoCaptcha.mode = "ok"
    # The paid solve was kept: once the service answers again, its token comes.
    assert solver.poll(ref) is None
    token = solver.poll(ref)
    assert token is not None
    assert token.value == FakeTwoCaptcha.tokens[ref]


def test_submitted_solves_are_given_up_and_forgotten_after_the_bound(fake_api: str) -> None:
    assert TwoCaptchaSolver(api_key=API_KEY).submitted_limit == 150  # the slowest first solves
    assert TwoCaptchaSolver(api_key=API_KEY, timeout=60).submitted_limit == 60
    FakeTwoCaptcha.mode = "never"
    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api, timeout=0.5)
    first, second = (solver.submit("site-key", "https://wsp.example/") for _ in range(2))
    assert solver.poll(first) is None
    time.sleep(0.6)
    polls = FakeTwoCaptcha.polls
    with pytest.raises(CaptchaError, match=r"within 0\.5 s"):
        solver.poll(first)
    assert FakeTwoCaptcha.polls == polls  # given up without asking the service
    assert solver.solves_in_flight() == 1
    # The one never polled again is forgotten by the next submit: the state does not grow.
    third = solver.submit("site-key", "https://wsp.example/")
    assert solver.solves_in_flight() == 1
    with pytest.raises(CaptchaError, match="not in flight"):
        solver.poll(second)
    assert solver.poll(third) is None


# --------------------------------------------------------------------------- reports


def solved(solver: TwoCaptchaSolver) -> str:
    ref = solver.submit("site-key", "https://wsp.example/")
    while (token := solver.poll(ref)) is None:
        pass
    return token.ref


def test_reports_reach_the_service_with_the_solve_s_id(fake_api: str) -> None:
    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api, polling_interval=0.2)
    assert solver.supports_reports
    refused, accepted = solved(solver), solved(solver)
    blocking = solver.solve_token("site-key", "https://wsp.example/").ref
    solver.report(refused, accepted=False)
    solver.report(accepted, accepted=True)
    solver.report(blocking, accepted=False)
    assert FakeTwoCaptcha.reports() == [
        ("reportbad", refused),
        ("reportgood", accepted),
        ("reportbad", blocking),
    ]
    assert len({refused, accepted, blocking}) == 3
    solver.report("", accepted=False)  # a token without an id: nothing to report
    assert len(FakeTwoCaptcha.reports()) == 3


@pytest.mark.parametrize("failure", ["report_refused", "down", "unreachable", "unknown_id"])
def test_a_report_the_service_does_not_take_is_logged_once_and_never_raised(
    fake_api: str, every_record: EveryRecord, failure: str
) -> None:
    server = "127.0.0.1:9" if failure == "unreachable" else fake_api
    solver = TwoCaptchaSolver(api_key=API_KEY, server=server)
    FakeTwoCaptcha.tokens["4242"] = "a token"
    FakeTwoCaptcha.mode = failure
    solver.report("999" if failure == "unknown_id" else "4242", accepted=False)  # no exception
    warnings = [line for name, line in every_record.lines if name == "django_cedula.captcha.twocaptcha"]
    assert len(warnings) == 1
    assert "(bad)" in warnings[0]
    if failure != "unreachable":
        assert FakeTwoCaptcha.reports() == [("reportbad", "999" if failure == "unknown_id" else "4242")]
    assert not [line for _, line in every_record.lines if API_KEY in line]


def test_the_key_is_in_no_log_line_of_submit_poll_or_report(fake_api: str, every_record: EveryRecord) -> None:
    solver = TwoCaptchaSolver(api_key=API_KEY, server=fake_api)
    ref = solved(solver)
    solver.report(ref, accepted=False)
    solver.report(ref, accepted=True)
    FakeTwoCaptcha.mode = "unsolvable"
    failing = solver.submit("site-key", "https://wsp.example/")
    solver.poll(failing)
    with pytest.raises(CaptchaError):
        solver.poll(failing)
    requests_logged = [line for name, line in every_record.lines if "res.php" in line]
    assert len(requests_logged) == FakeTwoCaptcha.polls + 2, (
        "urllib3 did not log its requests: the test saw nothing"
    )
    assert all("key=***" in line for line in requests_logged)
    assert [line for _, line in every_record.lines if "in.php" in line]
    assert not [line for _, line in every_record.lines if API_KEY in line]
