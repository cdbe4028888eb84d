"""Options read from ``__init__`` signatures, refused by the package's bases, and ConfigurationError
when a configured class cannot be built (issue 11: configuration errors are not transient)."""

from __future__ import annotations

from typing import Any

import pytest

from django_cedula.backends import get_backend
from django_cedula.backends.inline import InlineBackend
from django_cedula.captcha import get_captcha_solver
from django_cedula.exceptions import ConfigurationError
from django_cedula.conf import option_problems
from django_cedula.scrapers import BaseScraper, get_scraper
from django_cedula.testing.captcha import ReplicaCaptchaSolver
from django_cedula.testing.scrapers import FakeScraper

SECRET = "SECRET-KEY-5678"


class Keyed(BaseScraper):
    def __init__(self, *, api_key: str, region: str = "co", **options: Any) -> None:
        super().__init__(**options)
        self.api_key = api_key


class KeyedWithDefault(Keyed):
    """Supplies its parent's required option itself, and says so in its signature."""

    def __init__(self, *, api_key: str = "built-in", retries: int = 1, **options: Any) -> None:
        super().__init__(api_key=api_key, **options)


class Closed(BaseScraper):
    def __init__(self, *, depth: int = 1) -> None:
        super().__init__(depth=depth)


class Hosted:
    """A host's scraper outside the package's bases that keeps every option itself."""

    def __init__(self, **options: Any) -> None:
        self.options = options


class Bare:
    pass


def test_a_kwargs_init_is_followed_to_the_package_base() -> None:
    problems = option_problems(Keyed, {"region": "co", "regoin": "co"})
    assert problems.unknown == ("regoin",)
    assert problems.missing == ("api_key",)
    assert problems.accepted == ("api_key", "region")


def test_a_required_option_declared_by_a_subclass_is_not_missing() -> None:
    problems = option_problems(KeyedWithDefault, {"retries": 2, "region": "co"})
    assert not problems
    assert problems.accepted == ("api_key", "retries", "region")


def test_an_init_without_kwargs_ends_the_chain() -> None:
    assert option_problems(Closed, {"depth": 2}).unknown == ()
    assert option_problems(Closed, {"deep": 2}).unknown == ("deep",)


def test_a_kwargs_that_keeps_the_options_cannot_be_judged() -> None:
    problems = option_problems(Hosted, {"anything": 1})
    assert not problems
    assert problems.decided is False


def test_a_class_with_no_init_takes_nothing() -> None:
    assert option_problems(Bare, {"x": 1}).unknown == ("x",)
    assert not option_problems(Bare, {})


def test_the_bases_refuse_options_no_subclass_declared() -> None:
    with pytest.raises(TypeError, match="FakeScraper got unknown options: bogus"):
        FakeScraper(bogus=1)
    with pytest.raises(TypeError, match="InlineBackend got unknown options: wait"):
        InlineBackend(wait=True)
    with pytest.raises(TypeError, match="BaseScraper got unknown options: bogus"):
        BaseScraper(bogus=1)


def test_self_options_keeps_what_the_subclass_passed_up() -> None:
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
    settings.CEDULA_SCRAPER = "django_cedula.scrapers.wsp.WspScraper"
    settings.CEDULA_SCRAPER_OPTIONS = {"bogus": 1}
    with pytest.raises(ConfigurationError) as caught:
        get_scraper()
    assert str(caught.value) == (
        "CEDULA_SCRAPER_OPTIONS: django_cedula.scrapers.wsp.WspScraper does not take option 'bogus'"
    )
    assert caught.value.hint == (
        "In CEDULA_SCRAPER_OPTIONS, remove or correct 'bogus'. WspScraper takes: url."
    )


def test_get_raises_configuration_error_for_a_missing_option(settings: Any) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = "django_cedula.captcha.twocaptcha.TwoCaptchaSolver"
    settings.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"server": SECRET}
    with pytest.raises(ConfigurationError) as caught:
        get_captcha_solver()
    assert "CEDULA_CAPTCHA_SOLVER_OPTIONS" in str(caught.value)
    assert "TwoCaptchaSolver needs option 'api_key'" in str(caught.value)
    assert "add 'api_key'" in caught.value.hint
    assert SECRET not in f"{caught.value} {caught.value.hint}"


def test_get_raises_configuration_error_for_a_refused_value_without_quoting_it(settings: Any) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = "django_cedula.testing.captcha.ReplicaCaptchaSolver"
    settings.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"token": SECRET, "delay": -1}
    with pytest.raises(ConfigurationError) as caught:
        get_captcha_solver()
    message = str(caught.value)
    assert message.startswith("CEDULA_CAPTCHA_SOLVER_OPTIONS: ")
    assert "ReplicaCaptchaSolver refused its options (ValueError; options given: 'token', 'delay')" in message
    assert "CEDULA_CAPTCHA_SOLVER_OPTIONS" in caught.value.hint
    assert SECRET not in f"{message} {caught.value.hint}"
    assert "-1" not in message


def test_get_raises_configuration_error_for_options_that_are_not_a_dict(settings: Any) -> None:
    settings.CEDULA_TASK_BACKEND = "django_cedula.backends.inline.InlineBackend"
    settings.CEDULA_TASK_BACKEND_OPTIONS = ["wait_for_delays"]
    with pytest.raises(ConfigurationError, match="CEDULA_TASK_BACKEND_OPTIONS must be a dict"):
        get_backend()


def test_get_builds_once_the_options_are_fixed(settings: Any) -> None:
    settings.CEDULA_TASK_BACKEND = "django_cedula.backends.inline.InlineBackend"
    settings.CEDULA_TASK_BACKEND_OPTIONS = {"wait_for_delay": True}
    with pytest.raises(ConfigurationError, match="'wait_for_delay'"):
        get_backend()
    settings.CEDULA_TASK_BACKEND_OPTIONS = {"wait_for_delays": True}
    backend = get_backend()
    assert isinstance(backend, InlineBackend)
    assert backend.wait_for_delays is True
