"""Package settings, read lazily, and the parts they configure, built once.

Every setting is read from ``django.conf.settings`` on each access, so a host's
``override_settings`` works everywhere and nothing is frozen at import time.
Defaults live in one place, :data:`DEFAULTS`.

A pluggable part (task backend, source, captcha solver) is configured as Django configures its own
(``CACHES``, ``STORAGES``, ``TASKS``): ``{"BACKEND": "dotted.path", "OPTIONS": {...}}``. Each is
built on first use and kept for the life of the process (a scraper owns a browser, so one instance
per worker matters), and forgotten when its setting changes (``override_settings`` in tests, for
instance). A part validates its own options in its constructor: they are its keyword arguments, so
a misspelt or missing one is refused by Python with the option's name, and a wrong value by the
part with a :class:`~.exceptions.ConfigurationError` that names the option (never its value:
options hold secrets such as an API key). ``manage.py check`` builds each part the same way, so
what it accepts is exactly what a worker accepts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .exceptions import ConfigurationError

PREFIX = "CEDULA_"

#: Every setting of the package, without its ``CEDULA_`` prefix, with its default.
DEFAULTS: Mapping[str, Any] = {
    # Which user field holds the number, and whether new users are validated at all.
    "USER_FIELD": "cedula",
    "AUTO_VALIDATE": True,
    # Where jobs run.
    "TASKS": {"BACKEND": "django_cedula.backends.django_q.DjangoQBackend", "OPTIONS": {}},
    # Retries of transient failures: attempt n is retried after RETRY_DELAYS[n - 1] seconds.
    "RETRY_DELAYS": [60, 300, 900],
    # What looks a number up: one source, or several asked in order (a fallback chain). Each
    # source's options hold its URL, election, page timeout, proxy and browser.
    "SOURCES": [{"BACKEND": "django_cedula.scrapers.wsp.WspScraper", "OPTIONS": {}}],
    # The captcha solver; None means lookups end as captcha_failed at once.
    "CAPTCHA_SOLVER": None,
    # The cluster's shared supply of solved tokens (docs/captcha-supply.rst).
    "TOKEN_SUPPLY": {
        "ENABLED": True,
        # Seconds a solved token is kept for a lookup at most (Google's tokens live 120 s).
        "MAX_AGE": 100.0,
        # Tokens kept ready even when nothing is due: a fast first answer, at a cost.
        "MIN_TOKENS": 0,
    },
    # Seconds one lookup may take, and a worker's pause between its lookups.
    "LOOKUP_TIMEOUT": 120.0,
    "MIN_LOOKUP_INTERVAL": 5.0,
    # Lookups for the whole cluster. This default applies where CACHE_ALIAS is a cache the
    # workers share; with a process-local cache there is none unless set (see RATE_LIMIT below).
    "RATE_LIMIT": "1/5s",
    "BLOCK_COOLDOWN": 900.0,
    "CACHE_ALIAS": "default",
    # Operations.
    "REFRESH_COOLDOWN": 3600.0,
    "REVALIDATE_ON_CHANGE": True,
    # The sweeper: seconds before a waiting or a processing row counts as lost, and whether
    # Django-Q2 runs it every 10 minutes.
    "SWEEP": {"PENDING_AFTER": 600.0, "PROCESSING_AFTER": 900.0, "SCHEDULE": False},
    # Source health (docs/operations.rst): a source is taken out of service after OUT_AFTER signs
    # in a row that it changed its pages (0: never); its form is probed for free at most every
    # PROBE_EVERY seconds, and one paid trial lookup runs after TRIAL_AFTER seconds, doubling after
    # each failed trial up to TRIAL_MAX. MAIL_ADMINS: mail the admins when one goes out and back.
    "SOURCE_HEALTH": {
        "OUT_AFTER": 3,
        "PROBE_EVERY": 300.0,
        "TRIAL_AFTER": 900.0,
        "TRIAL_MAX": 21600.0,
        "MAIL_ADMINS": True,
    },
    # The free pre-check asked before a paid census lookup (docs/precheck.rst): None (off), or a
    # part such as {"BACKEND": "django_cedula.scrapers.vigencia.VigenciaPrecheck", "OPTIONS": {}}.
    "PRECHECK": None,
    # Habeas data (docs/privacy.rst): no lookup without the holder's recorded authorization, and
    # how many days the raw answer and the voting place are kept after the final answer (None:
    # as long as the row).
    "PRIVACY": {
        "REQUIRE_CONSENT": True,
        "CONSENT_VERSION": "1",
        "RAW_RESPONSE_DAYS": 7,
        "PLACE_DAYS": None,
    },
    # Personal data: raw answers are optional and bounded.
    "STORE_RAW_RESPONSE": True,
    "RAW_RESPONSE_MAX_LENGTH": 10_000,
}

#: Settings of earlier versions, each with what replaces it (``manage.py check`` names it: E015).
REMOVED_SETTINGS: Mapping[str, str] = {
    "TASK_BACKEND": 'CEDULA_TASKS = {"BACKEND": ..., "OPTIONS": {...}}',
    "TASK_BACKEND_OPTIONS": 'CEDULA_TASKS["OPTIONS"]',
    "SCRAPER": 'CEDULA_SOURCES = [{"BACKEND": ..., "OPTIONS": {...}}, ...]',
    "SCRAPER_OPTIONS": 'the "OPTIONS" of each entry of CEDULA_SOURCES',
    "SOURCE_URL": 'the "url" option of an entry of CEDULA_SOURCES',
    "ELECTION": 'the "election" option of an entry of CEDULA_SOURCES',
    "PAGE_TIMEOUT": 'the "page_timeout" option of an entry of CEDULA_SOURCES',
    "BROWSER_EXECUTABLE": 'the "browser" option of a browser source: {"executable": ...}',
    "BROWSER_HEADLESS": 'the "browser" option of a browser source: {"headless": ...}',
    "BROWSER_ARGS": 'the "browser" option of a browser source: {"args": [...]}',
    "BROWSER_ENDPOINT": 'the "browser" option of a browser source: {"endpoint": ...}',
    "BROWSER_IDLE_TIMEOUT": 'the "browser" option of a browser source: {"idle_timeout": ...}',
    "BROWSER_PROXY": 'the "proxy" option of an entry of CEDULA_SOURCES',
    "BROWSER_USER_AGENT": 'the "user_agent" option of an entry of CEDULA_SOURCES',
    "CAPTCHA_SOLVER_OPTIONS": 'CEDULA_CAPTCHA_SOLVER["OPTIONS"]',
    "CAPTCHA_PRICE_PER_1000": 'the "price_per_1000" option of CEDULA_CAPTCHA_SOLVER',
    "CAPTCHA_POOL": 'CEDULA_TOKEN_SUPPLY["ENABLED"]',
    "CAPTCHA_TOKEN_MAX_AGE": 'CEDULA_TOKEN_SUPPLY["MAX_AGE"]',
    "CAPTCHA_POOL_MIN_TOKENS": 'CEDULA_TOKEN_SUPPLY["MIN_TOKENS"]',
    "SWEEP_PENDING_AFTER": 'CEDULA_SWEEP["PENDING_AFTER"]',
    "SWEEP_PROCESSING_AFTER": 'CEDULA_SWEEP["PROCESSING_AFTER"]',
    "SWEEP_SCHEDULE": 'CEDULA_SWEEP["SCHEDULE"]',
}


def part(value: Any) -> dict[str, Any]:
    """A part's ``{"BACKEND", "OPTIONS"}`` as given, with ``OPTIONS`` defaulting to ``{}``; raises
    ``TypeError`` or ``ValueError`` for another shape (``manage.py check`` says which: E004)."""
    if not isinstance(value, Mapping):
        raise TypeError(f'expected {{"BACKEND": ..., "OPTIONS": {{...}}}}, not {type(value).__name__}')
    unknown = sorted(str(key) for key in value if key not in ("BACKEND", "OPTIONS"))
    if unknown:
        raise ValueError(f"unknown keys {unknown}: a part has BACKEND and OPTIONS only")
    backend = value.get("BACKEND")
    if not isinstance(backend, str) or not backend:
        raise ValueError("BACKEND must be a dotted path")
    options = value.get("OPTIONS", {})
    if not isinstance(options, Mapping):
        raise TypeError(f"OPTIONS must be a dict, not {type(options).__name__}")
    return {"BACKEND": backend, "OPTIONS": dict(options)}


class AppSettings:
    """Read-through access to the ``CEDULA_*`` settings with their defaults."""

    def _get(self, name: str) -> Any:
        return getattr(settings, PREFIX + name, DEFAULTS[name])

    def _group(self, name: str) -> dict[str, Any]:
        """A dict setting (``SWEEP``, ``TOKEN_SUPPLY``): the host's keys over the defaults."""
        value = getattr(settings, PREFIX + name, None) or {}
        return {**DEFAULTS[name], **dict(value)}

    def setting_name(self, name: str) -> str:
        """The full Django setting name of ``name`` (``RETRY_DELAYS`` -> ``CEDULA_RETRY_DELAYS``)."""
        return PREFIX + name

    @property
    def USER_FIELD(self) -> str:
        return str(self._get("USER_FIELD"))

    @property
    def AUTO_VALIDATE(self) -> bool:
        return bool(self._get("AUTO_VALIDATE"))

    @property
    def TASKS(self) -> dict[str, Any]:
        return part(self._get("TASKS"))

    @property
    def RETRY_DELAYS(self) -> list[float]:
        delays: Sequence[float] = self._get("RETRY_DELAYS")
        return list(delays)

    @property
    def SOURCES(self) -> list[dict[str, Any]]:
        """The entries of ``CEDULA_SOURCES``, each ``{"BACKEND", "OPTIONS"}``."""
        value = self._get("SOURCES")
        if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence) or not value:
            raise TypeError('CEDULA_SOURCES must be a non-empty list of {"BACKEND": ..., "OPTIONS": {...}}')
        return [part(entry) for entry in value]

    @property
    def CAPTCHA_SOLVER(self) -> dict[str, Any] | None:
        value = self._get("CAPTCHA_SOLVER")
        return None if value is None else part(value)

    @property
    def TOKEN_SUPPLY(self) -> dict[str, Any]:
        return self._group("TOKEN_SUPPLY")

    @property
    def LOOKUP_TIMEOUT(self) -> float:
        return float(self._get("LOOKUP_TIMEOUT"))

    @property
    def MIN_LOOKUP_INTERVAL(self) -> float:
        return float(self._get("MIN_LOOKUP_INTERVAL"))

    @property
    def REFRESH_COOLDOWN(self) -> float:
        return float(self._get("REFRESH_COOLDOWN"))

    @property
    def REVALIDATE_ON_CHANGE(self) -> bool:
        return bool(self._get("REVALIDATE_ON_CHANGE"))

    @property
    def RATE_LIMIT(self) -> str | None:
        """The cluster-wide rate limit: the setting when given (``None`` turns it off); otherwise
        one lookup per 5 s where the cache is shared between processes, and none where it is not
        (a limit kept in one process's memory would not hold for the cluster)."""
        name = PREFIX + "RATE_LIMIT"
        if hasattr(settings, name):
            value = getattr(settings, name)
            return None if value is None else str(value)
        return str(DEFAULTS["RATE_LIMIT"]) if is_shared_cache(self.CACHE_ALIAS) else None

    @property
    def TOKEN_SUPPLY_ENABLED(self) -> bool:
        return bool(self.TOKEN_SUPPLY["ENABLED"])

    @property
    def TOKEN_MAX_AGE(self) -> float:
        return float(self.TOKEN_SUPPLY["MAX_AGE"])

    @property
    def TOKEN_MIN_STOCK(self) -> int:
        return int(self.TOKEN_SUPPLY["MIN_TOKENS"])

    @property
    def BLOCK_COOLDOWN(self) -> float:
        return float(self._get("BLOCK_COOLDOWN"))

    @property
    def CACHE_ALIAS(self) -> str:
        return str(self._get("CACHE_ALIAS"))

    @property
    def SWEEP(self) -> dict[str, Any]:
        return self._group("SWEEP")

    @property
    def SWEEP_PENDING_AFTER(self) -> float:
        return float(self.SWEEP["PENDING_AFTER"])

    @property
    def SWEEP_PROCESSING_AFTER(self) -> float:
        return float(self.SWEEP["PROCESSING_AFTER"])

    @property
    def SWEEP_SCHEDULE(self) -> bool:
        return bool(self.SWEEP["SCHEDULE"])

    @property
    def PRECHECK(self) -> dict[str, Any] | None:
        value = self._get("PRECHECK")
        return None if value is None else part(value)

    @property
    def PRIVACY(self) -> dict[str, Any]:
        return self._group("PRIVACY")

    @property
    def REQUIRE_CONSENT(self) -> bool:
        return bool(self.PRIVACY["REQUIRE_CONSENT"])

    @property
    def SOURCE_HEALTH(self) -> dict[str, Any]:
        return self._group("SOURCE_HEALTH")

    @property
    def STORE_RAW_RESPONSE(self) -> bool:
        return bool(self._get("STORE_RAW_RESPONSE"))

    @property
    def RAW_RESPONSE_MAX_LENGTH(self) -> int:
        return int(self._get("RAW_RESPONSE_MAX_LENGTH"))


