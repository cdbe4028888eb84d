"""``CEDULA_SCRAPER`` and ``CEDULA_CAPTCHA_SOLVER`` with their options: E004, E005, E008, E012, W005.

The solver is checked here, with the scraper, because whether a missing one matters (W005)
depends on the scraper: only the browser scrapers meet a captcha.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage

from ..captcha.base import CaptchaSolver
from .messages import error, import_path, options_error, raw, warning


def check_scraper(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E004, E005, E008, E012, W005. The classes are not instantiated (a scraper may own a browser)."""
    messages: list[CheckMessage] = []
    path = raw("SCRAPER")
    scraper_class, problem = import_path(path)
    if problem is None and not callable(getattr(scraper_class, "scrape_cedula", None)):
        problem = f"{path!r} has no scrape_cedula(cedula) method"
    if problem is not None:
        messages.append(
            error(4, "SCRAPER", problem, "Use django_cedula.scrapers.wsp.WspScraper or a class of your own.")
        )
    scraper_options = raw("SCRAPER_OPTIONS")
    if not isinstance(scraper_options, dict):
        messages.append(error(5, "SCRAPER_OPTIONS", "must be a dict", "For example {}."))
    elif problem is None and isinstance(scraper_class, type):
        refused = options_error(5, "SCRAPER_OPTIONS", scraper_class, scraper_options)
        messages += [refused] if refused is not None else []
    solver_path = raw("CAPTCHA_SOLVER")
    if solver_path is not None:
        solver_class, solver_problem = import_path(solver_path)
        if solver_problem is None and not (
            isinstance(solver_class, type) and issubclass(solver_class, CaptchaSolver)
        ):
            solver_problem = f"{solver_path!r} is not a subclass of django_cedula.captcha.CaptchaSolver"
        if solver_problem is not None:
            messages.append(
                error(
                    8,
                    "CAPTCHA_SOLVER",
                    solver_problem,
                    "Use django_cedula.captcha.twocaptcha.TwoCaptchaSolver, the replica's solver, "
                    "or your own.",
                )
            )
        solver_options = raw("CAPTCHA_SOLVER_OPTIONS")
        if not isinstance(solver_options, dict):
            messages.append(
                error(9, "CAPTCHA_SOLVER_OPTIONS", "must be a dict", "For example {'api_key': '...'}.")
            )
        elif solver_problem is None:
            refused = options_error(12, "CAPTCHA_SOLVER_OPTIONS", solver_class, solver_options)
            messages += [refused] if refused is not None else []
    elif problem is None and _is_browser_scraper(scraper_class):
        messages.append(
            warning(
                5,
                "CEDULA_CAPTCHA_SOLVER is not set: every lookup will end as captcha_failed.",
                "Set CEDULA_CAPTCHA_SOLVER to django_cedula.captcha.twocaptcha.TwoCaptchaSolver "
                "(with an API key) "
                "or, against the local replica, django_cedula.captcha.replica.ReplicaCaptchaSolver.",
            )
        )
    return messages


def _is_browser_scraper(scraper_class: Any) -> bool:
    """A scraper that meets the captcha: a browser one, or an HTTP-only one (both solve)."""
    from ..scrapers.solving import SolvingScraper

    return isinstance(scraper_class, type) and issubclass(scraper_class, SolvingScraper)
