"""The settings (read lazily, with their defaults) and the parts they configure, built once:
options validated by each part's constructor, and ConfigurationError when a configured class
cannot be built (issue 11: configuration errors are not transient)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_cedula.backends import get_backend
from django_cedula.backends.inline import InlineBackend
from django_cedula.captcha import get_captcha_solver
from django_cedula.conf import (
    DEFAULTS,
    app_settings,
    build,
    build_part,
    cache_not_shared_reason,
    is_shared_cache,
    part,
)
from django_cedula.exceptions import ConfigurationError
from django_cedula.scrapers import BaseScraper, Scraper, get_scraper
from django_cedula.testing.captcha import ReplicaCaptchaSolver
from django_cedula.testing.scrapers import FakeScraper

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_defaults_apply_when_a_setting_is_missing() -> None:
    assert app_settings.USER_FIELD == "cedula"
    assert app_settings.TASKS == {"BACKEND": "django_cedula.backends.inline.InlineBackend", "OPTIONS": {}}
    assert DEFAULTS["TASKS"] == {"BACKEND": "django_cedula.backends.django_q.DjangoQBackend", "OPTIONS": {}}
    assert DEFAULTS["RETRY_DELAYS"] == [60, 300, 900]


def test_a_group_takes_the_defaults_of_the_keys_left_out(settings: Any) -> None:
    settings.CEDULA_SWEEP = {"SCHEDULE": True}
    assert app_settings.SWEEP == {"PENDING_AFTER": 600.0, "PROCESSING_AFTER": 900.0, "SCHEDULE": True}
    assert (app_settings.SWEEP_PENDING_AFTER, app_settings.SWEEP_SCHEDULE) == (600.0, True)
    settings.CEDULA_TOKEN_SUPPLY = {"MIN_TOKENS": 2}
    assert app_settings.TOKEN_SUPPLY == {"ENABLED": True, "MAX_AGE": 100.0, "MIN_TOKENS": 2}
    assert (app_settings.TOKEN_SUPPLY_ENABLED, app_settings.TOKEN_MAX_AGE, app_settings.TOKEN_MIN_STOCK) == (
        True,
        100.0,
        2,
    )
    del settings.CEDULA_TOKEN_SUPPLY
    assert DEFAULTS["TOKEN_SUPPLY"] == app_settings.TOKEN_SUPPLY


def test_a_part_reads_backend_and_options() -> None:
    assert part({"BACKEND": "a.B"}) == {"BACKEND": "a.B", "OPTIONS": {}}
    assert part({"BACKEND": "a.B", "OPTIONS": {"x": 1}}) == {"BACKEND": "a.B", "OPTIONS": {"x": 1}}


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        ("a.B", TypeError, 'expected {"BACKEND": ..., "OPTIONS": {...}}, not str'),
        ({"BACKEND": "a.B", "options": {}}, ValueError, "unknown keys ['options']"),
        ({"BACKEND": ""}, ValueError, "BACKEND must be a dotted path"),
        ({"OPTIONS": {}}, ValueError, "BACKEND must be a dotted path"),
        ({"BACKEND": "a.B", "OPTIONS": ["x"]}, TypeError, "OPTIONS must be a dict, not list"),
    ],
)
def test_a_part_of_another_shape_is_refused(value: object, error: type[Exception], words: str) -> None:
    with pytest.raises(error) as refused:
        part(value)
    assert words in str(refused.value)


@pytest.mark.parametrize("value", ["x", [], {"BACKEND": "a.B"}])
def test_sources_must_be_a_non_empty_list(settings: Any, value: object) -> None:
    settings.CEDULA_SOURCES = value
    with pytest.raises(TypeError, match="CEDULA_SOURCES must be a non-empty list"):
        _ = app_settings.SOURCES


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


# Building the parts -----------------------------------------------------------------------------

SECRET = "SECRET-KEY-5678"


class Keyed(BaseScraper):
    def __init__(self, *, api_key: str, region: str = "co", **options: Any) -> None:
        super().__init__(**options)
        self.api_key = api_key


class KeyedWithDefault(Keyed):
    """Supplies its parent's required option itself."""

    def __init__(self, *, api_key: str = "built-in", retries: int = 1, **options: Any) -> None:
        super().__init__(api_key=api_key, **options)


