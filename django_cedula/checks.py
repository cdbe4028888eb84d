"""System checks for every ``CEDULA_*`` setting, so that ``manage.py check`` fails before a worker does.

Ids are stable: ``django_cedula.E0xx`` errors and ``django_cedula.W0xx`` warnings.

=====  ==================================================================
E001   ``CEDULA_TASK_BACKEND`` cannot be imported or is not a task backend
E002   ``CEDULA_TASK_BACKEND_OPTIONS`` is not a dict, or the backend refuses it
E003   the backend's app is missing from ``INSTALLED_APPS``
E004   ``CEDULA_SCRAPER`` cannot be imported or has no ``scrape_cedula``
E005   ``CEDULA_SCRAPER_OPTIONS`` is not a dict, has an option the scraper does not take, or lacks one
E006   ``CEDULA_RETRY_DELAYS`` is not a list of non-negative numbers
E007   ``CEDULA_USER_FIELD`` is not a field of ``AUTH_USER_MODEL``
E008   ``CEDULA_CAPTCHA_SOLVER`` cannot be imported or is not a solver
E009   another setting has a wrong type or value
E010   ``CEDULA_BROWSER_EXECUTABLE`` does not exist or cannot be run
E011   ``CEDULA_CACHE_ALIAS`` is not one of ``CACHES``
E012   ``CEDULA_CAPTCHA_SOLVER_OPTIONS`` has an option the solver does not take, or lacks one it needs
W001   Django-Q2's job timeout: missing, not above the longest a job may run, or not below ``retry``
W002   Django-Q2 uses its Redis broker, which has no delivery receipts
W003   Django-Q2 runs jobs synchronously (``sync=True``) with ``DEBUG`` off
W004   retries are configured but the backend cannot defer jobs
W005   no captcha solver: every lookup of the browser scrapers fails
W006   ``CEDULA_RATE_LIMIT`` is set but the cache is not shared between processes
W007   ``CEDULA_RATE_LIMIT`` is set but the backend cannot defer jobs
W009   no cache shared between processes: no token supply, no cluster-wide rate limit
W008   ``CEDULA_SWEEP_PROCESSING_AFTER`` is shorter than the longest a job may run
=====  ==================================================================

E002, E005 and E012 read the options against the ``__init__`` signatures of the class they
configure (:func:`~django_cedula.loading.option_problems`); the hint names the options it takes.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import FieldDoesNotExist
from django.utils.module_loading import import_string

from .backends.base import BaseTaskBackend, describe_job_run
from .captcha.base import CaptchaSolver
from .conf import DEFAULTS, app_settings, is_shared_cache
from .loading import option_problems
from .throttle import parse_rate

ID = "django_cedula.{}"


def _raw(name: str) -> Any:
    return getattr(settings, app_settings.setting_name(name), DEFAULTS[name])


def _error(number: int, name: str, message: str, hint: str) -> Error:
    return Error(f"{app_settings.setting_name(name)}: {message}", hint=hint, id=ID.format(f"E{number:03d}"))


def _warning(number: int, message: str, hint: str) -> Warning:
    return Warning(message, hint=hint, id=ID.format(f"W{number:03d}"))


def _import(path: object) -> tuple[Any, str | None]:
    if not isinstance(path, str) or not path:
        return None, "must be a dotted path (a string)"
    try:
        return import_string(path), None
    except ImportError as exc:
        return None, f"{path!r} cannot be imported ({exc})"


def _options_error(number: int, name: str, cls: type, options: dict[str, Any]) -> Error | None:
    """The error for options ``cls`` does not take, or lacks; by name only (values may be secrets)."""
    problems = option_problems(cls, options)
    if not problems:
        return None
    return _error(number, name, problems.describe(), problems.hint(app_settings.setting_name(name)))


def _load_backend() -> tuple[BaseTaskBackend | None, list[CheckMessage]]:
    """A fresh instance of the configured backend, or ``None`` with the errors (E001, E002) that stop it.

    Backends are the package's own classes or thin adapters of a queue; building one touches no
    queue. Its instance is what the checks ask: ``supports_defer`` may be a property that depends
    on its options (the django.tasks backend asks the tasks backend it is given).
    """
    path = _raw("TASK_BACKEND")
    backend_class, problem = _import(path)
    if problem is None and not (
        isinstance(backend_class, type) and issubclass(backend_class, BaseTaskBackend)
    ):
        problem = f"{path!r} is not a subclass of django_cedula.backends.BaseTaskBackend"
    if problem is not None:
        hint = (
            "Use one of django_cedula.backends.django_q.DjangoQBackend, ...inline.InlineBackend, or your own."
        )
        return None, [_error(1, "TASK_BACKEND", problem, hint)]
    options = _raw("TASK_BACKEND_OPTIONS")
    if not isinstance(options, dict):
        return None, [
            _error(2, "TASK_BACKEND_OPTIONS", "must be a dict", "For example {} or {'timeout': 120}.")
        ]
    refused = _options_error(2, "TASK_BACKEND_OPTIONS", backend_class, options)
    if refused is not None:
        return None, [refused]
    try:
        backend: BaseTaskBackend = backend_class(**options)
    except (TypeError, ValueError) as exc:
        # The class's own words may quote a value: name the exception only.
        message = f"refused by {backend_class.__name__} ({type(exc).__name__})"
        return None, [_error(2, "TASK_BACKEND_OPTIONS", message, _doc_hint())]
    return backend, []


@register()
def check_task_backend(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E001, E002, E003, W004."""
    backend, messages = _load_backend()
    if backend is None:
        return messages
    backend_name = type(backend).__name__
    messages += [
        _error(2, "TASK_BACKEND_OPTIONS", problem, _doc_hint()) for problem in backend.check_options()
    ]
    for app in getattr(backend, "required_apps", ()):
        if not apps.is_installed(app):
            messages.append(
                _error(
                    3,
                    "TASK_BACKEND",
                    f"{backend_name} needs the app {app!r}, which is not in INSTALLED_APPS",
                    f"Add {app!r} to INSTALLED_APPS and run migrate.",
                )
            )
    delays = _raw("RETRY_DELAYS")
    if not backend.supports_defer and isinstance(delays, (list, tuple)) and any(delays):
        messages.append(
            _warning(
                4,
                f"CEDULA_RETRY_DELAYS asks for delayed retries, but {backend_name} cannot defer "
                "jobs: retries run without waiting.",
                "Use a backend that supports deferred jobs, or set CEDULA_RETRY_DELAYS = [0, 0, 0] "
                "to say that immediate retries are intended.",
            )
        )
    messages += backend.check_environment()
    return messages


