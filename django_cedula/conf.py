"""Package settings, read lazily.

Every setting is read from ``django.conf.settings`` on each access, so a host's
``override_settings`` works everywhere and nothing is frozen at import time.
Defaults live in one place, :data:`DEFAULTS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

PREFIX = "CEDULA_"

#: Every setting of the package, without its ``CEDULA_`` prefix, with its default.
DEFAULTS: Mapping[str, Any] = {
    # Which user field holds the number, and whether new users are validated at all.
    "USER_FIELD": "cedula",
    "AUTO_VALIDATE": True,
    # Where jobs run.
    "TASK_BACKEND": "django_cedula.backends.django_q.DjangoQBackend",
    "TASK_BACKEND_OPTIONS": {},
    # Retries of transient failures: attempt n is retried after RETRY_DELAYS[n - 1] seconds.
    "RETRY_DELAYS": [60, 300, 900],
    # What looks a number up.
    "SCRAPER": "django_cedula.scrapers.wsp.WspScraper",
    "SCRAPER_OPTIONS": {},
    # None means the scraper's own production URL.
    "SOURCE_URL": None,
    # The value of the election selector; "-1" is the current voting place.
    "ELECTION": "-1",
    # Seconds.
    "PAGE_TIMEOUT": 30.0,
    "LOOKUP_TIMEOUT": 120.0,
    "MIN_LOOKUP_INTERVAL": 5.0,
    # The browser.
    "BROWSER_EXECUTABLE": None,
    "BROWSER_HEADLESS": True,
    "BROWSER_ARGS": [],
    "BROWSER_PROXY": None,
    "BROWSER_USER_AGENT": None,
    "BROWSER_ENDPOINT": None,
    "BROWSER_IDLE_TIMEOUT": 300.0,
    # The captcha solver; None means lookups end as captcha_failed at once.
    "CAPTCHA_SOLVER": None,
    "CAPTCHA_SOLVER_OPTIONS": {},
    # The cluster's shared supply of solved tokens (docs/captcha-supply.rst).
    "CAPTCHA_POOL": True,
    # Seconds a solved token is kept for a lookup at most (Google's tokens live 120 s).
    "CAPTCHA_TOKEN_MAX_AGE": 100.0,
    # Tokens kept ready even when nothing is due: a fast first answer, at a cost.
    "CAPTCHA_POOL_MIN_TOKENS": 0,
    # What 1,000 solves cost, in the currency you count in (2Captcha: about 3 USD).
    "CAPTCHA_PRICE_PER_1000": 3.0,
    # Operations.
    "REFRESH_COOLDOWN": 3600.0,
    "REVALIDATE_ON_CHANGE": True,
    # Lookups for the whole cluster. This default applies where CEDULA_CACHE_ALIAS is a cache the
    # workers share; with a process-local cache there is none unless set (see RATE_LIMIT below).
    "RATE_LIMIT": "1/5s",
    "BLOCK_COOLDOWN": 900.0,
    "CACHE_ALIAS": "default",
    "SWEEP_PENDING_AFTER": 600.0,
    "SWEEP_PROCESSING_AFTER": 900.0,
    "SWEEP_SCHEDULE": False,
    # Personal data: raw answers are optional and bounded.
    "STORE_RAW_RESPONSE": True,
    "RAW_RESPONSE_MAX_LENGTH": 10_000,
}


class AppSettings:
    """Read-through access to the ``CEDULA_*`` settings with their defaults."""

    def _get(self, name: str) -> Any:
        return getattr(settings, PREFIX + name, DEFAULTS[name])

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
    def TASK_BACKEND(self) -> str:
        return str(self._get("TASK_BACKEND"))

    @property
    def TASK_BACKEND_OPTIONS(self) -> dict[str, Any]:
        return dict(self._get("TASK_BACKEND_OPTIONS"))

    @property
    def RETRY_DELAYS(self) -> list[float]:
        delays: Sequence[float] = self._get("RETRY_DELAYS")
        return list(delays)

    @property
    def SCRAPER(self) -> str:
        """The dotted path of a single scraper (see :attr:`SCRAPER_CHAIN` for a list)."""
        return str(self._get("SCRAPER"))

    @property
    def SCRAPER_CHAIN(self) -> list[Any] | None:
        """The entries of ``CEDULA_SCRAPER`` when it is a list (a fallback chain); ``None`` when it
        is a single dotted path."""
        value = self._get("SCRAPER")
        return list(value) if isinstance(value, (list, tuple)) else None

    @property
    def SCRAPER_OPTIONS(self) -> dict[str, Any]:
        return dict(self._get("SCRAPER_OPTIONS"))

    @property
    def SOURCE_URL(self) -> str | None:
        value = self._get("SOURCE_URL")
        return None if value is None else str(value)

    @property
    def ELECTION(self) -> str:
        return str(self._get("ELECTION"))

    @property
    def PAGE_TIMEOUT(self) -> float:
        return float(self._get("PAGE_TIMEOUT"))

    @property
    def LOOKUP_TIMEOUT(self) -> float:
        return float(self._get("LOOKUP_TIMEOUT"))

    @property
    def MIN_LOOKUP_INTERVAL(self) -> float:
        return float(self._get("MIN_LOOKUP_INTERVAL"))

    @property
    def BROWSER_EXECUTABLE(self) -> str | None:
        value = self._get("BROWSER_EXECUTABLE")
        return None if value is None else str(value)

    @property
    def BROWSER_HEADLESS(self) -> bool:
        return bool(self._get("BROWSER_HEADLESS"))

    @property
    def BROWSER_ARGS(self) -> list[str]:
        return [str(arg) for arg in self._get("BROWSER_ARGS")]

    @property
    def BROWSER_PROXY(self) -> str | dict[str, str] | None:
        value: str | dict[str, str] | None = self._get("BROWSER_PROXY")
        return value

    @property
    def BROWSER_USER_AGENT(self) -> str | None:
        value = self._get("BROWSER_USER_AGENT")
        return None if value is None else str(value)

    @property
    def BROWSER_ENDPOINT(self) -> str | None:
        value = self._get("BROWSER_ENDPOINT")
        return None if value is None else str(value)

    @property
    def BROWSER_IDLE_TIMEOUT(self) -> float:
        return float(self._get("BROWSER_IDLE_TIMEOUT"))

    @property
    def CAPTCHA_SOLVER(self) -> str | None:
        value = self._get("CAPTCHA_SOLVER")
        return None if value is None else str(value)

    @property
    def CAPTCHA_SOLVER_OPTIONS(self) -> dict[str, Any]:
        return dict(self._get("CAPTCHA_SOLVER_OPTIONS"))

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
    def CAPTCHA_POOL(self) -> bool:
        return bool(self._get("CAPTCHA_POOL"))

    @property
    def CAPTCHA_TOKEN_MAX_AGE(self) -> float:
        return float(self._get("CAPTCHA_TOKEN_MAX_AGE"))

    @property
    def CAPTCHA_POOL_MIN_TOKENS(self) -> int:
        return int(self._get("CAPTCHA_POOL_MIN_TOKENS"))

    @property
    def CAPTCHA_PRICE_PER_1000(self) -> float:
        return float(self._get("CAPTCHA_PRICE_PER_1000"))

    @property
    def BLOCK_COOLDOWN(self) -> float:
        return float(self._get("BLOCK_COOLDOWN"))

    @property
    def CACHE_ALIAS(self) -> str:
        return str(self._get("CACHE_ALIAS"))

    @property
    def SWEEP_PENDING_AFTER(self) -> float:
        return float(self._get("SWEEP_PENDING_AFTER"))

    @property
    def SWEEP_PROCESSING_AFTER(self) -> float:
        return float(self._get("SWEEP_PROCESSING_AFTER"))

    @property
    def SWEEP_SCHEDULE(self) -> bool:
        return bool(self._get("SWEEP_SCHEDULE"))

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
