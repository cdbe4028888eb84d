from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db.models.signals import post_save

from django_cedula.conf import app_settings
from django_cedula.loading import reset_all
from django_cedula.models import CedulaInfo
from django_cedula.testing.backends import RecordingBackend
from django_cedula.testing.replica.outcomes import OUTCOMES
from django_cedula.testing.scrapers import FakeScraper

from .log_privacy import GUARD

pytest_plugins = ["django_cedula.testing.pytest_plugin"]


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(GUARD)
    GUARD.remember(OUTCOMES)


def pytest_runtest_setup(item: pytest.Item) -> None:
    GUARD.where = item.nodeid


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
    caches["default"].clear()
    yield
    GUARD.remember(FakeScraper.calls)
    caches["default"].clear()
    reset_all()
    FakeScraper.reset()
    RecordingBackend.reset()


@pytest.fixture
def recording_backend(settings: Any) -> type[RecordingBackend]:
    settings.CEDULA_TASK_BACKEND = "django_cedula.testing.backends.RecordingBackend"
    return RecordingBackend


_counter = iter(range(10**6))


@pytest.fixture
def make_user() -> Callable[..., Any]:
    """Create a user with a unique username; keyword arguments go to the model."""

    def make(**fields: Any) -> Any:
        fields.setdefault("username", f"user{next(_counter)}")
        return get_user_model().objects.create(**fields)

    return make