#: Cache backends (and their subclasses) whose ``add()`` is one atomic step across processes: Redis's
#: ``SET NX``, Memcached's ``add``, an ``INSERT`` on the database cache's unique key. The throttle's
#: lock and the token supply's claims are taken with ``add()``, so only these coordinate a cluster.
ATOMIC_ADD_CACHES = (
    "django.core.cache.backends.redis.RedisCache",
    "django.core.cache.backends.memcached.BaseMemcachedCache",
    "django.core.cache.backends.db.DatabaseCache",
    "django_redis.cache.RedisCache",
)

#: Why the usual backends that are not shared are refused.
_NOT_SHARED_BECAUSE = {
    "django.core.cache.backends.locmem.LocMemCache": "LocMemCache keeps its entries in each process's memory",
    "django.core.cache.backends.dummy.DummyCache": "DummyCache keeps nothing",
    "django.core.cache.backends.filebased.FileBasedCache": (
        "FileBasedCache's add() looks for the key's file and then writes it, which is not atomic: "
        "two processes can both add the same key"
    ),
}


def cache_not_shared_reason(alias: str) -> str | None:
    """Why cache ``alias`` cannot coordinate the workers of a cluster, or ``None`` when it can.

    Read from ``CACHES`` without connecting (the backend class is imported, not built). Shared means
    one of :data:`ATOMIC_ADD_CACHES` or a subclass: Redis, Memcached (pymemcache, pylibmc), the
    database cache. The answer is a clause that can follow "the cache ... is not shared: "."""
    config = getattr(settings, "CACHES", {}).get(alias)
    if config is None:
        return f"{alias!r} is not a cache in CACHES"
    backend = str(config.get("BACKEND", ""))
    if backend in _NOT_SHARED_BECAUSE:
        return _NOT_SHARED_BECAUSE[backend]
    try:
        backend_class = import_string(backend)
    except ImportError:
        return f"its BACKEND {backend!r} cannot be imported"
    for path in ATOMIC_ADD_CACHES:
        try:
            shared = import_string(path)
        except ImportError:
            continue  # an optional package (django-redis) that is not installed
        if isinstance(backend_class, type) and issubclass(backend_class, shared):
            return None
    return (
        f"{backend} is not known to have an add() that is atomic across processes "
        "(Redis, Memcached and the database cache have one)"
    )