class Closed(BaseScraper):
    """Takes no options beyond its own: no ``**options`` to pass up."""

    def __init__(self, *, depth: int = 1) -> None:
        super().__init__()
        self.keep_options(depth=depth)


class Hosted:
    """A host's class outside the package's bases that keeps every option itself."""

    def __init__(self, **options: Any) -> None:
        self.options = options


class Bare:
    pass


def test_an_unknown_option_reaches_the_base_and_is_refused_by_name() -> None:
    with pytest.raises(ConfigurationError) as refused:
        build(Keyed, {"api_key": "k", "region": "co", "regoin": "co"}, "CEDULA_SOURCES[0]")
    assert str(refused.value) == (
        "CEDULA_SOURCES[0]: tests.test_conf.Keyed refused its OPTIONS: Keyed got unknown options: 'regoin'"
    )
    assert refused.value.hint == (
        "Check the OPTIONS in CEDULA_SOURCES[0] against the documentation of Keyed "
        "(given: 'api_key', 'region', 'regoin')."
    )


def test_a_missing_option_is_named() -> None:
    with pytest.raises(ConfigurationError, match="missing 1 required keyword-only argument: 'api_key'"):
        build(Keyed, {"region": "co"}, "CEDULA_SOURCES[0]")


def test_a_required_option_a_subclass_supplies_is_not_missing() -> None:
    scraper = build(KeyedWithDefault, {"retries": 2, "region": "co"}, "CEDULA_SOURCES[0]")
    assert scraper.api_key == "built-in"


def test_an_init_without_kwargs_refuses_what_it_does_not_declare() -> None:
    assert build(Closed, {"depth": 2}, "where").options == {"depth": 2}
    with pytest.raises(ConfigurationError, match="'deep'"):
        build(Closed, {"deep": 2}, "where")


def test_a_class_that_keeps_its_options_itself_judges_them_itself() -> None:
    assert build(Hosted, {"anything": 1}, "where").options == {"anything": 1}


def test_a_class_with_no_init_takes_nothing() -> None:
    assert isinstance(build(Bare, {}, "where"), Bare)
    with pytest.raises(ConfigurationError) as refused:
        build(Bare, {"x": 1}, "where")
    assert "(given: 'x')" in refused.value.hint


def test_build_part_imports_a_subclass_of_the_base() -> None:
    built = build_part({"BACKEND": "tests.test_conf.Closed", "OPTIONS": {"depth": 3}}, Scraper, "X")
    assert isinstance(built, Closed)
    with pytest.raises(ImproperlyConfigured, match=r"X: BACKEND 'tests.nope.Nope' cannot be imported"):
        build_part({"BACKEND": "tests.nope.Nope", "OPTIONS": {}}, Scraper, "X")
    with pytest.raises(ImproperlyConfigured, match=r"X: BACKEND 'tests.test_conf.Bare' is not a subclass of"):
        build_part({"BACKEND": "tests.test_conf.Bare", "OPTIONS": {}}, Scraper, "X")


def test_the_bases_refuse_options_no_subclass_declared() -> None:
    with pytest.raises(TypeError, match="FakeScraper got unknown options: 'bogus'"):
        FakeScraper(bogus=1)
    with pytest.raises(TypeError, match="InlineBackend got unknown options: 'wait'"):
        InlineBackend(wait=True)
    with pytest.raises(TypeError, match="BaseScraper got unknown options: 'bogus'"):
        BaseScraper(bogus=1)


def test_self_options_keeps_what_the_subclass_kept() -> None:
    assert InlineBackend(wait_for_delays=True).options == {"wait_for_delays": True}
    assert Closed(depth=3).options == {"depth": 3}
    assert Keyed(api_key="k", region="co").options == {}
    assert ReplicaCaptchaSolver(token="t").options == {
        "token": "t",
        "delay": 0.0,
        "latency_median": None,
        "latency_p90": None,
        "seed": 0,
        "fail": False,
        "poll_interval": 0.25,
    }


