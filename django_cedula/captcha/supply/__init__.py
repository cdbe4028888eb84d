"""One shared, demand-driven supply of solved reCAPTCHA tokens for the whole cluster.

On the real site a solve takes 10–150 s and the page's own work a fifth of a second: a lookup that
waits for its own solve spends nearly all its time, and its worker's, waiting. The supply solves
ahead of demand and off the job's path, so that a lookup finds a token ready when it posts its form.

* **Shared**: tokens live in Django's cache (``CEDULA_CACHE_ALIAS``, the one the throttle uses), so
  every worker of every machine draws on the same stock. Taking a token is one atomic ``add`` of
  a claim key (Redis ``SET NX``, an ``INSERT`` on the database cache): a token goes to one lookup.
* **Fresh**: a token is kept at most ``CEDULA_CAPTCHA_TOKEN_MAX_AGE`` seconds (100 of Google's 120)
  and a lookup takes the oldest still good (taking the freshest would let the rest expire).
  Older ones are thrown away and counted as expired.
* **Demand-driven**: one worker process at a time (the leader, by a lease in the cache) runs the
  filler, a daemon thread that starts solves for what is due: rows waiting for a first attempt or a
  retry within the next solve's time, plus what recent registrations predict, capped by what the
  politeness limits let run in that window; ``CEDULA_CAPTCHA_POOL_MIN_TOKENS`` keeps a standing
  stock. Nothing due and no arrival for a token's lifetime: no solve starts.
* **No extra process**: the filler starts in whichever worker process runs a validation job
  (Django-Q2, Celery and django.tasks workers alike); if the leader dies, its lease runs out and
  another worker takes over.

Without a shared cache, with the inline backend, or with ``CEDULA_CAPTCHA_POOL = False``, there is
no supply: each lookup solves for itself (:func:`get_token_supply` returns ``None``).

Modules: :mod:`.store` (targets and the cache-backed store of tokens), :mod:`.sizing` (how many
solves to start, and from what), :mod:`.filler` (the leader's rounds and their thread); this
module is what lookups use (:class:`TokenSupply`, :func:`get_token_supply`) and what
``cedula_stats`` reads (:func:`supply_status`).
"""

from __future__ import annotations

import time
from typing import Any

from ...conf import app_settings, is_shared_cache
from .. import spend
from ..base import SolvedToken
from .filler import LEADER_KEY, LEASE, SOLVE_TIMEOUT, STATUS_KEY, TICK, Filler, _FillerThread
from .sizing import (
    INITIAL_LATENCY,
    LATENCY_KEY,
    MAX_IN_FLIGHT,
    TARGET_IDLE,
    TARGETS_KEY,
    active_targets,
    demand,
    latency_estimate,
    lookup_interval,
    note_target,
    plan_solves,
    planning_latency,
    record_latency,
)
from .store import TOKEN_LIFETIME, PooledToken, Target, TokenStore, shared_cache

__all__ = [
    "INITIAL_LATENCY",
    "LATENCY_KEY",
    "LEADER_KEY",
    "LEASE",
    "MAX_IN_FLIGHT",
    "SOLVE_TIMEOUT",
    "STATUS_KEY",
    "TARGETS_KEY",
    "TARGET_IDLE",
    "TICK",
    "TOKEN_LIFETIME",
    "Filler",
    "PooledToken",
    "Target",
    "TokenStore",
    "TokenSupply",
    "active_targets",
    "demand",
    "get_token_supply",
    "latency_estimate",
    "lookup_interval",
    "note_target",
    "plan_solves",
    "planning_latency",
    "record_latency",
    "stop_filler",
    "supply_status",
]


class TokenSupply:
    """What lookups use: take a token, give one back, and keep the filler running in this process."""

    def take(self, site_key: str, page_url: str) -> PooledToken | None:
        target = Target(site_key, page_url)
        note_target(target)
        self.ensure_filler()
        token = TokenStore(shared_cache(), target, app_settings.CAPTCHA_TOKEN_MAX_AGE).take()
        if token is not None:
            spend.count("used")
        return token

    def available(self, site_key: str, page_url: str) -> int:
        """Tokens ready for ``site_key`` on ``page_url`` now (and the filler told they are wanted)."""
        target = Target(site_key, page_url)
        note_target(target)
        self.ensure_filler()
        return TokenStore(shared_cache(), target, app_settings.CAPTCHA_TOKEN_MAX_AGE).stock()

    def donate(self, site_key: str, page_url: str, token: SolvedToken) -> None:
        """Keep a token a lookup solved but did not need (it took one from the supply meanwhile)."""
        TokenStore(shared_cache(), Target(site_key, page_url), app_settings.CAPTCHA_TOKEN_MAX_AGE).put(token)

    def ensure_filler(self) -> None:
        _FillerThread.ensure()


_supply = TokenSupply()


def stop_filler() -> None:
    """Stop this process's filler thread, if it runs (tests; a process about to exit)."""
    _FillerThread.stop_current()


def get_token_supply() -> TokenSupply | None:
    """The cluster's token supply, or ``None`` when lookups solve for themselves: the pool is off
    (``CEDULA_CAPTCHA_POOL``), the cache is not shared between processes, or the backend runs jobs
    in the caller's process (inline)."""
    if not app_settings.CAPTCHA_POOL or app_settings.CAPTCHA_SOLVER is None:
        return None
    if not is_shared_cache(app_settings.CACHE_ALIAS):
        return None
    from ...backends import get_backend

    if get_backend().runs_jobs_inline:
        return None
    return _supply


def supply_status() -> dict[str, Any]:
    """What the supply holds now, for ``cedula_stats`` and monitoring."""
    now = time.time()
    max_age = app_settings.CAPTCHA_TOKEN_MAX_AGE
    targets = active_targets(now)
    status = shared_cache().get(STATUS_KEY) or {}
    return {
        "enabled": get_token_supply() is not None,
        "stock": sum(TokenStore(shared_cache(), target, max_age).stock(now) for target in targets),
        "in_flight": int(status.get("in_flight", 0)) if now - float(status.get("at", 0)) < 60 else 0,
        "latency_estimate": round(latency_estimate(), 1),
        "targets": len(targets),
    }