def is_shared_cache(alias: str) -> bool:
    """Whether cache ``alias`` is shared between processes with an atomic ``add()`` (Redis, Memcached,
    the database cache); :func:`cache_not_shared_reason` says why not."""
    return cache_not_shared_reason(alias) is None


app_settings = AppSettings()


# Building the configured parts ------------------------------------------------------------------


T = TypeVar("T")

_parts: list[ConfiguredPart[Any]] = []


class Configurable:
    """Base of the parts a setting names with options: task backends, scrapers, captcha solvers.

    A subclass declares its options as keyword parameters of its ``__init__``, validates their
    values (raising :class:`~.exceptions.ConfigurationError` naming the option, without its
    value), and passes the ones to keep in :attr:`options` up with ``super().__init__``. An option
    that reaches this class is one no subclass declared (a misspelt name): refused, by name.
    """

    def __init__(self, **options: Any) -> None:
        if options:
            raise TypeError(f"{type(self).__name__} got unknown options: {', '.join(map(repr, options))}")
        #: The options the subclasses chose to keep.
        self.options: dict[str, Any] = {}

    def keep_options(self, **options: Any) -> None:
        """Record options under :attr:`options` (for the part's own methods to read later)."""
        self.options.update(options)


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def load_class(path: str, base: type[T], where: str) -> type[T]:
    """Import ``path``, a subclass of ``base``; ``ImproperlyConfigured`` names ``where`` (the setting,
    or the entry of one, that holds it)."""
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"{where}: BACKEND {path!r} cannot be imported: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ImproperlyConfigured(f"{where}: BACKEND {path!r} is not a subclass of {qualified_name(base)}")
    return cls


