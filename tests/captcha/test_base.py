"""What every solver takes: ``price_per_1000``, what 1,000 of its solves cost, and where that price is
read (``price_per_1000()``: the spend's estimates in ``cedula_stats`` and the admin)."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pytest
from django.core.management import call_command

from django_cedula.captcha.base import CaptchaSolver, get_captcha_solver, price_per_1000
from django_cedula.captcha.twocaptcha import TwoCaptchaSolver
from django_cedula.exceptions import ConfigurationError
from django_cedula.testing.captcha import ReplicaCaptchaSolver

REPLICA = "django_cedula.testing.captcha.ReplicaCaptchaSolver"
API_KEY = "tests-price-2captcha-key"


class UnpricedSolver(CaptchaSolver):
    """A host's solver that says nothing about its price."""

    def solve(self, site_key: str, page_url: str, *, timeout: float | None = None) -> str:
        return "token"


def test_each_class_has_its_own_default_price() -> None:
    assert TwoCaptchaSolver(api_key=API_KEY).price_per_1000 == 3.0
    assert ReplicaCaptchaSolver().price_per_1000 == 0.0, "the replica's solves cost nothing"
    assert UnpricedSolver().price_per_1000 == 0.0


@pytest.mark.parametrize("price", [0, 0.0, 2, 2.99, 1e6])
def test_a_given_price_is_kept_as_a_float(price: float) -> None:
    solver = TwoCaptchaSolver(api_key=API_KEY, price_per_1000=price)
    assert solver.price_per_1000 == float(price)
    assert isinstance(solver.price_per_1000, float)
    assert ReplicaCaptchaSolver(price_per_1000=price).price_per_1000 == float(price)


@pytest.mark.parametrize(
    "price",
    [-0.01, -3, math.inf, -math.inf, math.nan, "3.0", [3.0], True, False],
    ids=["negative", "negative int", "inf", "-inf", "nan", "text", "list", "True", "False"],
)
def test_a_price_that_is_not_a_finite_number_of_0_or_more_is_refused(price: Any) -> None:
    with pytest.raises(ConfigurationError, match="price_per_1000") as refused:
        UnpricedSolver(price_per_1000=price)
    assert refused.value.hint
    with pytest.raises(ConfigurationError, match="price_per_1000"):
        TwoCaptchaSolver(api_key=API_KEY, price_per_1000=price)


def test_a_refused_price_names_the_setting_and_never_the_secret(settings: Any) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = {
        "BACKEND": "django_cedula.captcha.twocaptcha.TwoCaptchaSolver",
        "OPTIONS": {"api_key": API_KEY, "price_per_1000": -1},
    }
    with pytest.raises(ConfigurationError, match=r"^CEDULA_CAPTCHA_SOLVER: price_per_1000 ") as refused:
        get_captcha_solver()
    assert API_KEY not in f"{refused.value} {refused.value.hint}"


def test_the_configured_price_is_read_from_the_solver(settings: Any) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = None
    assert price_per_1000() == 0.0, "no solver, no solves to pay for"
    settings.CEDULA_CAPTCHA_SOLVER = {"BACKEND": REPLICA}
    assert price_per_1000() == 0.0
    settings.CEDULA_CAPTCHA_SOLVER = {"BACKEND": REPLICA, "OPTIONS": {"price_per_1000": 1.5}}
    assert price_per_1000() == 1.5
    settings.CEDULA_CAPTCHA_SOLVER = {
        "BACKEND": "django_cedula.captcha.twocaptcha.TwoCaptchaSolver",
        "OPTIONS": {"api_key": API_KEY},
    }
    assert price_per_1000() == 3.0


@pytest.mark.parametrize(
    "solver",
    [
        {"BACKEND": REPLICA, "OPTIONS": {"price_per_1000": math.inf}},
        {"BACKEND": "django_cedula.captcha.twocaptcha.TwoCaptchaSolver", "OPTIONS": {}},  # no api_key
        {"BACKEND": "no.such.Solver"},
    ],
    ids=["refused price", "missing option", "not importable"],
)
@pytest.mark.django_db
def test_a_solver_that_cannot_be_built_prices_nothing_and_the_report_still_runs(
    settings: Any, solver: dict[str, Any]
) -> None:
    """``manage.py check`` reports the solver; the spend's reports must not fail for it."""
    settings.CEDULA_CAPTCHA_SOLVER = solver
    assert price_per_1000() == 0.0
    out = io.StringIO()
    call_command("cedula_stats", "--json", stdout=out, stderr=io.StringIO())
    assert json.loads(out.getvalue())["captcha"]["price_per_1000"] == 0.0


# --------------------------------------------------------------------------- what a token may be


def test_a_token_is_text_of_at_most_8_kib() -> None:
    from django_cedula.captcha.base import MAX_TOKEN_LENGTH, checked_token
    from django_cedula.exceptions import CaptchaError

    assert MAX_TOKEN_LENGTH == 8192
    longest = "x" * MAX_TOKEN_LENGTH
    assert checked_token(longest) is longest
    with pytest.raises(CaptchaError, match=r"is 8 KiB long, more than 8 KiB: refused"):
        checked_token(longest + "x")
    with pytest.raises(CaptchaError, match=r"is 20 MiB long"):
        checked_token("x" * (20 * 2**20))
    for value, kind in ((b"03AG", "bytes"), (None, "NoneType"), (["03AG"], "list"), (3, "int")):
        with pytest.raises(CaptchaError, match=rf"is a {kind}, not text: refused"):
            checked_token(value)
    with pytest.raises(CaptchaError, match="empty"):
        checked_token("")
