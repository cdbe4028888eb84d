"""System checks for every ``CEDULA_*`` setting, so that ``manage.py check`` fails before a worker does.

Ids are stable: ``django_cedula.E0xx`` errors and ``django_cedula.W0xx`` warnings.

=====  ==================================================================
E001   ``CEDULA_TASKS`` is not ``{"BACKEND", "OPTIONS"}``, or its backend cannot be imported or is not one
E002   the task backend refuses its ``OPTIONS``
E003   the backend's app is missing from ``INSTALLED_APPS``
E004   ``CEDULA_SOURCES`` is not a list of ``{"BACKEND", "OPTIONS"}``, or an entry's backend is not a scraper
E005   a source refuses its ``OPTIONS``
E006   ``CEDULA_RETRY_DELAYS`` is not a list of finite numbers of seconds, 0 to a week
E007   ``CEDULA_USER_FIELD`` is not a field of ``AUTH_USER_MODEL``
E008   ``CEDULA_CAPTCHA_SOLVER`` is not ``{"BACKEND", "OPTIONS"}``, or its backend is not a solver
E009   another setting has a wrong type or value
E010   a browser source's ``browser["executable"]`` does not exist or cannot be run
E011   ``CEDULA_CACHE_ALIAS`` is not one of ``CACHES``
E012   the captcha solver refuses its ``OPTIONS``
E013   ``TwoCaptchaSolver``'s ``api_key`` is ``None`` or empty (an unset environment variable)
E014   a source is an HTTP-only scraper but ``curl_cffi`` (the ``http`` extra) is missing
E015   a setting of an earlier version is set; the message names what replaces it
E016   ``CEDULA_PRECHECK`` is not ``None`` or ``{"BACKEND", "OPTIONS"}``, or its backend is not a pre-check
E017   the pre-check refuses its ``OPTIONS``
W001   Django-Q2's job timeout: missing, not above the longest a job may run, or not below ``retry``
W002   Django-Q2 uses its Redis broker, which has no delivery receipts
W003   Django-Q2 runs jobs synchronously (``sync=True``) with ``DEBUG`` off
W004   retries are configured but the backend cannot defer jobs
W005   no captcha solver: every lookup of the captcha-solving sources fails
W006   ``CEDULA_RATE_LIMIT`` is set but the cache is not shared between processes
W007   ``CEDULA_RATE_LIMIT`` is set but the backend cannot defer jobs
W008   ``CEDULA_SWEEP["PROCESSING_AFTER"]`` is shorter than the longest a job may run
W009   no cache shared between processes: no token supply, no cluster-wide rate limit
=====  ==================================================================

Each pluggable part validates its own options in its constructor (:mod:`.conf`): the checks
build every part as a worker would, and report what it refuses (E002, E005, E012) in its own words,
which name the option and never its value. Building a part touches no network and no queue.

The checks are registered at the end, in one place, when the app's ``ready()`` imports this
module; each ``check_*`` function can also be called alone (``checks.check_values()``), as the
tests do.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Mapping
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured

from .backends.base import BaseTaskBackend, describe_job_run
from .captcha.base import CaptchaSolver
from .conf import (
    DEFAULTS,
    REMOVED_SETTINGS,
    app_settings,
    build,
    cache_not_shared_reason,
    load_class,
    part,
    qualified_name,
)
from .exceptions import ConfigurationError
from .scrapers.base import Scraper
from .throttle import parse_rate

ID = "django_cedula.{}"

#: The longest delay ``CEDULA_RETRY_DELAYS`` may hold: a week.
MAX_RETRY_DELAY = 7 * 24 * 3600.0

# What every check shares ----------------------------------------------------------------------


def _raw(name: str) -> Any:
    """The setting as the project wrote it (or its default), before ``app_settings`` reads it."""
    return getattr(settings, app_settings.setting_name(name), DEFAULTS[name])


def _error(number: int, name: str, message: str, hint: str) -> Error:
    return Error(f"{app_settings.setting_name(name)}: {message}", hint=hint, id=ID.format(f"E{number:03d}"))


def _warning(number: int, message: str, hint: str) -> Warning:
    return Warning(message, hint=hint, id=ID.format(f"W{number:03d}"))


def _part_config(
    number: int, name: str, value: object, example: str
) -> tuple[dict[str, Any] | None, list[Error]]:
    """``value`` read as ``{"BACKEND", "OPTIONS"}``, or the error (``number``) that says why not."""
    try:
        return part(value), []
    except (TypeError, ValueError) as exc:
        return None, [
            _error(number, name, str(exc), f'For example {{"BACKEND": "{example}", "OPTIONS": {{}}}}.')
        ]


def _load(number: int, name: str, config: Mapping[str, Any], base: type, where: str, hint: str) -> Any:
    """The class of ``config["BACKEND"]``, or an error (``number``) when it cannot be had."""
    try:
        return load_class(config["BACKEND"], base, where)
    except ImproperlyConfigured as exc:
        return _error(number, name, str(exc).removeprefix(f"{where}: "), hint)


def _build(
    number: int, name: str, cls: type, options: Mapping[str, Any], where: str
) -> tuple[Any, list[Error]]:
    """An instance of ``cls`` built as a worker builds it, or the error (``number``) it raised.

    A part that fails on a value it did not expect (an ``AttributeError``, an ``OverflowError``)
    is reported too, by the exception's type alone: its text might quote the value."""
    try:
        return build(cls, options, where), []
    except ConfigurationError as exc:
        return None, [_error(number, name, str(exc).removeprefix(f"{where}: "), exc.hint)]
    except Exception as exc:
        given = ", ".join(repr(str(option)) for option in options) or "none"
        return None, [
            _error(
                number,
                name,
                f"{qualified_name(cls)} could not be built from its OPTIONS ({type(exc).__name__})",
                f"Check the OPTIONS in {where} against the documentation of {cls.__name__} (given: {given}).",
            )
        ]