def build(cls: type[T], options: Mapping[str, Any], where: str) -> T:
    """``cls(**options)``, with what it refuses as a :class:`ConfigurationError` naming ``where``.

    A ``TypeError`` from binding the options names the option that is unknown or missing; a
    ``ConfigurationError`` or ``ValueError`` from the part names the option whose value it refused.
    """
    try:
        return cls(**options)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}", exc.hint) from exc
    except (TypeError, ValueError) as exc:
        given = ", ".join(repr(name) for name in options) or "none"
        raise ConfigurationError(
            f"{where}: {qualified_name(cls)} refused its OPTIONS: {exc}",
            f"Check the OPTIONS in {where} against the documentation of {cls.__name__} (given: {given}).",
        ) from exc


def part_setting(name: str) -> Any:
    """``app_settings.<name>`` of a part's setting (``TASKS``, ``CAPTCHA_SOLVER``) for building it: a
    value of the wrong shape raises ``ImproperlyConfigured`` naming the setting, which the job takes
    for a configuration error (the row ends at once) rather than a transient failure."""
    try:
        return getattr(app_settings, name)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"{PREFIX}{name}: {exc}") from exc


def build_part(config: Mapping[str, Any], base: type[T], where: str) -> T:
    """The part that ``config`` (``{"BACKEND", "OPTIONS"}``, read by :func:`.conf.part`) describes."""
    return build(load_class(config["BACKEND"], base, where), config["OPTIONS"], where)


class ConfiguredPart(Generic[T]):
    """The instance :attr:`make` builds from setting ``setting``, built once and kept."""

    def __init__(self, setting: str, make: Callable[[], T]) -> None:
        self.setting = setting
        self.make = make
        self._instance: T | None = None
        self._lock = threading.Lock()
        _parts.append(self)

    def get(self) -> T:
        """The kept instance, built on first use."""
        instance = self._instance
        if instance is None:
            with self._lock:
                if self._instance is None:
                    self._instance = self.make()
                instance = self._instance
        return instance

    def reset(self) -> None:
        """Forget the instance (closing it); the next :meth:`get` builds a new one."""
        with self._lock:
            instance, self._instance = self._instance, None
        close = getattr(instance, "close", None)
        if callable(close):
            close()


def reset_all() -> None:
    """Forget every kept backend, scraper and solver."""
    for configured in _parts:
        configured.reset()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    for configured in _parts:
        if configured.setting == setting:
            configured.reset()


setting_changed.connect(_on_setting_changed, dispatch_uid="django_cedula.conf.setting_changed")
