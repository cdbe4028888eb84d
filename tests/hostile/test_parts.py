"""Broken parts around the package, as an attacker or a bad day leaves them: a broker that accepts
connections and never answers, a shared cache that is down or full of garbage, a solver that sends
back something no token is.

Real parts: the brokers are a TCP server on loopback in front of the local Redis, the caches the
local Redis (database 12, under a key prefix of each test's own), the source the replica over HTTP.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.core.cache import caches
from django.db import connections

from django_cedula import sweeper, throttle
from django_cedula.backends import ValidationJob, get_backend
from django_cedula.backends import base as backends_base
from django_cedula.backends.base import BrokerTimeout
from django_cedula.captcha import supply
from django_cedula.captcha.base import CaptchaSolver
from django_cedula.captcha.supply import get_token_supply
from django_cedula.captcha.supply_store import Target
from django_cedula.models import CedulaInfo
from django_cedula.results import ScrapeStatus
from django_cedula.scrapers import get_scraper
from django_cedula.testing.backends import RecordingBackend
from django_cedula.testing.replica import Replica

from ..browser.helpers import wait_until

Status = CedulaInfo.Status
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
#: This suite's Redis databases: 12 for caches, 14 for brokers.
CACHE_DB, BROKER_DB = 12, 14
CELERY = "django_cedula.backends.celery.CeleryBackend"
DJANGO_Q = "django_cedula.backends.django_q.DjangoQBackend"


class StallingBroker:
    """A TCP server on loopback that accepts connections, reads what it is sent and never answers,
    as a hung broker (or a firewall that swallows packets after the handshake) does.

    :meth:`come_back` turns it into what a restarted broker looks like: the stalled connections are
    dropped, and new ones reach the real Redis behind it.
    """

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.forwarding = False
        self.stalled: list[socket.socket] = []
        self.accepted = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            with self._lock:
                self.accepted += 1
                if not self.forwarding:
                    self.stalled.append(client)
                    threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
                    continue
            upstream = socket.create_connection((REDIS_HOST, REDIS_PORT))
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _swallow(client: socket.socket) -> None:
        try:
            while client.recv(65536):
                pass
        except OSError:
            pass

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def come_back(self) -> None:
        with self._lock:
            self.forwarding = True
            stalled, self.stalled = self.stalled, []
        for client in stalled:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()

    def close(self) -> None:
        self.server.close()
        self.come_back()


@pytest.fixture
def stalling_broker() -> Iterator[StallingBroker]:
    broker = StallingBroker()
    yield broker
    broker.close()
    # The hand-offs given up on end once their connection drops (above); wait for them so that the
    # next test starts with none stuck.
    deadline = time.monotonic() + 10
    while backends_base.stuck_handoffs() and time.monotonic() < deadline:
        time.sleep(0.05)


def register_in_thread(make_user: Callable[..., Any], cedula: str, limit: float) -> tuple[Any, float]:
    """Create a user (the registration: its row, then its job queued on commit) on a thread of its
    own, and wait ``limit`` seconds for it: a registration that hangs fails the test, not the run."""
    made: list[Any] = []

    def register() -> None:
        try:
            made.append(make_user(cedula=cedula))
        finally:
            connections.close_all()  # this thread's own connection

    started = time.monotonic()
    thread = threading.Thread(target=register, daemon=True)
    thread.start()
    thread.join(limit)
    took = time.monotonic() - started
    assert not thread.is_alive(), f"the registration still waits for the broker after {limit:g} s"
    (user,) = made
    return user, took


def broker_queue_length(key: str) -> int:
    return int(redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=BROKER_DB).llen(key))


# --------------------------------------------------------------------------- M4: a broker that never answers


@pytest.fixture
def celery_on(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    """``use(url)``: a Celery app with ``url`` as its broker, current on this thread (until the test
    ends), and the Celery backend on a queue of this test's own; returns the queue's name (its key
    in Redis)."""
    from celery import Celery, _state

    # Celery's current app is per thread: the one before this test's is put back after it.
    monkeypatch.setattr(_state._tls, "current_app", _state._tls.current_app)

    queue = f"hostile-{uuid.uuid4().hex[:12]}"
    apps: list[Any] = []

    def use(url: str) -> str:
        app = Celery("hostile", broker=url, set_as_current=True)
        app.conf.include = ["django_cedula.backends.celery"]
        apps.append(app)
        settings.CEDULA_TASKS = {
            "BACKEND": "django_cedula.backends.celery.CeleryBackend",
            "OPTIONS": {"queue": queue},
        }
        return queue

    yield use
    for app in apps:
        app.close()
    redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=BROKER_DB).delete(queue)


@pytest.mark.django_db(transaction=True)
def test_a_celery_broker_that_never_answers_does_not_hang_the_registration(
    stalling_broker: StallingBroker,
    celery_on: Callable[[str], str],
    make_user: Callable[..., Any],
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before: the registration waited for ever (killed at 45 s) with its row committed PENDING."""
    queue = celery_on(f"redis://127.0.0.1:{stalling_broker.port}/{BROKER_DB}")
    with caplog.at_level(logging.ERROR, logger="django_cedula"):
        user, took = register_in_thread(make_user, "1000000001", limit=30)
    assert stalling_broker.accepted >= 1, "the publish reached the broker"
    assert took < backends_base.ENQUEUE_TIMEOUT + 5
    assert CedulaInfo.objects.get(user=user).status == Status.PENDING
    assert f"Could not queue cédula validation for user {user.pk} (attempt 1): BrokerTimeout" in caplog.text
    assert "the Celery broker did not take the job within 5 s" in caplog.text

    # The broker is back: the sweeper queues the row.
    stalling_broker.come_back()
    settings.CEDULA_SWEEP = {"PENDING_AFTER": 60}
    report = sweeper.sweep(now=CedulaInfo.objects.get(user=user).updated_at + datetime.timedelta(minutes=2))
    assert (report.pending, report.enqueue_failures) == (1, 0)
    assert broker_queue_length(queue) >= 1  # a late publish of the stuck one may have arrived too


