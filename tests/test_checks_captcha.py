"""E013: ``TwoCaptchaSolver`` with an API key that is ``None`` or empty fails ``manage.py check``."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_cedula import checks

TWOCAPTCHA = "django_cedula.captcha.twocaptcha.TwoCaptchaSolver"


@pytest.fixture
def good(settings: Any) -> Any:
    settings.CEDULA_TASK_BACKEND = "django_cedula.backends.django_q.DjangoQBackend"
    settings.CEDULA_SCRAPER = "django_cedula.scrapers.wsp.WspScraper"
    settings.Q_CLUSTER = {"name": "t", "orm": "default", "timeout": 120, "retry": 180}
    settings.CEDULA_CAPTCHA_POOL = False
    settings.CEDULA_CAPTCHA_SOLVER = TWOCAPTCHA
    settings.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"api_key": "k3y-that-must-never-show"}
    return settings


def test_a_key_passes(good: Any) -> None:
    assert checks.check_captcha() == []
    assert checks.check_scraper() == []


@pytest.mark.parametrize(
    ("key", "words"), [(None, "is not set"), ("", "is empty"), ("  ", "is empty"), (42, "string")]
)
def test_e013_no_key(good: Any, key: object, words: str) -> None:
    good.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"api_key": key}
    [message] = checks.check_captcha()
    assert message.id == "django_cedula.E013"
    assert message.msg.startswith("CEDULA_CAPTCHA_SOLVER_OPTIONS: ")
    assert words in message.msg
    assert "TWOCAPTCHA_API_KEY" in (message.hint or "")
    assert checks.check_scraper() == []  # the option is there: E012 has nothing to say


def test_the_key_left_out_is_e012_alone(good: Any) -> None:
    good.CEDULA_CAPTCHA_SOLVER_OPTIONS = {}
    assert checks.check_captcha() == []
    assert [m.id for m in checks.check_scraper()] == ["django_cedula.E012"]


def test_the_same_class_by_another_path(good: Any) -> None:
    good.CEDULA_CAPTCHA_SOLVER = "django_cedula.captcha.twocaptcha.TwoCaptchaSolver"
    good.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"api_key": None}
    assert [m.id for m in checks.check_captcha()] == ["django_cedula.E013"]


@pytest.mark.parametrize(
    "solver", [None, "django_cedula.testing.captcha.ReplicaCaptchaSolver", "nope.Nope", 42]
)
def test_other_solvers_are_not_its_business(good: Any, solver: object) -> None:
    good.CEDULA_CAPTCHA_SOLVER = solver
    good.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"api_key": None}
    assert checks.check_captcha() == []


def test_options_not_a_dict_are_e009s(good: Any) -> None:
    good.CEDULA_CAPTCHA_SOLVER_OPTIONS = "k3y"
    assert checks.check_captcha() == []


@pytest.mark.django_db(databases="__all__")  # the model checks ask each database about JSON fields
def test_manage_py_check_fails_with_the_id_and_a_hint(good: Any) -> None:
    good.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"api_key": ""}
    with pytest.raises(SystemCheckError) as raised:
        call_command("check")
    assert "django_cedula.E013" in str(raised.value)
    assert "HINT: Set the TWOCAPTCHA_API_KEY environment variable" in str(raised.value)


def test_a_present_key_never_appears_in_any_message(good: Any) -> None:
    # Any other problem reported with the key set must not echo it either.
    good.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"api_key": "k3y-that-must-never-show", "tokn": 1}
    text = " ".join(f"{m.msg} {m.hint}" for m in [*checks.check_scraper(), *checks.check_captcha()])
    assert "k3y-that-must-never-show" not in text
