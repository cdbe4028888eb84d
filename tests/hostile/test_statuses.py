"""The attacker's probes of issue #20 for what a source's HTTP status and declared charset mean, end
to end: the job, the replica over HTTP, the real cache (Redis, db 13) for the pause after a block,
and the database the suite runs on (PostgreSQL: ``CEDULA_TEST_DATABASE=postgres``).

* L1: an answer declared ISO-8859-1 was decoded as UTF-8 and stored as a final ``active`` row with
  ``MEDELL\\ufffdN``;
* L3: 429, 407 and 404 on the form page read as ``parse_error`` (HTTP scraper) or ``network_error``
  (browser), so a chain stopped there; a 429 never started the pause after a block; a wrong proxy
  password looked the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import caches

from django_cedula import throttle
from django_cedula.job import validate_user_cedula
from django_cedula.models import CedulaInfo
from django_cedula.testing.backends import RecordingBackend
from django_cedula.testing.replica import Replica
from tests.scrapers.auth_proxy import AuthProxy

pytestmark = pytest.mark.django_db(transaction=True)
Status = CedulaInfo.Status
FOUND = "1000000001"
MEDELLIN = "1000000002"
REDIS = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379/13"}
BACKENDS = {
    ("http", "wsp"): "django_cedula.scrapers.wsp_http.WspHttpScraper",
    ("http", "censo"): "django_cedula.scrapers.consultacenso_http.ConsultaCensoHttpScraper",
    ("browser", "wsp"): "django_cedula.scrapers.wsp.WspScraper",
    ("browser", "censo"): "django_cedula.scrapers.consultacenso.ConsultaCensoScraper",
}


@pytest.fixture
def redis_cache(settings: Any) -> Iterator[Any]:
    """The throttle's cache on Redis (db 13), empty before and after."""
    settings.CACHES = {**settings.CACHES, "cedula": REDIS}
    settings.CEDULA_CACHE_ALIAS = "cedula"
    settings.CEDULA_BLOCK_COOLDOWN = 900
    cache = caches["cedula"]
    cache.clear()
    yield cache
    cache.clear()


@pytest.fixture(params=["http", pytest.param("browser", marks=pytest.mark.browser)])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sources(
    cedula_replica: Replica, settings: Any, kind: str, recording_backend: type[RecordingBackend]
) -> Callable[..., None]:
    """``sources("wsp", "censo", proxy=...)``: ``CEDULA_SOURCES`` over the replica, of this ``kind``."""

    def configure(*names: str, **options: Any) -> None:
        for name, value in cedula_replica.django_settings().items():
            setattr(settings, name, value)
        settings.CEDULA_SOURCES = [
            {**cedula_replica.source(name, **options), "BACKEND": BACKENDS[kind, name]} for name in names
        ]

    return configure


def validate(make_user: Callable[..., Any], cedula: str) -> CedulaInfo:
    """Register a user with ``cedula`` and run the validation's first job (the last one queued)."""
    user = make_user(cedula=cedula)
    job = RecordingBackend.jobs.pop()
    assert (job.user_id, job.attempt) == (user.pk, 1)
    validate_user_cedula(job.user_id, job.attempt)
    return CedulaInfo.objects.get(user=user)


def test_l1_an_answer_declared_iso_8859_1_is_stored_as_sent(
    sources: Callable[..., None], cedula_replica: Replica, make_user: Callable[..., Any]
) -> None:
    sources("wsp")
    cedula_replica.set_fault("latin1")
    info = validate(make_user, MEDELLIN)
    assert info.status == Status.ACTIVE, info.error_message
    assert (info.departamento, info.municipio) == ("ANTIOQUIA", "MEDELLÍN")
    assert info.puesto == "INSTITUCIÓN EDUCATIVA MARCO FIDEL SUÁREZ"
    assert cedula_replica.lookups()[0].fault == "latin1"


def test_l3_a_429_on_the_form_page_pauses_every_worker(
    sources: Callable[..., None],
    cedula_replica: Replica,
    redis_cache: Any,
    make_user: Callable[..., Any],
) -> None:
    sources("wsp")
    cedula_replica.set_fault("http429", times=1)
    info = validate(make_user, FOUND)
    assert (info.status, info.error_code) == (Status.RETRYING, "blocked"), info.error_message
    assert "Retry-After 120 s" in info.error_message
    assert throttle.blocked_for() > 800  # in Redis: every worker of the cluster sees it
    # The next validation waits for the pause without a request to the source.
    asked = cedula_replica.count()
    second = validate(make_user, "1000000002")
    assert second.status == Status.PENDING
    assert cedula_replica.count() == asked


@pytest.mark.parametrize("mode", ["http404", "http410"])
def test_l3_a_moved_page_is_its_own_kind_of_failure(
    sources: Callable[..., None],
    cedula_replica: Replica,
    redis_cache: Any,
    make_user: Callable[..., Any],
    mode: str,
) -> None:
    sources("wsp")
    cedula_replica.set_fault(mode, times=1)
    info = validate(make_user, FOUND)
    assert (info.status, info.error_code) == (Status.RETRYING, "page_moved"), info.error_message
    assert f"HTTP {mode[-3:]}" in info.error_message
    assert throttle.blocked_for() == 0
    assert RecordingBackend.run_next() == Status.ACTIVE  # retried: this time the page is there


@pytest.mark.parametrize("mode", ["http429", "http404"])
def test_l3_a_chain_moves_on_after_a_429_or_a_moved_page(
    sources: Callable[..., None],
    cedula_replica: Replica,
    redis_cache: Any,
    make_user: Callable[..., Any],
    mode: str,
) -> None:
    sources("wsp", "censo")
    cedula_replica.set_fault(mode, times=1)  # Source A's form page
    info = validate(make_user, FOUND)
    assert info.status == Status.ACTIVE, info.error_message
    assert info.source in ("consultacenso", "consultacenso-http")
    assert [record.source for record in cedula_replica.lookups()] == ["censo"]


def test_l3_a_wrong_proxy_password_ends_the_row_as_a_configuration_error(
    sources: Callable[..., None], cedula_replica: Replica, make_user: Callable[..., Any], kind: str
) -> None:
    browser = {"browser": {"args": ["--proxy-bypass-list=<-loopback>"]}} if kind == "browser" else {}
    with AuthProxy("cedula", "right-secret") as proxy:
        sources("wsp", "censo", proxy=proxy.url("cedula", "wrong-secret"), **browser)
        info = validate(make_user, FOUND)
    assert (info.status, info.error_code) == (Status.ERROR, "config_error"), info.error_message
    assert proxy.server.removeprefix("http://") in info.error_message
    assert "HTTP 407" in info.error_message
    assert "wrong-secret" not in info.error_message
    assert "cedula:" not in info.error_message
    assert RecordingBackend.jobs == []  # never retried
    assert cedula_replica.requests() == []