# The task backend: E001, E002, E003, W004 -----------------------------------------------------

_BACKEND_EXAMPLE = "django_cedula.backends.django_q.DjangoQBackend"
_BACKEND_HINT = (
    "Use one of django_cedula.backends.django_q.DjangoQBackend, ...inline.InlineBackend, or your own."
)


def load_backend() -> tuple[BaseTaskBackend | None, list[CheckMessage]]:
    """A fresh instance of the configured backend, or ``None`` with the errors (E001, E002) that stop it.

    Its instance is what the checks ask: ``supports_defer`` may be a property that depends on its
    options (the django.tasks backend asks the tasks backend it is given).
    """
    config, errors = _part_config(1, "TASKS", _raw("TASKS"), _BACKEND_EXAMPLE)
    if config is None:
        return None, list(errors)
    cls = _load(1, "TASKS", config, BaseTaskBackend, "CEDULA_TASKS", _BACKEND_HINT)
    if isinstance(cls, Error):
        return None, [cls]
    backend, errors = _build(2, "TASKS", cls, config["OPTIONS"], "CEDULA_TASKS")
    return backend, list(errors)


def check_task_backend(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E001, E002, E003, W004, and the backend's own checks of its queue (W001 to W003 are
    Django-Q2's)."""
    backend, messages = load_backend()
    if backend is None:
        return messages
    backend_name = type(backend).__name__
    hint = "See the backend's documentation for its options."
    try:
        problems = backend.check_options()
        environment = backend.check_environment()
    except Exception as exc:  # an option of a type the backend did not expect; its text may quote it
        problems = [f"{backend_name} could not check them ({type(exc).__name__})"]
        environment = []
    messages += [_error(2, "TASKS", f"OPTIONS: {problem}", hint) for problem in problems]
    for app in getattr(backend, "required_apps", ()):
        if not apps.is_installed(app):
            messages.append(
                _error(
                    3,
                    "TASKS",
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
    messages += environment
    return messages


# The sources: E004, E005, E010, E014, W005 ----------------------------------------------------

_SOURCE_EXAMPLE = "django_cedula.scrapers.wsp.WspScraper"
_SOURCES_HINT = (
    'A list of {"BACKEND": "dotted.path", "OPTIONS": {...}}, e.g. '
    '[{"BACKEND": "django_cedula.scrapers.wsp.WspScraper", "OPTIONS": {}}].'
)


def _source_classes() -> tuple[list[tuple[str, dict[str, Any], Any]], list[CheckMessage]]:
    """Each entry of ``CEDULA_SOURCES`` that loads, as ``(label, config, class)``; E004 for the rest."""
    value = _raw("SOURCES")
    if isinstance(value, (str, Mapping)) or not isinstance(value, (list, tuple)) or not value:
        return [], [
            _error(4, "SOURCES", f"must be a non-empty list, not {type(value).__name__}", _SOURCES_HINT)
        ]
    loaded: list[tuple[str, dict[str, Any], Any]] = []
    messages: list[CheckMessage] = []
    for index, entry in enumerate(value):
        label = f"CEDULA_SOURCES[{index}]"
        config, errors = _part_config(4, "SOURCES", entry, _SOURCE_EXAMPLE)
        if config is None:
            messages += [
                _error(4, f"SOURCES[{index}]", error.msg.split(": ", 1)[1], _SOURCES_HINT) for error in errors
            ]
            continue
        cls = _load(4, "SOURCES", config, Scraper, label, _SOURCES_HINT)
        if isinstance(cls, Error):
            messages.append(_error(4, f"SOURCES[{index}]", cls.msg.split(": ", 1)[1], _SOURCES_HINT))
            continue
        loaded.append((label, config, cls))
    return loaded, messages


def _is_solving_scraper(scraper_class: Any) -> bool:
    """A scraper that meets the captcha: a browser one, or an HTTP-only one (both solve)."""
    from .scrapers.solving import SolvingScraper

    return isinstance(scraper_class, type) and issubclass(scraper_class, SolvingScraper)


def _needs_curl(scraper_class: Any) -> bool:
    from .scrapers.http import HttpScraper, curl_cffi_missing

    return isinstance(scraper_class, type) and issubclass(scraper_class, HttpScraper) and curl_cffi_missing()


def check_sources(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E004, E005, E010, E014 for every entry of ``CEDULA_SOURCES``, built as a worker builds it,
    and W005: whether a missing solver matters depends on the sources, as only the captcha-solving
    ones meet a captcha."""
    loaded, messages = _source_classes()
    from .scrapers.http import EXTRA

    # The http extra's requirement (pyproject.toml): installable before the package is released.
    curl_cffi = "curl_cffi>=0.7"

    for label, config, cls in loaded:
        name = label.removeprefix("CEDULA_")
        if _needs_curl(cls):
            messages.append(
                _error(
                    14,
                    name,
                    f"{config['BACKEND']!r} needs curl_cffi, which is not installed",
                    f"Install curl_cffi on every worker: pip install '{curl_cffi}' (the {EXTRA} extra; "
                    "before a release, from a clone: pip install '.[http]'), or use a browser scraper "
                    "(django_cedula.scrapers.wsp.WspScraper).",
                )
            )
            continue
        scraper, errors = _build(5, name, cls, config["OPTIONS"], label)
        messages += errors
        if scraper is None:
            continue
        messages += _check_executable(name, getattr(scraper, "browser_options", None))
        scraper.close()
    if _raw("CAPTCHA_SOLVER") is None and any(_is_solving_scraper(cls) for _, _, cls in loaded):
        messages.append(
            _warning(
                5,
                "CEDULA_CAPTCHA_SOLVER is not set: every lookup will end as captcha_failed.",
                "Set CEDULA_CAPTCHA_SOLVER = "
                '{"BACKEND": "django_cedula.captcha.twocaptcha.TwoCaptchaSolver", '
                '"OPTIONS": {"api_key": ...}} '
                "or, against the local replica, "
                "django_cedula.testing.captcha.ReplicaCaptchaSolver.",
            )
        )
    return messages


def _check_executable(name: str, options: Any) -> list[CheckMessage]:
    """E010: a browser source's Chromium that cannot be run."""
    executable = getattr(options, "executable", None)
    if executable is None or (os.path.isfile(executable) and os.access(executable, os.X_OK)):
        return []
    return [
        _error(
            10,
            name,
            f'browser["executable"] {executable!r} is not an executable file',
            "Install Chromium (apt-get install chromium) and point at it, "
            "or leave it out to find one on PATH.",
        )
    ]


# The captcha solver: E008, E012, E013 (W005 is the sources') ----------------------------------

#: The environment variable the documentation reads 2Captcha's key from.
KEY_VARIABLE = "TWOCAPTCHA_API_KEY"
_SOLVER_HINT = "Use django_cedula.captcha.twocaptcha.TwoCaptchaSolver, the replica's solver, or your own."


def check_captcha(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E008, E012 and E013: the solver built as a worker builds it; for ``TwoCaptchaSolver``, an
    ``api_key`` of ``None`` or empty, as ``os.environ.get("TWOCAPTCHA_API_KEY")`` gives when the
    variable is not set, is said apart (the key is never shown)."""
    value = _raw("CAPTCHA_SOLVER")
    if value is None:
        return []
    config, errors = _part_config(
        8, "CAPTCHA_SOLVER", value, "django_cedula.captcha.twocaptcha.TwoCaptchaSolver"
    )
    if config is None:
        return list(errors)
    cls = _load(8, "CAPTCHA_SOLVER", config, CaptchaSolver, "CEDULA_CAPTCHA_SOLVER", _SOLVER_HINT)
    if isinstance(cls, Error):
        return [cls]
    from .captcha.twocaptcha import TwoCaptchaSolver

    options = config["OPTIONS"]
    if cls is TwoCaptchaSolver and "api_key" in options:
        key = options["api_key"]
        if not (isinstance(key, str) and key.strip()):
            what = (
                "is not set (None)"
                if key is None
                else "is empty"
                if isinstance(key, str)
                else "is not a string"
            )
            return [
                _error(
                    13,
                    "CAPTCHA_SOLVER",
                    f"the 2Captcha API key ('api_key') {what}: every lookup would fail on its captcha",
                    f"Set the {KEY_VARIABLE} environment variable for every process (web and workers), e.g. "
                    f'"OPTIONS": {{"api_key": os.environ.get("{KEY_VARIABLE}")}}, '
                    "or use django_cedula.testing.captcha.ReplicaCaptchaSolver against the local replica.",
                )
            ]
    _, errors = _build(12, "CAPTCHA_SOLVER", cls, options, "CEDULA_CAPTCHA_SOLVER")
    return list(errors)


# The pre-check: E016, E017 --------------------------------------------------------------------


def check_precheck(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E016 and E017: the pre-check built as a worker builds it."""
    from .scrapers.vigencia import Precheck

    value = _raw("PRECHECK")
    if value is None:
        return []
    config, errors = _part_config(16, "PRECHECK", value, "django_cedula.scrapers.vigencia.VigenciaPrecheck")
    if config is None:
        return list(errors)
    hint = "Use django_cedula.scrapers.vigencia.VigenciaPrecheck, or None for no pre-check."
    cls = _load(16, "PRECHECK", config, Precheck, "CEDULA_PRECHECK", hint)
    if isinstance(cls, Error):
        return [cls]
    _, errors = _build(17, "PRECHECK", cls, config["OPTIONS"], "CEDULA_PRECHECK")
    return list(errors)


# Settings of earlier versions: E015 -----------------------------------------------------------


def check_removed_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E015: a setting that no longer exists, with what replaces it (docs/upgrading.rst)."""
    return [
        _error(15, name, f"is no longer read; use {replacement}", "See docs/upgrading.rst.")
        for name, replacement in REMOVED_SETTINGS.items()
        if hasattr(settings, app_settings.setting_name(name))
    ]


# The plain settings: E006, E007, E009 ---------------------------------------------------------
#
# E009 is a table of rules: each a predicate and the words for what the setting must be. The
# predicates are shared with the checks below, which skip what a wrong value here already reports.


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _finite(value: object) -> bool:
    try:
        return _is_number(value) and math.isfinite(value)  # type: ignore[arg-type]
    except OverflowError:  # an int beyond a float's range: no setting takes one
        return False


def _non_negative(value: object) -> bool:
    return _finite(value) and value >= 0  # type: ignore[operator]


def _positive(value: object) -> bool:
    return _finite(value) and value > 0  # type: ignore[operator]


def _boolean(value: object) -> bool:
    return isinstance(value, bool)


def _valid_rate(value: object) -> bool:
    if value is None:
        return True
    try:
        parse_rate(value) if isinstance(value, str) else parse_rate("")
    except ValueError:
        return False
    return True


def _shown(value: object) -> str:
    """A wrong value as the message quotes it: a dict's values (a password, a key) left out."""
    if isinstance(value, Mapping):
        return f"a dict with the keys {sorted(map(str, value))}"
    return repr(value)


# setting -> (is it valid?, what it must be)
_VALUE_RULES: dict[str, tuple[Callable[[object], bool], str]] = {
    "AUTO_VALIDATE": (_boolean, "True or False"),
    "STORE_RAW_RESPONSE": (_boolean, "True or False"),
    "LOOKUP_TIMEOUT": (_positive, "a positive, finite number of seconds"),
    "MIN_LOOKUP_INTERVAL": (_non_negative, "a finite number of seconds, 0 or more"),
    "RAW_RESPONSE_MAX_LENGTH": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "a whole number of characters, 0 or more",
    ),
    "REFRESH_COOLDOWN": (_non_negative, "a finite number of seconds, 0 or more"),
    "REVALIDATE_ON_CHANGE": (_boolean, "True or False"),
    "RATE_LIMIT": (_valid_rate, 'a rate such as "12/m", "1/5s" or "100/h", or None for no limit'),
    "BLOCK_COOLDOWN": (_non_negative, "a finite number of seconds, 0 or more (0: no pause)"),
    "CACHE_ALIAS": (lambda v: isinstance(v, str) and bool(v), "the name of a cache in CACHES"),
}

# dict setting -> its keys: (is it valid?, what it must be)
_GROUP_RULES: dict[str, dict[str, tuple[Callable[[object], bool], str]]] = {
    "SWEEP": {
        "PENDING_AFTER": (_positive, "a positive, finite number of seconds"),
        "PROCESSING_AFTER": (_positive, "a positive, finite number of seconds"),
        "SCHEDULE": (_boolean, "True or False"),
    },
    "PRIVACY": {
        "REQUIRE_CONSENT": (_boolean, "True or False"),
        "CONSENT_VERSION": (
            lambda v: isinstance(v, str) and 0 < len(v.strip()) <= 50,
            "the version of your authorization text, a non-empty string of at most 50 characters",
        ),
        "RAW_RESPONSE_DAYS": (
            lambda v: v is None or (_finite(v) and v >= 0),  # type: ignore[operator]
            "a number of days, 0 or more, or None to keep them as long as the row",
        ),
        "PLACE_DAYS": (
            lambda v: v is None or (_finite(v) and v >= 0),  # type: ignore[operator]
            "a number of days, 0 or more, or None to keep it as long as the row",
        ),
    },
    "SOURCE_HEALTH": {
        "OUT_AFTER": (
            lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 100,
            "a whole number of signs in a row from 0 (never take a source out) to 100",
        ),
        "PROBE_EVERY": (_positive, "a positive, finite number of seconds"),
        "TRIAL_AFTER": (_positive, "a positive, finite number of seconds"),
        "TRIAL_MAX": (_positive, "a positive, finite number of seconds"),
        "MAIL_ADMINS": (_boolean, "True or False"),
    },
    "TOKEN_SUPPLY": {
        "ENABLED": (_boolean, "True or False"),
        "MAX_AGE": (
            lambda v: _positive(v) and float(v) <= 120,  # type: ignore[arg-type]
            "a positive number of seconds, at most 120 (Google refuses older tokens)",
        ),
        "MIN_TOKENS": (
            lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 32,
            "a whole number of tokens from 0 to 32",
        ),
    },
}


def check_retry_delays(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E006."""
    delays = _raw("RETRY_DELAYS")
    if isinstance(delays, (list, tuple)) and all(
        _non_negative(delay) and delay <= MAX_RETRY_DELAY for delay in delays
    ):
        return []
    return [
        _error(
            6,
            "RETRY_DELAYS",
            f"must be a list of numbers of seconds from 0 to {MAX_RETRY_DELAY:g} (a week), "
            f"not {_shown(delays)}",
            "For example [60, 300, 900] (3 retries), or [] for no retries.",
        )
    ]


def check_values(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E009."""
    messages: list[CheckMessage] = []
    for name, (valid, expected) in _VALUE_RULES.items():
        value = _raw(name)
        if not valid(value):
            messages.append(
                _error(9, name, f"must be {expected}, not {_shown(value)}", f"Default: {DEFAULTS[name]!r}.")
            )
    for name, rules in _GROUP_RULES.items():
        value = getattr(settings, app_settings.setting_name(name), {})
        if not isinstance(value, Mapping):
            messages.append(
                _error(9, name, f"must be a dict, not {_shown(value)}", f"Default: {DEFAULTS[name]!r}.")
            )
            continue
        unknown = sorted(str(key) for key in value if key not in rules)
        if unknown:
            messages.append(
                _error(
                    9,
                    name,
                    f"has unknown keys {unknown}",
                    f"It takes {', '.join(rules)}; default: {DEFAULTS[name]!r}.",
                )
            )
        for key, (valid, expected) in rules.items():
            if key in value and not valid(value[key]):
                messages.append(
                    _error(
                        9,
                        name,
                        f'["{key}"] must be {expected}, not {_shown(value[key])}',
                        f"Default: {DEFAULTS[name][key]!r}.",
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
    if not isinstance(alias, str):
        return []  # E009 says why
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
    reason = cache_not_shared_reason(alias)
    supply = getattr(settings, "CEDULA_TOKEN_SUPPLY", {})
    supply_on = not isinstance(supply, Mapping) or supply.get("ENABLED", True) is not False
    if reason is not None and supply_on and _raw("CAPTCHA_SOLVER") is not None:
        messages.append(
            _warning(
                9,
                f"The cache {alias!r} (CEDULA_CACHE_ALIAS) is not shared: {reason}. There is no "
                "shared token supply, so every lookup waits for a captcha solve of its own, and no "
                "cluster-wide rate limit unless CEDULA_RATE_LIMIT is set (each worker then paces only "
                "itself with CEDULA_MIN_LOOKUP_INTERVAL).",
                "Point CEDULA_CACHE_ALIAS at a cache all workers share (Redis, Memcached, the database "
                'cache), or set CEDULA_TOKEN_SUPPLY = {"ENABLED": False} to say per-lookup solves are '
                "intended.",
            )
        )
    if not _valid_rate(_raw("RATE_LIMIT")):
        return messages  # E009 says why
    rate = app_settings.RATE_LIMIT  # unset: one per 5 s with a shared cache, none without
    if rate is None:
        return messages
    if reason is not None:
        messages.append(
            _warning(
                6,
                f"CEDULA_RATE_LIMIT is enforced through the cache {alias!r}, which is not shared ({reason}): "
                "every worker process gets the whole rate, and a block pauses only the worker "
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
    sweep = getattr(settings, "CEDULA_SWEEP", {})
    after = (sweep if isinstance(sweep, Mapping) else {}).get(
        "PROCESSING_AFTER", DEFAULTS["SWEEP"]["PROCESSING_AFTER"]
    )
    backend, _ = load_backend()
    if backend is None or not _positive(after):
        return []  # E001, E002 or E009 says why
    try:
        limit = backend.job_time_limit()
        if limit is not None:
            # The queue kills a job at its limit: no job of this backend runs longer.
            longest: float | None = limit
            why = f"{type(backend).__name__}'s job timeout"
        else:
            longest = backend.longest_job_run()
            why = describe_job_run(backend.job_run_parts())
    except Exception:
        return []  # E002 says why: check_task_backend asks the backend the same
    if longest is None or after >= longest:
        return []
    return [
        _warning(
            8,
            f'CEDULA_SWEEP["PROCESSING_AFTER"] ({after:g} s) is shorter than the longest a job may run '
            f"({longest:g} s: {why}): cedula_sweep would queue again a lookup that is still running, "
            "and pay for it twice.",
            f'Set CEDULA_SWEEP["PROCESSING_AFTER"] to at least {longest:g}, e.g. {max(900.0, 2 * longest):g} '
            "(the default is 900).",
        )
    ]


# Registration ---------------------------------------------------------------------------------

# One list says what `manage.py check` runs. No tags: they run with every other check.
for _check in (
    check_removed_settings,
    check_task_backend,
    check_sources,
    check_captcha,
    check_precheck,
    check_retry_delays,
    check_user_field,
    check_values,
    check_throttle,
    check_sweep,
):
    register(_check)
del _check
