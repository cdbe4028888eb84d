"""The vigencia pre-check (:class:`~django_cedula.scrapers.vigencia.VigenciaPrecheck`) against the
replica's vigencia service, over HTTP and over HTTPS: each answer, each fault, its pace and its pause
for the whole cluster (on Redis), its source health, and that it never raises nor shows a number."""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.cache import caches

from django_cedula import health, throttle
from django_cedula.exceptions import ConfigurationError
from django_cedula.results import Vigencia
from django_cedula.scrapers.parsing.vigencia import read_vigencia_answer
from django_cedula.scrapers.vigencia import FAILURES_KEY, PAUSE_KEY, VigenciaPrecheck, precheck
from django_cedula.testing.replica import FaultMode, Replica
from django_cedula.testing.replica.site_pages import block_page

REDIS_DB = 14
ANSWERS = {
    "1000000001": (Vigencia.ALIVE, ""),  # in the census
    "1000000020": (Vigencia.DECEASED, "15/03/2019"),  # the census's cancelled by death
    "1000000090": (Vigencia.ALIVE, ""),  # alive, not in the census
    "1000000091": (Vigencia.NONEXISTENT, ""),
    "1000000092": (Vigencia.DECEASED, "02/08/2023"),
    "1000000093": (Vigencia.NO_DATA, ""),
    "52123456": (Vigencia.ALIVE, ""),  # any other number
}


@pytest.fixture(scope="module")
def replica() -> Iterator[Replica]:
    with Replica(tls=True, slow_seconds=10) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(replica: Replica) -> Iterator[None]:
    replica.reset()
    yield
    assert replica.errors == []


@pytest.fixture
def shared_cache(settings: Any) -> Iterator[Any]:
    """The throttle's and the health's cache on Redis (db 14), under a prefix of this test's own."""
    import redis

    prefix = f"precheck-{uuid.uuid4().hex}"
    settings.CACHES = {
        **settings.CACHES,
        "shared": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "KEY_PREFIX": prefix,
        },
    }
    settings.CEDULA_CACHE_ALIAS = "shared"
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    yield caches["shared"]
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def part(replica: Replica, *, tls: bool = False, **options: Any) -> VigenciaPrecheck:
    options.setdefault("rate", None)
    return VigenciaPrecheck(**replica.precheck_settings(tls=tls, **options)["OPTIONS"])


def asked(replica: Replica) -> int:
    """The questions the vigencia service received (its page's GETs aside)."""
    return replica.count(source="vigencia", method="POST")


# -- answers


@pytest.mark.parametrize(("number", "expected"), ANSWERS.items())
def test_each_answer_over_http(replica: Replica, number: str, expected: tuple[Vigencia, str]) -> None:
    result = part(replica).check(number)
    assert (result.vigencia, result.fecha, result.error) == (*expected, "")
    assert result.source == "vigencia"
    assert '"vigencia"' in result.raw
    # The number went as a JSON number ("nuip": int), which the service reads.
    (record,) = replica.requests(source="vigencia", method="POST")
    assert record.cedula == number


@pytest.mark.parametrize("number", ["1000000091", "1000000092"])
def test_over_tls_trusting_the_replicas_ca(replica: Replica, number: str) -> None:
    result = part(replica, tls=True).check(number)
    assert (result.vigencia, result.fecha) == ANSWERS[number]
    assert asked(replica) == 1


def test_verify_true_refuses_the_self_signed_chain_and_asks_nothing(replica: Replica) -> None:
    checker = VigenciaPrecheck(url=replica.vigencia_url_tls, rate=None)
    result = checker.check("1000000091")
    assert result.vigencia is None
    assert result.error.startswith("TLS: ")
    assert "CERTIFICATE_VERIFY_FAILED" in result.error
    assert asked(replica) == 0


def test_verify_false_takes_any_chain(replica: Replica) -> None:
    checker = VigenciaPrecheck(url=replica.vigencia_url_tls, rate=None, verify=False)
    assert checker.check("1000000091").vigencia is Vigencia.NONEXISTENT


# -- faults


@pytest.mark.parametrize(
    ("mode", "error", "sign"),
    [
        (FaultMode.VIGENCIA_RESET, "network: ConnectionResetError", False),
        (FaultMode.VIGENCIA_SHELL, "the page's empty shell (<app-root>)", True),
        (FaultMode.VIGENCIA_GARBAGE, "not JSON", True),
        (FaultMode.VIGENCIA_SLOW, "timeout", False),
    ],
)
def test_each_fault_is_an_error_result(replica: Replica, mode: FaultMode, error: str, sign: bool) -> None:
    replica.set_fault(mode, "1000000001")
    checker = part(replica, timeout=0.6)
    started = time.monotonic()
    result = checker.check("1000000001")
    assert time.monotonic() - started < 0.6 + 0.2  # never longer than its timeout
    assert result.vigencia is None
    assert result.error.startswith(error)
    assert asked(replica) == 1
    # An answer nobody can read is a sign that the service changed; a reset or a timeout is not.
    assert health.state("vigencia").streak == (1 if sign else 0)
    # The fault was for that number only: another is answered (once the pause a timeout starts is
    # over: a slow service costs every validation its timeout, so one timeout pauses the pre-check).
    if mode is FaultMode.VIGENCIA_SLOW:
        assert checker.check("1000000090").error.startswith("paused")
        caches["default"].delete(PAUSE_KEY)
    assert checker.check("1000000090").vigencia is Vigencia.ALIVE