def test_get_raises_configuration_error_for_an_unknown_option(settings: Any) -> None:
    settings.CEDULA_SOURCES = [{"BACKEND": "django_cedula.scrapers.wsp.WspScraper", "OPTIONS": {"bogus": 1}}]
    with pytest.raises(ConfigurationError) as caught:
        get_scraper()
    assert str(caught.value) == (
        "CEDULA_SOURCES[0]: django_cedula.scrapers.wsp.WspScraper refused its OPTIONS: "
        "WspScraper got unknown options: 'bogus'"
    )
    assert caught.value.hint == (
        "Check the OPTIONS in CEDULA_SOURCES[0] against the documentation of WspScraper (given: 'bogus')."
    )


def test_get_raises_configuration_error_for_a_missing_option(settings: Any) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = {
        "BACKEND": "django_cedula.captcha.twocaptcha.TwoCaptchaSolver",
        "OPTIONS": {"server": SECRET},
    }
    with pytest.raises(ConfigurationError) as caught:
        get_captcha_solver()
    assert str(caught.value).startswith("CEDULA_CAPTCHA_SOLVER: ")
    assert "missing 1 required keyword-only argument: 'api_key'" in str(caught.value)
    assert "(given: 'server')" in caught.value.hint
    assert SECRET not in f"{caught.value} {caught.value.hint}"


def test_get_raises_configuration_error_for_a_refused_value_without_quoting_it(settings: Any) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = {
        "BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver",
        "OPTIONS": {"token": SECRET, "delay": -1},
    }
    with pytest.raises(ConfigurationError) as caught:
        get_captcha_solver()
    message = str(caught.value)
    assert message == (
        "CEDULA_CAPTCHA_SOLVER: django_cedula.testing.captcha.ReplicaCaptchaSolver refused its OPTIONS: "
        "delay must not be negative"
    )
    assert "CEDULA_CAPTCHA_SOLVER" in caught.value.hint
    assert "(given: 'token', 'delay')" in caught.value.hint
    assert SECRET not in f"{message} {caught.value.hint}"
    assert "-1" not in message


@pytest.mark.parametrize(
    "value",
    [
        ["django_cedula.backends.inline.InlineBackend"],
        {"BACKEND": "django_cedula.backends.inline.InlineBackend", "OPTIONS": ["wait_for_delays"]},
    ],
)
def test_get_raises_improperly_configured_for_a_tasks_setting_of_another_shape(
    settings: Any, value: object
) -> None:
    # Not a TypeError: the job takes ImproperlyConfigured for a configuration error, not transient.
    settings.CEDULA_TASKS = value
    with pytest.raises(ImproperlyConfigured, match=r"^CEDULA_TASKS: "):
        get_backend()


@pytest.mark.parametrize(
    "value",
    ["django_cedula.testing.captcha.ReplicaCaptchaSolver", {"BACKEND": "x.Y", "OPTIONS": "k3y"}],
)
def test_get_raises_improperly_configured_for_a_solver_setting_of_another_shape(
    settings: Any, value: object
) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = value
    with pytest.raises(ImproperlyConfigured, match=r"^CEDULA_CAPTCHA_SOLVER: ") as caught:
        get_captcha_solver()
    assert "k3y" not in str(caught.value)


def test_get_raises_improperly_configured_for_sources_of_another_shape(settings: Any) -> None:
    settings.CEDULA_SOURCES = "django_cedula.testing.scrapers.FakeScraper"
    with pytest.raises(ImproperlyConfigured, match=r"^CEDULA_SOURCES: "):
        get_scraper()


def test_get_builds_once_the_options_are_fixed(settings: Any) -> None:
    settings.CEDULA_TASKS = {
        "BACKEND": "django_cedula.backends.inline.InlineBackend",
        "OPTIONS": {"wait_for_delay": True},
    }
    with pytest.raises(ConfigurationError, match="'wait_for_delay'"):
        get_backend()
    settings.CEDULA_TASKS = {
        "BACKEND": "django_cedula.backends.inline.InlineBackend",
        "OPTIONS": {"wait_for_delays": True},
    }
    backend = get_backend()
    assert isinstance(backend, InlineBackend)
    assert backend.wait_for_delays is True
    assert get_backend() is backend  # built once, kept


class ProjectRedisCache(RedisCache):
    """A project's own Redis backend: still Redis's atomic add."""


class ProjectFileCache(FileBasedCache):
    """A project's own file cache: still no atomic add."""
