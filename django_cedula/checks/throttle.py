"""The cache and backend behind ``CEDULA_RATE_LIMIT`` and the token supply: E011, W006, W007, W009."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage

from ..conf import app_settings, is_shared_cache
from .backend import load_backend
from .messages import error, raw, warning
from .values import valid_rate


def check_throttle(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E011, W006, W007 and W009: the cache and backend behind ``CEDULA_RATE_LIMIT``."""
    alias = raw("CACHE_ALIAS")
    caches_setting = getattr(settings, "CACHES", {}) or {}
    if alias not in caches_setting:
        return [
            error(
                11,
                "CACHE_ALIAS",
                f"{alias!r} is not a cache in CACHES ({', '.join(map(repr, caches_setting)) or 'none'})",
                "Name a cache that every worker shares, e.g. a Redis cache.",
            )
        ]
    messages: list[CheckMessage] = []
    if not is_shared_cache(alias) and raw("CAPTCHA_POOL") and raw("CAPTCHA_SOLVER") is not None:
        messages.append(
            warning(
                9,
                f"The cache {alias!r} (CEDULA_CACHE_ALIAS) is kept by each process to itself: there is no "
                "shared token supply, so every lookup waits for a captcha solve of its own, and no "
                "cluster-wide rate limit unless CEDULA_RATE_LIMIT is set (each worker then paces only "
                "itself with CEDULA_MIN_LOOKUP_INTERVAL).",
                "Point CEDULA_CACHE_ALIAS at a cache all workers share (Redis, Memcached, the database "
                "cache), or set CEDULA_CAPTCHA_POOL = False to say per-lookup solves are intended.",
            )
        )
    if not valid_rate(raw("RATE_LIMIT")):
        return messages  # E009 says why
    rate = app_settings.RATE_LIMIT  # unset: one per 5 s with a shared cache, none without
    if rate is None:
        return messages
    if not is_shared_cache(alias):
        messages.append(
            warning(
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
            warning(
                7,
                "CEDULA_RATE_LIMIT is set but the task backend cannot defer jobs: a job that must wait "
                "is left PENDING for cedula_sweep to queue again.",
                "Use a backend that supports delays (Django-Q2, Celery, django.tasks with db_worker).",
            )
        )
    return messages
