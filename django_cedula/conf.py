"""Package settings, read lazily.

Every setting is read from ``django.conf.settings`` on each access, so a host's
``override_settings`` works everywhere and nothing is frozen at import time.
Defaults live in one place, :data:`DEFAULTS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings

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
    # Operations.
    "REFRESH_COOLDOWN": 3600.0,
    "REVALIDATE_ON_CHANGE": True,
    "RATE_LIMIT": None,
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
        return str(self._get("SCRAPER"))

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
        value = self._get("RATE_LIMIT")
        return None if value is None else str(value)

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


app_settings = AppSettings()