@register()
def check_scraper(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E004, E005, E008, E012, W005. The classes are not instantiated (a scraper may own a browser)."""
    messages: list[CheckMessage] = []
    path = _raw("SCRAPER")
    scraper_class, problem = _import(path)
    if problem is None and not callable(getattr(scraper_class, "scrape_cedula", None)):
        problem = f"{path!r} has no scrape_cedula(cedula) method"
    if problem is not None:
        messages.append(
            _error(4, "SCRAPER", problem, "Use django_cedula.scrapers.wsp.WspScraper or a class of your own.")
        )
    scraper_options = _raw("SCRAPER_OPTIONS")
    if not isinstance(scraper_options, dict):
        messages.append(_error(5, "SCRAPER_OPTIONS", "must be a dict", "For example {}."))
    elif problem is None and isinstance(scraper_class, type):
        refused = _options_error(5, "SCRAPER_OPTIONS", scraper_class, scraper_options)
        messages += [refused] if refused is not None else []
    solver_path = _raw("CAPTCHA_SOLVER")
    if solver_path is not None:
        solver_class, solver_problem = _import(solver_path)
        if solver_problem is None and not (
            isinstance(solver_class, type) and issubclass(solver_class, CaptchaSolver)
        ):
            solver_problem = f"{solver_path!r} is not a subclass of django_cedula.captcha.CaptchaSolver"
        if solver_problem is not None:
            messages.append(
                _error(
                    8,
                    "CAPTCHA_SOLVER",
                    solver_problem,
                    "Use django_cedula.captcha.twocaptcha.TwoCaptchaSolver, the replica's solver, "
                    "or your own.",
                )
            )
        solver_options = _raw("CAPTCHA_SOLVER_OPTIONS")
        if not isinstance(solver_options, dict):
            messages.append(
                _error(9, "CAPTCHA_SOLVER_OPTIONS", "must be a dict", "For example {'api_key': '...'}.")
            )
        elif solver_problem is None:
            refused = _options_error(12, "CAPTCHA_SOLVER_OPTIONS", solver_class, solver_options)
            messages += [refused] if refused is not None else []
    elif problem is None and _is_browser_scraper(scraper_class):
        messages.append(
            _warning(
                5,
                "CEDULA_CAPTCHA_SOLVER is not set: every lookup will end as captcha_failed.",
                "Set CEDULA_CAPTCHA_SOLVER to django_cedula.captcha.twocaptcha.TwoCaptchaSolver "
                "(with an API key) "
                "or, against the local replica, django_cedula.captcha.replica.ReplicaCaptchaSolver.",
            )
        )
    return messages


def _is_browser_scraper(scraper_class: Any) -> bool:
    from .scrapers.browser_scraper import BrowserScraper

    return isinstance(scraper_class, type) and issubclass(scraper_class, BrowserScraper)


@register()
def check_retry_delays(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E006."""
    delays = _raw("RETRY_DELAYS")
    if isinstance(delays, (list, tuple)) and all(_is_number(delay) and delay >= 0 for delay in delays):
        return []
    return [
        _error(
            6,
            "RETRY_DELAYS",
            f"must be a list of non-negative numbers of seconds, not {delays!r}",
            "For example [60, 300, 900] (3 retries), or [] for no retries.",
        )
    ]


@register()
def check_user_field(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E007."""
    name = _raw("USER_FIELD")
    try:
        user_model = apps.get_model(settings.AUTH_USER_MODEL)
    except (LookupError, ValueError):
        return []  # Django's own checks report a broken AUTH_USER_MODEL
    if isinstance(name, str):
        try:
            user_model._meta.get_field(name)
            return []
        except FieldDoesNotExist:
            if isinstance(getattr(user_model, name, None), property):
                return []  # a computed attribute is fine: the receiver only reads it
    fields = ", ".join(sorted(f.name for f in user_model._meta.concrete_fields))
    return [
        _error(
            7,
            "USER_FIELD",
            f"{name!r} is not a field of {settings.AUTH_USER_MODEL}",
            f"Name the field that holds the cédula; {settings.AUTH_USER_MODEL} has: {fields}.",
        )
    ]


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _non_negative(value: object) -> bool:
    return _is_number(value) and value >= 0  # type: ignore[operator]


def _positive(value: object) -> bool:
    return _is_number(value) and value > 0  # type: ignore[operator]


def _url(schemes: tuple[str, ...]) -> Callable[[object], bool]:
    def valid(value: object) -> bool:
        if value is None:
            return True
        if not isinstance(value, str):
            return False
        parts = urlsplit(value)
        return parts.scheme in schemes and bool(parts.netloc)

    return valid


def _proxy(value: object) -> bool:
    if value is None or (isinstance(value, str) and _url(("http", "https", "socks5"))(value)):
        return True
    return isinstance(value, dict) and isinstance(value.get("server"), str)


def _rate(value: object) -> bool:
    if value is None:
        return True
    try:
        parse_rate(value) if isinstance(value, str) else parse_rate("")
    except ValueError:
        return False
    return True


# setting -> (is it valid?, what it must be)
_VALUE_RULES: dict[str, tuple[Callable[[object], bool], str]] = {
    "AUTO_VALIDATE": (lambda v: isinstance(v, bool), "True or False"),
    "BROWSER_HEADLESS": (lambda v: isinstance(v, bool), "True or False"),
    "STORE_RAW_RESPONSE": (lambda v: isinstance(v, bool), "True or False"),
    "PAGE_TIMEOUT": (_positive, "a positive number of seconds"),
    "LOOKUP_TIMEOUT": (_positive, "a positive number of seconds"),
    "MIN_LOOKUP_INTERVAL": (_non_negative, "a number of seconds, 0 or more"),
    "BROWSER_IDLE_TIMEOUT": (_non_negative, "a number of seconds, 0 or more (0: never close)"),
    "RAW_RESPONSE_MAX_LENGTH": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "a whole number of characters, 0 or more",
    ),
    # A string, as documented and as the page's <select> holds it; a number is refused, not converted.
    "ELECTION": (
        lambda v: isinstance(v, str) and v.removeprefix("-").isdigit(),
        'an election id as a string, such as "-1"',
    ),
    "SOURCE_URL": (_url(("http", "https")), "an http(s) URL, or None for the real site"),
    "BROWSER_ENDPOINT": (_url(("ws", "wss", "http", "https")), "a ws(s):// or http(s):// URL, or None"),
    "BROWSER_ARGS": (
        lambda v: isinstance(v, (list, tuple)) and all(isinstance(a, str) for a in v),
        "a list of strings",
    ),
    "BROWSER_USER_AGENT": (lambda v: v is None or isinstance(v, str), "a string or None"),
    "BROWSER_PROXY": (_proxy, 'a proxy URL or a dict with "server", or None'),
    "REFRESH_COOLDOWN": (_non_negative, "a number of seconds, 0 or more"),
    "REVALIDATE_ON_CHANGE": (lambda v: isinstance(v, bool), "True or False"),
    "RATE_LIMIT": (_rate, 'a rate such as "12/m", "1/5s" or "100/h", or None for no limit'),
    "BLOCK_COOLDOWN": (_non_negative, "a number of seconds, 0 or more (0: no pause)"),
    "SWEEP_PENDING_AFTER": (_positive, "a positive number of seconds"),
    "SWEEP_PROCESSING_AFTER": (_positive, "a positive number of seconds"),
    "SWEEP_SCHEDULE": (lambda v: isinstance(v, bool), "True or False"),
    "CAPTCHA_POOL": (lambda v: isinstance(v, bool), "True or False"),
    "CAPTCHA_TOKEN_MAX_AGE": (
        lambda v: _positive(v) and float(v) <= 120,  # type: ignore[arg-type]
        "a positive number of seconds, at most 120 (Google refuses older tokens)",
    ),
    "CAPTCHA_POOL_MIN_TOKENS": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 32,
        "a whole number of tokens from 0 to 32",
    ),
    "CAPTCHA_PRICE_PER_1000": (_non_negative, "a price, 0 or more"),
}


@register()
def check_values(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E009 and E010."""
    messages: list[CheckMessage] = []
    for name, (valid, expected) in _VALUE_RULES.items():
        value = _raw(name)
        if not valid(value):
            messages.append(
                _error(9, name, f"must be {expected}, not {value!r}", f"Default: {DEFAULTS[name]!r}.")
            )
    executable = _raw("BROWSER_EXECUTABLE")
    if executable is not None and not (
        isinstance(executable, str) and os.path.isfile(executable) and os.access(executable, os.X_OK)
    ):
        messages.append(
            _error(
                10,
                "BROWSER_EXECUTABLE",
                f"{executable!r} is not an executable file",
                "Install Chromium (apt-get install chromium) and point at it, "
                "or set None to find one on PATH.",
            )
        )
    return messages


@register()
def check_throttle(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E011, W006 and W007: the cache and backend behind ``CEDULA_RATE_LIMIT``."""
    alias = _raw("CACHE_ALIAS")
    caches_setting = getattr(settings, "CACHES", {}) or {}
    if alias not in caches_setting:
        return [
            _error(
                11,
                "CACHE_ALIAS",
                f"{alias!r} is not a cache in CACHES ({', '.join(map(repr, caches_setting)) or 'none'})",
                "Name a cache that every worker shares, e.g. a Redis cache.",
            )
        ]
    messages: list[CheckMessage] = []
    if not is_shared_cache(alias) and _raw("CAPTCHA_POOL") and _raw("CAPTCHA_SOLVER") is not None:
        messages.append(
            _warning(
                9,
                f"The cache {alias!r} (CEDULA_CACHE_ALIAS) is kept by each process to itself: there is no "
                "shared token supply, so every lookup waits for a captcha solve of its own, and no "
                "cluster-wide rate limit unless CEDULA_RATE_LIMIT is set (each worker then paces only "
                "itself with CEDULA_MIN_LOOKUP_INTERVAL).",
                "Point CEDULA_CACHE_ALIAS at a cache all workers share (Redis, Memcached, the database "
                "cache), or set CEDULA_CAPTCHA_POOL = False to say per-lookup solves are intended.",
            )
        )
    if not _rate(_raw("RATE_LIMIT")):
        return messages  # E009 says why
    rate = app_settings.RATE_LIMIT  # unset: one per 5 s with a shared cache, none without
    if rate is None:
        return messages
    if not is_shared_cache(alias):
        messages.append(
            _warning(
                6,
                f"CEDULA_RATE_LIMIT is enforced through the cache {alias!r}, which each process keeps to "
                "itself: every worker process gets the whole rate, and a block pauses only the worker "
                "that saw it.",
                "Point CEDULA_CACHE_ALIAS at a cache all workers share "
                "(Redis, Memcached, the database cache).",
            )
        )
    backend, _ = _load_backend()  # its errors are check_task_backend's to report
    if backend is not None and not backend.supports_defer:
        messages.append(
            _warning(
                7,
                "CEDULA_RATE_LIMIT is set but the task backend cannot defer jobs: a job that must wait "
                "is left PENDING for cedula_sweep to queue again.",
                "Use a backend that supports delays (Django-Q2, Celery, django.tasks with db_worker).",
            )
        )
    return messages


@register()
def check_sweep(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W008: the sweeper must not take a job that still runs for one whose worker died."""
    after = _raw("SWEEP_PROCESSING_AFTER")
    backend, _ = _load_backend()
    if backend is None or not _positive(after):
        return []  # E001, E002 or E009 says why
    limit = backend.job_time_limit()
    if limit is not None:
        # The queue kills a job at its limit: no job of this backend runs longer.
        longest: float | None = limit
        why = f"{type(backend).__name__}'s job timeout"
    else:
        longest = backend.longest_job_run()
        why = describe_job_run(backend.job_run_parts())
    if longest is None or after >= longest:
        return []
    return [
        _warning(
            8,
            f"CEDULA_SWEEP_PROCESSING_AFTER ({after:g} s) is shorter than the longest a job may run "
            f"({longest:g} s: {why}): cedula_sweep would queue again a lookup that is still running, "
            "and pay for it twice.",
            f"Set CEDULA_SWEEP_PROCESSING_AFTER to at least {longest:g}, e.g. {max(900.0, 2 * longest):g} "
            "(the default is 900).",
        )
    ]


def _doc_hint() -> str:
    return "See the backend's documentation for its options."
