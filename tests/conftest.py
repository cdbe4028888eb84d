from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db.models.signals import post_save
from django.test.testcases import LiveServerThread, _StaticFilesHandler

from django_cedula.captcha import spend
from django_cedula.captcha.supply import stop_filler
from django_cedula.conf import app_settings, reset_all
from django_cedula.models import CedulaInfo
from django_cedula.testing.backends import RecordingBackend
from django_cedula.testing.replica import Replica
from django_cedula.testing.replica.outcomes import OUTCOMES
from django_cedula.testing.scrapers import FakeScraper

from .log_privacy import GUARD

pytest_plugins = ["django_cedula.testing.pytest_plugin"]

#: What every source pointed at the replica gets in these tests: a short page timeout keeps the
#: fault tests (a page that hangs, a slow answer) fast.
REPLICA_SOURCE_OPTIONS = {"page_timeout": 4}


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(GUARD)
    GUARD.remember(OUTCOMES)


#: The Chromium the browser tests drive; ``CEDULA_TEST_CHROMIUM`` names another (or a missing one,
#: to see what the suite does without it).
CHROMIUM = os.environ.get("CEDULA_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def require_chromium(item: pytest.Item) -> None:
    """A test marked ``browser`` needs Chromium: without it the test is skipped, with its reason,
    on a developer's machine, and fails when ``CI`` is set (non-empty), so that a CI image without
    Chromium cannot turn the browser, integration, reliability and end-to-end suites green by
    skipping them."""
    if item.get_closest_marker("browser") is None or os.access(CHROMIUM, os.X_OK):
        return
    reason = f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install -y chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so browser tests fail instead of skipping", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    GUARD.where = item.nodeid
    # Before any fixture: a module's browser or example site is never started without Chromium.
    require_chromium(item)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any captured log line carried a full cédula."""
    logging.getLogger().removeHandler(GUARD)
    leaks = GUARD.leaks()
    if not leaks:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.section("full cédulas in log lines (they must be masked)", red=True)
        for source, line in leaks[:50]:
            reporter.line(f"{source}: {line}")
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _remember_saved_cedulas(sender: Any, instance: Any, **kwargs: Any) -> None:
    if isinstance(instance, CedulaInfo):
        GUARD.remember([instance.cedula])
    elif isinstance(instance, get_user_model()):
        GUARD.remember([getattr(instance, app_settings.USER_FIELD, None)])


post_save.connect(_remember_saved_cedulas, dispatch_uid="tests.log_privacy")


@pytest.fixture(autouse=True)
def _clean_package_state() -> Iterator[None]:
    """Each test starts with no cached backend or scraper, no recorded jobs or calls, and no
    throttle state (slots, a block pause) in the local-memory cache."""
    reset_all()
    FakeScraper.reset()
    RecordingBackend.reset()
    spend.reset()
    caches["default"].clear()
    yield
    GUARD.remember(FakeScraper.calls)
    caches["default"].clear()
    reset_all()
    FakeScraper.reset()
    RecordingBackend.reset()
    stop_filler()  # a test that used the token supply started its filler thread in this process
    spend.reset()


#: A 2Captcha solver at its class's price (3.0 per 1,000 solves); building it sends no request.
TWOCAPTCHA = {
    "BACKEND": "django_cedula.captcha.twocaptcha.TwoCaptchaSolver",
    "OPTIONS": {"api_key": "tests-2captcha-key"},
}


@pytest.fixture
def twocaptcha(settings: Any) -> dict[str, Any]:
    """``CEDULA_CAPTCHA_SOLVER`` set to :data:`TWOCAPTCHA`: what the spend's cost estimates read."""
    settings.CEDULA_CAPTCHA_SOLVER = TWOCAPTCHA
    return TWOCAPTCHA


@pytest.fixture
def recording_backend(settings: Any) -> type[RecordingBackend]:
    settings.CEDULA_TASKS = {"BACKEND": "django_cedula.testing.backends.RecordingBackend"}
    return RecordingBackend


_counter = iter(range(10**6))


@pytest.fixture
def make_user() -> Callable[..., Any]:
    """Create a user with a unique username; keyword arguments go to the model."""

    def make(**fields: Any) -> Any:
        fields.setdefault("username", f"user{next(_counter)}")
        return get_user_model().objects.create(**fields)

    return make


@pytest.fixture(scope="session")
def cedula_replica_server() -> Iterator[Replica]:
    """The plugin's replica, its sources with :data:`REPLICA_SOURCE_OPTIONS`."""
    replica = Replica(port=0, source_options=REPLICA_SOURCE_OPTIONS)
    replica.start()
    try:
        yield replica
    finally:
        replica.stop()


def serve_live() -> Iterator[str]:
    """A live server thread for the current settings (static files served), its URL while it runs:
    for fixtures that set the settings their pages need first."""
    thread = LiveServerThread("localhost", _StaticFilesHandler)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://localhost:{thread.port}"
    thread.terminate()