def test_an_eager_celery_runs_the_job_on_the_caller_s_thread(
    celery_on: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``task_always_eager`` (a host's tests): no broker to wait for, and the job must see the
    caller's connection and transaction, so it is not handed to a helper thread."""
    from celery import current_app

    from django_cedula.backends import celery as celery_backend

    celery_on("memory://")
    current_app.conf.task_always_eager = True
    ran_on: list[threading.Thread] = []
    monkeypatch.setattr(celery_backend, "run_job", lambda *args: ran_on.append(threading.current_thread()))
    get_backend().enqueue(ValidationJob(user_id=1))
    assert ran_on == [threading.current_thread()]


@pytest.fixture
def django_q_on(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[Callable[[int], str]]:
    """``use(port)``: Django-Q2 on a Redis broker at ``port`` (no socket timeout, as Django-Q2's own
    documentation sets it up), under a queue of this test's own; returns the queue's key."""
    from django_q.conf import Conf

    cluster = f"hostile-{uuid.uuid4().hex[:12]}"
    key = f"django_q:{cluster}:q"

    def use(port: int) -> str:
        monkeypatch.setattr(Conf, "ORM", None)
        monkeypatch.setattr(Conf, "REDIS", {"host": "127.0.0.1", "port": port, "db": BROKER_DB})
        monkeypatch.setattr(Conf, "CLUSTER_NAME", cluster)
        settings.CEDULA_TASKS = {"BACKEND": DJANGO_Q}
        return key

    yield use
    redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=BROKER_DB).delete(key)


@pytest.mark.django_db(transaction=True)
def test_django_q_on_a_redis_broker_that_never_answers_does_not_hang_the_registration(
    stalling_broker: StallingBroker,
    django_q_on: Callable[[int], str],
    make_user: Callable[..., Any],
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Django-Q2's Redis broker without a socket timeout: the same hang before."""
    key = django_q_on(stalling_broker.port)
    with caplog.at_level(logging.ERROR, logger="django_cedula"):
        user, took = register_in_thread(make_user, "1000000002", limit=30)
    assert stalling_broker.accepted >= 1
    assert took < backends_base.ENQUEUE_TIMEOUT + 5
    assert CedulaInfo.objects.get(user=user).status == Status.PENDING
    assert "Django-Q2's broker did not take the job within 5 s" in caplog.text

    stalling_broker.come_back()
    settings.CEDULA_SWEEP = {"PENDING_AFTER": 60}
    report = sweeper.sweep(now=CedulaInfo.objects.get(user=user).updated_at + datetime.timedelta(minutes=2))
    assert (report.pending, report.enqueue_failures) == (1, 0)
    assert broker_queue_length(key) >= 1


def test_hand_offs_left_hanging_are_bounded_and_end_when_the_broker_comes_back(
    stalling_broker: StallingBroker,
    django_q_on: Callable[[int], str],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each hand-off given up on keeps a thread on a connection the broker never answers: past
    MAX_STUCK_HANDOFFS a job is refused at once, without another thread; once the broker drops
    those connections, they end and jobs go through again."""
    key = django_q_on(stalling_broker.port)
    settings.CEDULA_TASKS = {"BACKEND": DJANGO_Q, "OPTIONS": {"enqueue_timeout": 0.3}}
    monkeypatch.setattr(backends_base, "MAX_STUCK_HANDOFFS", 2)
    backend = get_backend()
    for user_id in (1, 2):
        with pytest.raises(BrokerTimeout, match=r"did not take the job within 0\.3 s"):
            backend.enqueue(ValidationJob(user_id=user_id))
    assert backends_base.stuck_handoffs() == 2
    accepted = stalling_broker.accepted
    with pytest.raises(BrokerTimeout, match="2 earlier hand-offs to Django-Q2's broker are still unanswered"):
        backend.enqueue(ValidationJob(user_id=3))
    assert stalling_broker.accepted == accepted, "a refused job did not try the broker"

    stalling_broker.come_back()
    assert wait_until(lambda: backends_base.stuck_handoffs() == 0, timeout=10)
    backend.enqueue(ValidationJob(user_id=4))
    assert broker_queue_length(key) >= 1


# ---------------------------------------------------------------- M5, L2: a cache down or full of garbage

WSP_HTTP = "django_cedula.scrapers.wsp_http.WspHttpScraper"
CENSO_HTTP = "django_cedula.scrapers.consultacenso_http.ConsultaCensoHttpScraper"
REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"


def errors(users: list[Any]) -> list[str]:
    return [CedulaInfo.objects.get(user=user).error_message for user in users]


def free_port() -> int:
    with socket.socket() as probe:  # free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_sources(replica: Replica, *kinds: str) -> list[dict[str, Any]]:
    """``CEDULA_SOURCES`` entries for the replica's HTTP scrapers (``"wsp"``, ``"censo"``)."""
    entries = {
        "wsp": {"BACKEND": WSP_HTTP, "OPTIONS": {"url": replica.wsp_url, "page_timeout": 4}},
        "censo": {"BACKEND": CENSO_HTTP, "OPTIONS": {"url": replica.censo_url, "page_timeout": 4}},
    }
    return [entries[kind] for kind in kinds]


@pytest.fixture
def supply_on(
    settings: Any, cedula_replica: Replica, recording_backend: type[RecordingBackend]
) -> Callable[..., None]:
    """``use(cache, *kinds)``: the token supply at its defaults, on cache settings ``cache`` (alias
    ``shared``), the replica's HTTP sources ``kinds`` and its solver, and a backend that queues jobs
    (the inline one has no supply) for the test to run."""

    def use(cache: dict[str, Any], *kinds: str) -> None:
        settings.CACHES = {**settings.CACHES, "shared": cache}
        settings.CEDULA_CACHE_ALIAS = "shared"
        settings.CEDULA_SOURCES = http_sources(cedula_replica, *(kinds or ("wsp",)))
        settings.CEDULA_CAPTCHA_SOLVER = {"BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver"}
        assert get_token_supply() is not None, "the supply is on: shared cache, solver, queued jobs"

    return use


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kinds", [("wsp",), ("wsp", "censo")], ids=["one source", "a chain"])
def test_a_dead_cache_leaves_each_lookup_to_solve_its_own_captcha(
    supply_on: Callable[..., None],
    settings: Any,
    make_user: Callable[..., Any],
    cedula_replica: Replica,
    caplog: pytest.LogCaptureFixture,
    kinds: tuple[str, ...],
) -> None:
    """Before: every lookup ended network_error (the supply's cache error escaped the scraper), on
    each source of a chain in turn. The throttle needs no cache here (no rate limit, no pause)."""
    settings.CEDULA_RATE_LIMIT = None
    settings.CEDULA_BLOCK_COOLDOWN = 0
    supply_on({"BACKEND": REDIS_CACHE, "LOCATION": f"redis://127.0.0.1:{free_port()}/{CACHE_DB}"}, *kinds)
    users = [make_user(cedula=f"100000000{n}") for n in (1, 2, 3)]
    with caplog.at_level(logging.WARNING, logger="django_cedula"):
        statuses = [RecordingBackend.run_next() for _ in users]
    assert statuses == [Status.ACTIVE] * 3, [
        CedulaInfo.objects.get(user=user).error_message for user in users
    ]
    assert cedula_replica.captcha_counts()["accepted"] == 3
    failures = [
        record for record in caplog.records if "The token supply's cache ('shared') failed" in record.message
    ]
    assert len(failures) == 1, "logged once, not per lookup"
    assert "each lookup solves its own captcha" in failures[0].getMessage()


@pytest.fixture
def redis_cache() -> Iterator[tuple[dict[str, Any], redis.Redis]]:
    """Settings for the real Redis (database 12) under a key prefix of this test's own, and a raw
    client to write under its keys; the keys are removed at the end."""
    prefix = f"hostile-{uuid.uuid4().hex[:12]}"
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=CACHE_DB)
    yield (
        {
            "BACKEND": REDIS_CACHE,
            "LOCATION": f"redis://{REDIS_HOST}:{REDIS_PORT}/{CACHE_DB}",
            "KEY_PREFIX": prefix,
        },
        client,
    )
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.mark.django_db(transaction=True)
def test_garbage_in_the_shared_cache_is_discarded_and_lookups_go_on(
    supply_on: Callable[..., None],
    redis_cache: tuple[dict[str, Any], redis.Redis],
    settings: Any,
    make_user: Callable[..., Any],
    cedula_replica: Replica,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Garbage under every key the package reads, as another program (or a hand with redis-cli)
    leaves it, some without an expiry. Before: the job deferred every 60 s for ever (the throttle's
    ``float("garbage")``, a lock no one holds) or failed its lookup (the supply's index)."""
    config, client = redis_cache
    monkeypatch.setattr(throttle, "_garbage_logged", {})  # what earlier tests logged
    settings.CEDULA_RATE_LIMIT = "100/s"
    settings.CEDULA_BLOCK_COOLDOWN = 600
    supply_on(config, "wsp", "censo")  # a chain: the pause of each source is read too
    cache = caches["shared"]
    target = Target(cedula_replica.site_key, cedula_replica.wsp_url)
    now = time.time()
    token_id = "0123456789abcdef"
    cache.set(throttle.NEXT_KEY, "garbage", timeout=None)
    cache.set(throttle.LOCK_KEY, "garbage", timeout=None)  # a lock no worker holds, never expiring
    cache.set(throttle.LINE_KEY, float("nan"), timeout=None)  # read (and replaced) by a deferral only
    client.set(cache.make_key(throttle.BLOCK_KEY), b"\x80\x05garbage")  # no pickle
    client.rpush(cache.make_key(throttle.block_key("wsp-http")), "a list")  # WRONGTYPE
    cache.set(supply.LEADER_KEY, ["no", "filler"], timeout=None)
    cache.set(supply.TARGETS_KEY, {"not a pair": "never"}, timeout=None)
    cache.set(supply.LATENCY_KEY, ["slow", -1, float("inf")], timeout=None)
    cache.set(supply.STATUS_KEY, {"in_flight": "many", "at": "now"}, timeout=None)
    cache.set(target.key + ":lock", 12345, timeout=None)
    cache.set(
        target.key + ":index", {"zz": "garbage", token_id: now - 1, "f" * 16: float("inf")}, timeout=None
    )
    cache.set(f"{target.key}:token:{token_id}", {"value": "x" * (20 * 2**20)}, timeout=None)  # 20 MB

    users = [make_user(cedula=f"100000000{n}") for n in (4, 5)]
    with caplog.at_level(logging.WARNING, logger="django_cedula"):
        statuses = [RecordingBackend.run_next() for _ in users]
    assert statuses == [Status.ACTIVE] * 2, [
        CedulaInfo.objects.get(user=user).error_message for user in users
    ]
    assert RecordingBackend.jobs == [], "nothing deferred"
    counts = cedula_replica.captcha_counts()
    assert counts["accepted"] == 2, counts
    assert sum(counts.values()) == 2, "the 20 MB token was never sent"

    # What the package reads is its own again: garbage deleted or replaced.
    assert throttle.is_time(cache.get(throttle.NEXT_KEY))
    assert cache.get(throttle.LOCK_KEY) is None
    for key in (throttle.BLOCK_KEY, throttle.block_key("wsp-http")):
        assert not client.exists(cache.make_key(key))
    assert supply.active_targets() == [target]
    index = cache.get(target.key + ":index") or {}
    assert all(len(entry) == 16 and throttle.is_time(at) for entry, at in index.items()), index
    # The 20 MB "token" was taken (claimed), found to be none, and deleted; the filler's next prune
    # drops its entry from the index.
    assert cache.get(f"{target.key}:token:{token_id}") is None
    assert cache.get(target.key + ":lock") is None
    assert supply.supply_status()["in_flight"] == 0
    assert "The shared cache held garbage under" in caplog.text
    assert "x" * 100 not in caplog.text


def test_garbage_leases_do_not_keep_the_filler_out(
    redis_cache: tuple[dict[str, Any], redis.Redis], settings: Any
) -> None:
    """A lease no filler wrote, without an expiry: before, no filler ever led again."""
    config, client = redis_cache
    settings.CACHES = {**settings.CACHES, "shared": config}
    settings.CEDULA_CACHE_ALIAS = "shared"
    cache = caches["shared"]
    client.set(cache.make_key(supply.LEADER_KEY), b"garbage")
    filler = supply.Filler()
    try:
        assert filler.lead()
        assert cache.get(supply.LEADER_KEY) == filler.identity
        other = supply.Filler()
        assert not other.lead(), "a live lease is kept"
        other.close()
    finally:
        filler.close()


# --------------------------------------------------------------------------- L7: a solver's token is no token


class BrokenSolver(CaptchaSolver):
    """Answers with 20 MB of text, or with bytes: what a broken (or hostile) solving service might."""

    def __init__(self, *, answer: str = "huge", **options: Any) -> None:
        super().__init__(**options)
        self.answer = answer

    def solve(self, site_key: str, page_url: str, *, timeout: float | None = None) -> Any:
        return "x" * (20 * 2**20) if self.answer == "huge" else b"03AGdBq2..."


@pytest.mark.parametrize(
    ("answer", "error"),
    [("huge", "is 20 MiB long, more than 8 KiB"), ("bytes", "is a bytes, not text")],
)
def test_a_token_that_is_no_token_is_refused_and_never_sent(
    settings: Any, cedula_replica: Replica, answer: str, error: str
) -> None:
    """Before: the 20 MB token was posted to the source."""
    settings.CEDULA_SOURCES = http_sources(cedula_replica, "wsp")
    settings.CEDULA_CAPTCHA_SOLVER = {"BACKEND": f"{__name__}.BrokenSolver", "OPTIONS": {"answer": answer}}
    result = get_scraper().scrape_cedula("1000000001")
    assert result.status is ScrapeStatus.CAPTCHA_FAILED
    assert error in result.error
    assert sum(cedula_replica.captcha_counts().values()) == 0, "nothing reached the source's captcha check"