@pytest.mark.parametrize(("mode", "failures"), [(FaultMode.VIGENCIA_SLOW, 1), (FaultMode.VIGENCIA_RESET, 3)])
def test_a_service_that_keeps_failing_to_answer_is_left_alone_longer_each_time(
    replica: Replica, mode: FaultMode, failures: int
) -> None:
    """Slow or down, it would cost every validation its timeout: a timeout, or three quick failures
    in a row, pause it (``pause_after_429``), doubling while it keeps failing; an answer ends it."""
    replica.set_fault(mode)
    checker = part(replica, timeout=0.5, pause_after_429=20)
    for _ in range(failures):
        assert checker.check("1000000001").vigencia is None
    assert asked(replica) == failures
    assert 19 < throttle.paused(PAUSE_KEY, 900) <= 20
    assert checker.check("1000000001").error.startswith("paused")
    assert asked(replica) == failures  # nothing sent while paused
    caches["default"].delete(PAUSE_KEY)
    for _ in range(failures):
        checker.check("1000000001")
    assert 39 < throttle.paused(PAUSE_KEY, 900) <= 40  # twice as long
    replica.clear_faults()
    caches["default"].delete(PAUSE_KEY)
    assert checker.check("1000000090").vigencia is Vigencia.ALIVE  # an answer ends it
    assert caches["default"].get(FAILURES_KEY) is None


def test_a_429_pauses_the_pre_check_without_asking(replica: Replica) -> None:
    replica.set_fault(FaultMode.VIGENCIA_429, times=1)
    checker = part(replica, pause_after_429=30)
    result = checker.check("1000000001")
    assert result.vigencia is None
    assert result.error == "HTTP 429: paused 30 s"
    assert 29 < throttle.paused(PAUSE_KEY, 30) <= 30
    paused = checker.check("1000000091")
    assert paused.error.startswith("paused for 30 s")
    assert asked(replica) == 1  # the paused check sent nothing


