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
from django.db import connections

from django_cedula import sweeper
from django_cedula.backends import ValidationJob, get_backend
from django_cedula.backends import base as backends_base
from django_cedula.backends.base import BrokerTimeout
from django_cedula.models import CedulaInfo

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
def celery_on(settings: Any) -> Iterator[Callable[[str], str]]:
    """``use(url)``: a Celery app with ``url`` as its broker, current on this thread, and the Celery
    backend on a queue of this test's own; returns the queue's name (its key in Redis)."""
    from celery import Celery

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
