"""``CEDULA_SCRAPER`` and ``CEDULA_CAPTCHA_SOLVER`` with their options: E004, E005, E008, E012, W005.

``CEDULA_SCRAPER`` may be a list (a fallback chain, :mod:`django_cedula.scrapers.chain`): E004 then
covers the list and each entry's shape and class, E005 each entry's options.

The solver is checked here, with the scraper, because whether a missing one matters (W005)
depends on the scraper: only the browser scrapers meet a captcha.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage

from ..captcha.base import CaptchaSolver
from ..loading import option_problems
from ..scrapers.chain import is_chain_setting, read_entry
from .messages import error, import_path, options_error, raw, warning


def check_scraper(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E004, E005, E008, E012, W005. The classes are not instantiated (a scraper may own a browser)."""
    value = raw("SCRAPER")
    if is_chain_setting(value):
        messages, scraper_classes = _check_chain(value)
    else:
        messages, scraper_class = _check_single(value)
        scraper_classes = [] if scraper_class is None else [scraper_class]
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
    elif any(_is_browser_scraper(scraper_class) for scraper_class in scraper_classes):
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


def _scraper_class(path: object) -> tuple[Any, str | None]:
    """The class ``path`` names, or the problem (E004's) in words."""
    scraper_class, problem = import_path(path)
    if problem is None and not callable(getattr(scraper_class, "scrape_cedula", None)):
        problem = f"{path!r} has no scrape_cedula(cedula) method"
    return scraper_class, problem


def _check_single(path: object) -> tuple[list[CheckMessage], Any]:
    """One dotted path, with ``CEDULA_SCRAPER_OPTIONS``: E004, E005. Returns the class if it loads."""
    messages: list[CheckMessage] = []
    scraper_class, problem = _scraper_class(path)
    if problem is not None:
        if not isinstance(path, str):
            problem = "must be a dotted path (a string) or a list of scrapers"
        messages.append(error(4, "SCRAPER", problem, _USE))
    scraper_options = raw("SCRAPER_OPTIONS")
    if not isinstance(scraper_options, dict):
        messages.append(error(5, "SCRAPER_OPTIONS", "must be a dict", "For example {}."))
    elif problem is None and isinstance(scraper_class, type):
        refused = options_error(5, "SCRAPER_OPTIONS", scraper_class, scraper_options)
        messages += [refused] if refused is not None else []
    return messages, scraper_class if problem is None else None


def _check_chain(entries: Any) -> tuple[list[CheckMessage], list[Any]]:
    """A list of scrapers (a fallback chain): E004 for an empty list or an entry that is badly shaped,
    cannot be imported or is not a scraper; E005 for an entry's options, or
    ``CEDULA_SCRAPER_OPTIONS`` set beside a list. Returns the classes that load."""
    messages: list[CheckMessage] = []
    classes: list[Any] = []
    if not entries:
        messages.append(error(4, "SCRAPER", "is an empty list: name at least one scraper", _USE))
    for index, item in enumerate(entries):
        entry = read_entry(index, item)
        if isinstance(entry, str):
            messages.append(error(4, "SCRAPER", entry, _ENTRY_HINT))
            continue
        scraper_class, problem = _scraper_class(entry.path)
        if problem is not None:
            messages.append(error(4, "SCRAPER", f"{entry.label}: {problem}", _ENTRY_HINT))
            continue
        classes.append(scraper_class)
        if isinstance(scraper_class, type):
            problems = option_problems(scraper_class, entry.options)
            if problems:
                where = f"{entry.label}['options']"
                messages.append(error(5, "SCRAPER", f"{where}: {problems.describe()}", problems.hint(where)))
    scraper_options = raw("SCRAPER_OPTIONS")
    if scraper_options != {}:
        messages.append(
            error(
                5,
                "SCRAPER_OPTIONS",
                "applies to a single dotted path in CEDULA_SCRAPER, not to a list",
                "Give each entry of the list its own: {'class': '...', 'options': {...}}; "
                "set CEDULA_SCRAPER_OPTIONS = {} (or remove it).",
            )
        )
    return messages, classes


_USE = "Use django_cedula.scrapers.wsp.WspScraper or a class of your own."
_ENTRY_HINT = (
    "Each entry is a scraper's dotted path or {'class': 'dotted.path', 'options': {...}}, e.g. "
    "['django_cedula.scrapers.wsp.WspScraper', 'django_cedula.scrapers.consultacenso.ConsultaCensoScraper']."
)


def _is_browser_scraper(scraper_class: Any) -> bool:
    """A scraper that meets the captcha: a browser one, or an HTTP-only one (both solve)."""
    from ..scrapers.solving import SolvingScraper

    return isinstance(scraper_class, type) and issubclass(scraper_class, SolvingScraper)