class _Refusing(BaseHTTPRequestHandler):
    """A front server that refuses: HTTP 403 at ``/403``, the F5 block page (HTTP 200) elsewhere."""

    def do_POST(self) -> None:
        status, body = (
            (403, b"Forbidden") if self.path == "/403" else (200, block_page("1234567890").encode())
        )
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize(("path", "error"), [("/403", "HTTP 403"), ("/block", "a block page")])
def test_a_403_or_a_block_page_pauses_as_a_429_does(path: str, error: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        checker = VigenciaPrecheck(url=f"http://127.0.0.1:{server.server_address[1]}{path}", rate=None)
        assert checker.check("1000000001").error == f"{error}: paused 60 s"
        assert throttle.paused(PAUSE_KEY, 60) > 59
        assert health.state("vigencia").streak == 0  # a refusal is no sign that the service changed
    finally:
        server.shutdown()
        server.server_close()


def test_the_pause_after_a_429_is_shared_through_redis(replica: Replica, shared_cache: Any) -> None:
    import redis

    replica.set_fault(FaultMode.VIGENCIA_429, times=1)
    first, second = part(replica), part(replica)  # two workers' parts
    assert first.check("1000000001").error.startswith("HTTP 429")
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    assert client.exists(shared_cache.make_key(PAUSE_KEY))
    assert second.check("1000000091").error.startswith("paused for 60 s")
    assert asked(replica) == 1


def test_one_a_second_across_two_threads(replica: Replica, shared_cache: Any) -> None:
    """Two workers' threads check as fast as they can for 3.5 s: the service is asked at most once a
    second, and no check takes longer than the timeout (one whose turn is too far is skipped)."""
    results: list[tuple[float, Any]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + 3.5

    def work() -> None:
        checker = part(replica, rate="1/s", timeout=3)
        while time.monotonic() < deadline:
            started = time.monotonic()
            result = checker.check("1000000001")
            with lock:
                results.append((time.monotonic() - started, result))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    arrivals = sorted(record.time for record in replica.requests(source="vigencia", method="POST"))
    assert 3 <= len(arrivals) <= 5
    assert min(b - a for a, b in itertools.pairwise(arrivals)) > 0.9
    assert max(took for took, _ in results) <= 3.0
    answered = [result for _, result in results if result.vigencia is Vigencia.ALIVE]
    assert len(answered) == len(arrivals)
    skipped = {result.error for _, result in results if result.vigencia is None}
    assert skipped <= {"no turn within the timeout (rate)"}


# -- health


@pytest.mark.django_db
def test_three_shells_take_the_vigencia_service_out_of_service(replica: Replica) -> None:
    replica.set_fault(FaultMode.VIGENCIA_SHELL)
    checker = part(replica)
    for number in ("1000000001", "1000000090", "1000000093"):
        assert "<app-root>" in checker.check(number).error
    state = health.state("vigencia")
    assert not state.in_service
    assert state.reason == "parse_error"
    # Out of service: not asked, an error at once.
    started = time.monotonic()
    assert checker.check("1000000091").error == "out of service"
    assert time.monotonic() - started < 0.1
    assert asked(replica) == 3
    # Put back (by an operator here; by its trial once due), it is asked again.
    replica.clear_faults()
    health.put_back("vigencia")
    assert checker.check("1000000091").vigencia is Vigencia.NONEXISTENT


# -- never raises, never shows a number


def test_never_raises(replica: Replica, settings: Any) -> None:
    settings.CEDULA_PRECHECK = replica.precheck_settings(rate=None)
    assert precheck("1000000091").vigencia is Vigencia.NONEXISTENT  # type: ignore[union-attr]
    assert precheck("12a45").error == "not a number"  # type: ignore[union-attr]
    # Nothing listens there.
    closed = VigenciaPrecheck(url="http://127.0.0.1:9/VigenciaCedula/consulta", rate=None)
    assert closed.check("1000000001").error.startswith("network: ")
    # The cache is down: the cluster's pace cannot be known, so the service is not asked.
    settings.CACHES = {
        **settings.CACHES,
        "down": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9"},
    }
    settings.CEDULA_CACHE_ALIAS = "down"
    settings.CEDULA_PRECHECK = replica.precheck_settings()
    result = precheck("1000000001")
    assert result is not None
    assert result.vigencia is None
    assert result.error.startswith("cache: ")
    assert asked(replica) == 1


def test_a_proxy_is_used(replica: Replica) -> None:
    # An HTTP proxy where nothing listens: the request goes there (and fails), not to the replica.
    checker = part(replica, proxy="http://user:secret-pass@127.0.0.1:9")
    result = checker.check("1000000001")
    assert result.error.startswith("network: ")
    assert "secret-pass" not in result.error
    assert asked(replica) == 0
    # Unless the service's host is in its bypass list.
    bypassing = part(replica, proxy={"server": "http://127.0.0.1:9", "bypass": "localhost, 127.0.0.1"})
    assert bypassing.check("1000000001").vigencia is Vigencia.ALIVE


def test_no_full_number_in_logs_or_errors(replica: Replica, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    number = "1000000091"
    for mode in (FaultMode.VIGENCIA_RESET, FaultMode.VIGENCIA_SHELL, FaultMode.VIGENCIA_GARBAGE):
        replica.set_fault(mode, number, times=1)
        result = part(replica).check(number)
        assert number not in result.error
    assert number not in caplog.text
    assert "******0091" in caplog.text
    # A service that quotes the number back in an answer nobody can read: masked in the error.
    read = read_vigencia_answer('{"vigencia": "Cedula 1000000091 bloqueada"}', number)
    assert read.vigencia is None
    assert number not in read.error
    sample = health.sample("vigencia")
    assert sample is not None
    assert number not in str(sample)


# -- reading the answer, and the options


@pytest.mark.parametrize(
    ("text", "vigencia"),
    [
        ("Vigente (Vivo)", Vigencia.ALIVE),
        ("  VIGENTE  (vivo) ", Vigencia.ALIVE),
        ("Cancelada por Muerte", Vigencia.DECEASED),
        ("Cédula no Existe", Vigencia.NONEXISTENT),
        ("CEDULA NO EXISTE", Vigencia.NONEXISTENT),
        ("Sin datos para consultar", Vigencia.NO_DATA),
        ("Sín Datos Para Consultar", Vigencia.NO_DATA),
        ("Vigente", None),
        ("Cancelada por Doble Cedulación", None),
        ("", None),
    ],
)
def test_the_four_texts_are_read_whatever_their_accents_and_case(text: str, vigencia: Any) -> None:
    import json

    read = read_vigencia_answer(json.dumps({"codigo": 200, "vigencia": text, "fecha": "01/02/2020"}))
    assert read.vigencia is vigencia
    assert bool(read.error) is (vigencia is None)


@pytest.mark.parametrize(
    "text",
    ["", "<html><body><app-root></app-root></body></html>", "[1, 2]", '{"codigo": 200}', "[" * 100_000],
)
def test_unreadable_answers(text: str) -> None:
    assert read_vigencia_answer(text).error


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"url": "ftp://host/secret-value"}, "url"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": 31}, "timeout"),
        ({"rate": "secret-value"}, "rate"),
        ({"pause_after_429": -1}, "pause_after_429"),
        ({"verify": "/nonexistent/secret-value.pem"}, "verify"),
        ({"verify": 1}, "verify"),
        ({"proxy": "socks5://user:secret-value@host:1080"}, "proxy"),
        ({"proxy": "http://user:secret-value/@host"}, "proxy"),
        ({"ip": 5}, "ip"),
    ],
)
def test_options_are_refused_by_name_never_by_value(options: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        VigenciaPrecheck(**options)
    assert str(refused.value).startswith(named)
    assert "secret-value" not in str(refused.value)


def test_an_unknown_option_is_refused() -> None:
    with pytest.raises(TypeError, match="'retries'"):
        VigenciaPrecheck(retries=3)
