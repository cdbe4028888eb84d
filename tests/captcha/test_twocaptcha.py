"""The 2Captcha solver with the real client, against a local HTTPS stand-in of 2Captcha's API."""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from django_cedula.captcha.twocaptcha import TwoCaptchaSolver
from django_cedula.exceptions import CaptchaError

API_KEY = "0123456789abcdef0123456789abcdef"


class FakeTwoCaptcha(BaseHTTPRequestHandler):
    """in.php takes a job, res.php answers "not ready" once, then the token (or an error)."""

    jobs: ClassVar[list[dict[str, Any]]] = []
    polls: ClassVar[int] = 0
    mode: ClassVar[str] = "ok"

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
        if type(self).polls == 1:
            self._reply("CAPCHA_NOT_READY")
        elif type(self).mode == "unsolvable":
            self._reply("ERROR_CAPTCHA_UNSOLVABLE")
        else:
            self._reply("OK|solved-token-" + query["key"][-4:])


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
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeTwoCaptcha)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
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
