from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache
from django.test import override_settings

from django_cedula.conf import DEFAULTS, app_settings, cache_not_shared_reason, is_shared_cache

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_defaults_apply_when_a_setting_is_missing() -> None:
    assert app_settings.USER_FIELD == "cedula"
    assert app_settings.TASK_BACKEND == "django_cedula.backends.inline.InlineBackend"  # the tests' own
    assert DEFAULTS["TASK_BACKEND"] == "django_cedula.backends.django_q.DjangoQBackend"
    assert DEFAULTS["RETRY_DELAYS"] == [60, 300, 900]


def test_settings_are_read_lazily(settings: Any) -> None:
    settings.CEDULA_RETRY_DELAYS = [1, 2]
    assert app_settings.RETRY_DELAYS == [1, 2]
    with override_settings(CEDULA_RETRY_DELAYS=[]):
        assert app_settings.RETRY_DELAYS == []
    assert app_settings.RETRY_DELAYS == [1, 2]


def test_every_setting_has_a_property() -> None:
    for name in DEFAULTS:
        assert hasattr(app_settings, name), name


def test_every_setting_is_in_the_settings_reference() -> None:
    reference = (DOCS / "settings.rst").read_text()
    missing = [name for name in DEFAULTS if f"``CEDULA_{name}``" not in reference]
    assert missing == []


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.redis.RedisCache",
        "django.core.cache.backends.memcached.PyMemcacheCache",
        "django.core.cache.backends.memcached.PyLibMCCache",
        "django.core.cache.backends.db.DatabaseCache",
        "tests.test_conf.ProjectRedisCache",
    ],
)
def test_caches_with_an_atomic_add_are_shared(settings: Any, backend: str) -> None:
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": "somewhere"}}
    assert cache_not_shared_reason("default") is None
    assert is_shared_cache("default")


@pytest.mark.parametrize(
    ("backend", "reason"),
    [
        ("django.core.cache.backends.locmem.LocMemCache", "each process's memory"),
        ("django.core.cache.backends.dummy.DummyCache", "keeps nothing"),
        ("django.core.cache.backends.filebased.FileBasedCache", "add() looks for the key's file"),
        ("tests.test_conf.ProjectFileCache", "not known to have an add() that is atomic"),
        ("no.such.Cache", "cannot be imported"),
    ],
)
def test_other_caches_are_not_shared_and_say_why(settings: Any, backend: str, reason: str) -> None:
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": "somewhere"}}
    assert reason in (cache_not_shared_reason("default") or "")
    assert not is_shared_cache("default")


def test_an_alias_missing_from_caches_is_not_shared(settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}
    assert cache_not_shared_reason("throttle") == "'throttle' is not a cache in CACHES"
    assert not is_shared_cache("throttle")


def test_the_default_rate_limit_needs_a_shared_cache(settings: Any, tmp_path: Path) -> None:
    del settings.CEDULA_RATE_LIMIT  # the tests' settings turn it off; unset, the default applies
    file_cache = "django.core.cache.backends.filebased.FileBasedCache"
    settings.CACHES = {"default": {"BACKEND": file_cache, "LOCATION": str(tmp_path)}}
    assert app_settings.RATE_LIMIT is None
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "t"}}
    assert DEFAULTS["RATE_LIMIT"] == app_settings.RATE_LIMIT


class ProjectRedisCache(RedisCache):
    """A project's own Redis backend: still Redis's atomic add."""


class ProjectFileCache(FileBasedCache):
    """A project's own file cache: still no atomic add."""
