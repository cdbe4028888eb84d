"""System checks for every ``CEDULA_*`` setting, so that ``manage.py check`` fails before a worker does.

Ids are stable: ``django_cedula.E0xx`` errors and ``django_cedula.W0xx`` warnings.

=====  ==================================================================
E001   ``CEDULA_TASK_BACKEND`` cannot be imported or is not a task backend
E002   ``CEDULA_TASK_BACKEND_OPTIONS`` is not a dict, or the backend refuses it
E003   the backend's app is missing from ``INSTALLED_APPS``
E004   ``CEDULA_SCRAPER`` (or an entry of a list) cannot be imported or has no ``scrape_cedula``
E005   ``CEDULA_SCRAPER_OPTIONS`` (or a list entry's options) is not a dict, or does not fit the scraper
E006   ``CEDULA_RETRY_DELAYS`` is not a list of non-negative numbers
E007   ``CEDULA_USER_FIELD`` is not a field of ``AUTH_USER_MODEL``
E008   ``CEDULA_CAPTCHA_SOLVER`` cannot be imported or is not a solver
E009   another setting has a wrong type or value
E010   ``CEDULA_BROWSER_EXECUTABLE`` does not exist or cannot be run
E011   ``CEDULA_CACHE_ALIAS`` is not one of ``CACHES``
E012   ``CEDULA_CAPTCHA_SOLVER_OPTIONS`` has an option the solver does not take, or lacks one it needs
E013   ``TwoCaptchaSolver``'s ``api_key`` is ``None`` or empty (an unset environment variable)
E014   ``CEDULA_SCRAPER`` names an HTTP-only scraper but ``curl_cffi`` (the ``http`` extra) is missing
W001   Django-Q2's job timeout: missing, not above the longest a job may run, or not below ``retry``
W002   Django-Q2 uses its Redis broker, which has no delivery receipts
W003   Django-Q2 runs jobs synchronously (``sync=True``) with ``DEBUG`` off
W004   retries are configured but the backend cannot defer jobs
W005   no captcha solver: every lookup of the browser scrapers fails
W006   ``CEDULA_RATE_LIMIT`` is set but the cache is not shared between processes
W007   ``CEDULA_RATE_LIMIT`` is set but the backend cannot defer jobs
W008   ``CEDULA_SWEEP_PROCESSING_AFTER`` is shorter than the longest a job may run
W009   no cache shared between processes: no token supply, no cluster-wide rate limit
=====  ==================================================================

E002, E005 and E012 read the options against the ``__init__`` signatures of the class they
configure (:func:`~django_cedula.loading.option_problems`); the hint names the options it takes.

The sections, in order:

- What every check shares: a setting's raw value, messages with their ids, and loading a dotted
  path or its options without raising (a check reports a problem, it never fails itself).
- The pluggable parts, one section each: the task backend (E001 to E003, W004; the backend's own
  ``check_options`` and ``check_environment`` add to E002 and give W001 to W003), the scraper
  (E004, E005, E014) and the captcha solver (E008, E012, E013, W005). Each part's class and
  options are read by functions that take them as values (``_backend_from``, ``_scraper_class``
  and ``_scraper_options``, ``_solver_class`` and ``_check_solver``), and every options check
  goes through :func:`_options_error`: the one place where a part will be asked to validate its
  own options, whatever setting they come from.
- The plain settings: the type and range of each (E006, E009, E010), and ``CEDULA_USER_FIELD``
  against ``AUTH_USER_MODEL`` (E007).
- The settings read together with the backend: the cache behind the rate limit and the token
  supply (E011, W006, W007, W009), and ``CEDULA_SWEEP_PROCESSING_AFTER`` (W008).

The checks are registered at the end, in one place, when the app's ``ready()`` imports this
module; each ``check_*`` function can also be called alone (``checks.check_values()``), as the
tests do.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import FieldDoesNotExist
from django.utils.module_loading import import_string

from . import proxies
from .backends.base import BaseTaskBackend, describe_job_run
from .captcha.base import CaptchaSolver
from .conf import DEFAULTS, app_settings, is_shared_cache
from .loading import option_problems
from .scrapers.chain import is_chain_setting, read_entry
from .throttle import parse_rate

ID = "django_cedula.{}"

# What every check shares ----------------------------------------------------------------------


def _raw(name: str) -> Any:
    """The setting as the project wrote it (or its default), before ``app_settings`` reads it."""
    return getattr(settings, app_settings.setting_name(name), DEFAULTS[name])


def _error(number: int, name: str, message: str, hint: str) -> Error:
    return Error(f"{app_settings.setting_name(name)}: {message}", hint=hint, id=ID.format(f"E{number:03d}"))


def _warning(number: int, message: str, hint: str) -> Warning:
    return Warning(message, hint=hint, id=ID.format(f"W{number:03d}"))


def _import_path(path: object) -> tuple[Any, str | None]:
    """What ``path`` names, or ``None`` with the problem in words."""
    if not isinstance(path, str) or not path:
        return None, "must be a dotted path (a string)"
    try:
        return import_string(path), None
    except ImportError as exc:
        return None, f"{path!r} cannot be imported ({exc})"


def _options_error(
    number: int, name: str, cls: type, options: Mapping[str, Any], *, place: str | None = None
) -> Error | None:
    """The error for the options ``cls`` does not take, or lacks, by name only (values may be
    secrets). They are the setting ``name``'s, or, given ``place``, they sit at that place in it
    (an entry of a list: ``"CEDULA_SCRAPER[1]['options']"``)."""
    problems = option_problems(cls, options)
    if not problems:
        return None
    if place is not None:
        return _error(number, name, f"{place}: {problems.describe()}", problems.hint(place))
    return _error(number, name, problems.describe(), problems.hint(app_settings.setting_name(name)))


# The task backend: E001, E002, E003, W004 -----------------------------------------------------

_BACKEND_HINT = "See the backend's documentation for its options."


def load_backend() -> tuple[BaseTaskBackend | None, list[CheckMessage]]:
    """A fresh instance of the configured backend, or ``None`` with the errors (E001, E002) that stop it.

    Backends are the package's own classes or thin adapters of a queue; building one touches no
    queue. Its instance is what the checks ask: ``supports_defer`` may be a property that depends
    on its options (the django.tasks backend asks the tasks backend it is given).
    """
    return _backend_from(_raw("TASK_BACKEND"), _raw("TASK_BACKEND_OPTIONS"))


def _backend_from(path: object, options: object) -> tuple[BaseTaskBackend | None, list[CheckMessage]]:
    backend_class, problem = _import_path(path)
    if problem is None and not (
        isinstance(backend_class, type) and issubclass(backend_class, BaseTaskBackend)
    ):
        problem = f"{path!r} is not a subclass of django_cedula.backends.BaseTaskBackend"
    if problem is not None:
        hint = (
            "Use one of django_cedula.backends.django_q.DjangoQBackend, ...inline.InlineBackend, or your own."
        )
        return None, [_error(1, "TASK_BACKEND", problem, hint)]
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
        return None, [_error(2, "TASK_BACKEND_OPTIONS", message, _BACKEND_HINT)]
    return backend, []


def check_task_backend(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E001, E002, E003, W004, and the backend's own checks of its queue (W001 to W003 are
    Django-Q2's)."""
    backend, messages = load_backend()
    if backend is None:
        return messages
    backend_name = type(backend).__name__
    messages += [
        _error(2, "TASK_BACKEND_OPTIONS", problem, _BACKEND_HINT) for problem in backend.check_options()
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


# The scraper: E004, E005, E014 ----------------------------------------------------------------
#
# CEDULA_SCRAPER may be a list (a fallback chain, django_cedula.scrapers.chain): E004 then covers
# the list and each entry's shape and class, E005 each entry's options. The classes are not
# instantiated (a scraper may own a browser).

_USE = "Use django_cedula.scrapers.wsp.WspScraper or a class of your own."
_ENTRY_HINT = (
    "Each entry is a scraper's dotted path or {'class': 'dotted.path', 'options': {...}}, e.g. "
    "['django_cedula.scrapers.wsp.WspScraper', 'django_cedula.scrapers.consultacenso.ConsultaCensoScraper']."
)


def _scraper_class(path: object) -> tuple[Any, str | None]:
    """The class ``path`` names, or the problem (E004's) in words."""
    scraper_class, problem = _import_path(path)
    if problem is None and not callable(getattr(scraper_class, "scrape_cedula", None)):
        problem = f"{path!r} has no scrape_cedula(cedula) method"
    return scraper_class, problem


def _scraper_options(
    name: str, scraper_class: Any, options: Mapping[str, Any], *, place: str | None = None
) -> list[CheckMessage]:
    """E005 for the options of a scraper class that loaded."""
    if not isinstance(scraper_class, type):
        return []
    refused = _options_error(5, name, scraper_class, options, place=place)
    return [] if refused is None else [refused]


def _check_single_scraper(path: object) -> tuple[list[CheckMessage], Any]:
    """One dotted path, with ``CEDULA_SCRAPER_OPTIONS``: E004, E005. Returns the class if it loads."""
    messages: list[CheckMessage] = []
    scraper_class, problem = _scraper_class(path)
    if problem is not None:
        if not isinstance(path, str):
            problem = "must be a dotted path (a string) or a list of scrapers"
        messages.append(_error(4, "SCRAPER", problem, _USE))
    options = _raw("SCRAPER_OPTIONS")
    if not isinstance(options, dict):
        messages.append(_error(5, "SCRAPER_OPTIONS", "must be a dict", "For example {}."))
    elif problem is None:
        messages += _scraper_options("SCRAPER_OPTIONS", scraper_class, options)
    return messages, scraper_class if problem is None else None


def _check_scraper_chain(entries: Any) -> tuple[list[CheckMessage], list[Any]]:
    """A list of scrapers (a fallback chain): E004 for an empty list or an entry that is badly shaped,
    cannot be imported or is not a scraper; E005 for an entry's options, or
    ``CEDULA_SCRAPER_OPTIONS`` set beside a list. Returns the classes that load."""
    messages: list[CheckMessage] = []
    classes: list[Any] = []
    if not entries:
        messages.append(_error(4, "SCRAPER", "is an empty list: name at least one scraper", _USE))
    for index, item in enumerate(entries):
        entry = read_entry(index, item)
        if isinstance(entry, str):
            messages.append(_error(4, "SCRAPER", entry, _ENTRY_HINT))
            continue
        scraper_class, problem = _scraper_class(entry.path)
        if problem is not None:
            messages.append(_error(4, "SCRAPER", f"{entry.label}: {problem}", _ENTRY_HINT))
            continue
        classes.append(scraper_class)
        place = f"{entry.label}['options']"
        messages += _scraper_options("SCRAPER", scraper_class, entry.options, place=place)
    if _raw("SCRAPER_OPTIONS") != {}:
        messages.append(
            _error(
                5,
                "SCRAPER_OPTIONS",
                "applies to a single dotted path in CEDULA_SCRAPER, not to a list",
                "Give each entry of the list its own: {'class': '...', 'options': {...}}; "
                "set CEDULA_SCRAPER_OPTIONS = {} (or remove it).",
            )
        )
    return messages, classes


def _is_solving_scraper(scraper_class: Any) -> bool:
    """A scraper that meets the captcha: a browser one, or an HTTP-only one (both solve)."""
    from .scrapers.solving import SolvingScraper

    return isinstance(scraper_class, type) and issubclass(scraper_class, SolvingScraper)


def check_scraper(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E004, E005, and the solver's E008, E012 and W005: whether a missing solver matters depends
    on the scraper, as only the browser and HTTP-only scrapers meet a captcha."""
    value = _raw("SCRAPER")
    if is_chain_setting(value):
        messages, scraper_classes = _check_scraper_chain(value)
    else:
        messages, scraper_class = _check_single_scraper(value)
        scraper_classes = [] if scraper_class is None else [scraper_class]
    if _raw("CAPTCHA_SOLVER") is not None:
        messages += _check_solver(_raw("CAPTCHA_SOLVER"), _raw("CAPTCHA_SOLVER_OPTIONS"))
    elif any(_is_solving_scraper(scraper_class) for scraper_class in scraper_classes):
        messages.append(
            _warning(
                5,
                "CEDULA_CAPTCHA_SOLVER is not set: every lookup will end as captcha_failed.",
                "Set CEDULA_CAPTCHA_SOLVER to django_cedula.captcha.twocaptcha.TwoCaptchaSolver "
                "(with an API key) "
                "or, against the local replica, django_cedula.testing.captcha.ReplicaCaptchaSolver.",
            )
        )
    return messages


def check_http_scraper(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E014: an HTTP-only scraper is configured but ``curl_cffi`` (the ``http`` extra) is not
    installed, which would fail every lookup with ``config_error``."""
    from .scrapers.chain import Entry
    from .scrapers.http import EXTRA, HttpScraper, curl_cffi_missing

    value = _raw("SCRAPER")
    paths: list[str] = []
    if isinstance(value, str):
        paths = [value]
    elif isinstance(value, (list, tuple)):
        # A list's entries may be dotted paths or {"class": ..., "options": ...} mappings; a malformed
        # entry is E004's to report.
        entries = (read_entry(index, entry) for index, entry in enumerate(value))
        paths = [entry.path for entry in entries if isinstance(entry, Entry)]
    needing = []
    for path in paths:
        scraper_class, problem = _import_path(path)
        if problem is None and isinstance(scraper_class, type) and issubclass(scraper_class, HttpScraper):
            needing.append(path)
    if not needing or not curl_cffi_missing():
        return []
    return [
        _error(
            14,
            "SCRAPER",
            f"{', '.join(repr(path) for path in needing)} needs curl_cffi, which is not installed",
            f"pip install '{EXTRA}' on every worker, or use a browser scraper "
            "(django_cedula.scrapers.wsp.WspScraper).",
        )
    ]


# The captcha solver: E008, E012, E013 (W005 is the scraper's) ---------------------------------

#: The environment variable the documentation reads 2Captcha's key from.
KEY_VARIABLE = "TWOCAPTCHA_API_KEY"


def _solver_class(path: object) -> tuple[Any, str | None]:
    """The class ``path`` names, or the problem (E008's) in words."""
    solver_class, problem = _import_path(path)
    if problem is None and not (isinstance(solver_class, type) and issubclass(solver_class, CaptchaSolver)):
        problem = f"{path!r} is not a subclass of django_cedula.captcha.CaptchaSolver"
    return solver_class, problem


def _check_solver(path: object, options: object) -> list[CheckMessage]:
    """E008, the options' type (E009) and E012."""
    messages: list[CheckMessage] = []
    solver_class, problem = _solver_class(path)
    if problem is not None:
        messages.append(
            _error(
                8,
                "CAPTCHA_SOLVER",
                problem,
                "Use django_cedula.captcha.twocaptcha.TwoCaptchaSolver, the replica's solver, or your own.",
            )
        )
    if not isinstance(options, dict):
        messages.append(
            _error(9, "CAPTCHA_SOLVER_OPTIONS", "must be a dict", "For example {'api_key': '...'}.")
        )
    elif problem is None:
        refused = _options_error(12, "CAPTCHA_SOLVER_OPTIONS", solver_class, options)
        messages += [refused] if refused is not None else []
    return messages


def check_captcha(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E013: the configured solver is ``TwoCaptchaSolver`` and its ``api_key`` is ``None`` or empty,
    as ``{"api_key": os.environ.get("TWOCAPTCHA_API_KEY")}`` gives when the variable is not set.

    The options are read by name in :func:`check_scraper` (E012 says when ``api_key`` is left out);
    this reads the one value that matters before a worker needs it. The key is never shown.
    """
    if not _is_twocaptcha(_raw("CAPTCHA_SOLVER")):
        return []
    options = _raw("CAPTCHA_SOLVER_OPTIONS")
    if not isinstance(options, dict) or "api_key" not in options:
        return []  # E009 (not a dict) and E012 (the option left out) say so
    key = options["api_key"]
    if isinstance(key, str) and key.strip():
        return []
    what = "is not set (None)" if key is None else "is empty" if isinstance(key, str) else "is not a string"
    return [
        _error(
            13,
            "CAPTCHA_SOLVER_OPTIONS",
            f"the 2Captcha API key ('api_key') {what}: every lookup would fail on its captcha",
            f"Set the {KEY_VARIABLE} environment variable for every process (web and workers), e.g. "
            f'CEDULA_CAPTCHA_SOLVER_OPTIONS = {{"api_key": os.environ.get("{KEY_VARIABLE}")}}, '
            "or use django_cedula.testing.captcha.ReplicaCaptchaSolver against the local replica.",
        )
    ]


def _is_twocaptcha(path: object) -> bool:
    """Whether ``path`` names ``TwoCaptchaSolver`` (by any import path; not a subclass, which may
    supply its own key). ``check_scraper`` imports the same path, so this costs nothing more."""
    if path is None:
        return False
    solver_class, problem = _import_path(path)
    if problem is not None:
        return False  # E008
    from .captcha.twocaptcha import TwoCaptchaSolver

    return solver_class is TwoCaptchaSolver


# The plain settings: E006, E007, E009, E010 ---------------------------------------------------
#
# E009 is a table of rules: each a predicate and the words for what the setting must be. The
# predicates are shared with the checks below, which skip what a wrong value here already reports.


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
    # The reading both clients use: what passes here, the browser and the HTTP client take.
    try:
        proxies.parse_proxy_value(value)
    except proxies.ProxyError:
        return False
    return True


def _valid_rate(value: object) -> bool:
    if value is None:
        return True
    try:
        parse_rate(value) if isinstance(value, str) else parse_rate("")
    except ValueError:
        return False
    return True


def _shown(value: object) -> str:
    """A wrong value as the message quotes it: a proxy's or an endpoint's credentials and a
    dict's values (a password, a key) left out."""
    if isinstance(value, Mapping):
        return f"a dict with the keys {sorted(map(str, value))}"
    return proxies.describe(value) if isinstance(value, str) else repr(value)


#: Hints of E009 beyond the default value, where the usual mistake is known.
_HINTS = {
    "BROWSER_PROXY": (
        "Percent-encode / # ? @ : [ ] in the username and password of a URL "
        '(e.g. %2F for /), or give them apart: {"server": ..., "username": ..., "password": ...}.'
    ),
}

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
    "BROWSER_PROXY": (
        _proxy,
        'an http, https, socks4, socks5 or socks5h proxy URL, or a dict with "server" and only '
        '"bypass", "username" and "password" besides, or None',
    ),
    "REFRESH_COOLDOWN": (_non_negative, "a number of seconds, 0 or more"),
    "REVALIDATE_ON_CHANGE": (lambda v: isinstance(v, bool), "True or False"),
    "RATE_LIMIT": (_valid_rate, 'a rate such as "12/m", "1/5s" or "100/h", or None for no limit'),
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


def check_values(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E009 and E010."""
    messages: list[CheckMessage] = []
    for name, (valid, expected) in _VALUE_RULES.items():
        value = _raw(name)
        if not valid(value):
            messages.append(
                _error(
                    9,
                    name,
                    f"must be {expected}, not {_shown(value)}",
                    _HINTS.get(name, f"Default: {DEFAULTS[name]!r}."),
                )
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


def check_user_field(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E007: ``CEDULA_USER_FIELD`` against the host's user model."""
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


# Settings read with the backend: E011, W006, W007, W008, W009 ---------------------------------


def check_throttle(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E011, W006, W007 and W009: the cache and backend behind ``CEDULA_RATE_LIMIT`` and the token
    supply."""
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
    if not _valid_rate(_raw("RATE_LIMIT")):
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
    backend, _ = load_backend()  # its errors are check_task_backend's to report
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


def check_sweep(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W008: the sweeper must not take a job that still runs for one whose worker died."""
    after = _raw("SWEEP_PROCESSING_AFTER")
    backend, _ = load_backend()
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


# Registration ---------------------------------------------------------------------------------

# One list says what `manage.py check` runs. No tags: they run with every other check.
for _check in (
    check_task_backend,
    check_scraper,
    check_captcha,
    check_http_scraper,
    check_retry_delays,
    check_user_field,
    check_values,
    check_throttle,
    check_sweep,
):
    register(_check)
del _check
