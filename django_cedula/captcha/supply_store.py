"""Where the token supply's tokens live: a target (site key and page URL), and the store of its tokens
in Django's cache, taken with an atomic claim so that a token goes to one lookup.

Everything read back from the cache is checked (:func:`~django_cedula.throttle.read`): an index
entry that names no token, a token that is no text or too long, a lock no holder wrote, are
ignored and removed, never fatal.

The rest of the token supply (what lookups use, the sizing rule, the filler) is :mod:`.supply`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache import BaseCache, caches

from ..conf import app_settings
from ..throttle import CLOCK_SKEW, describe, fetch, is_time, log_garbage, read
from .base import MAX_TOKEN_LENGTH, SolvedToken

#: How long Google accepts a token after its solve, in seconds.
TOKEN_LIFETIME = 120.0

PREFIX = "django_cedula:captcha:"
#: What a token's id in an index looks like (``secrets.token_hex(8)``); the index lock's value too.
_HEX16 = re.compile(r"[0-9a-f]{16}")


def _is_stored_token(value: Any) -> bool:
    """Whether ``value`` is a token as :meth:`TokenStore.put` stores one."""
    if not isinstance(value, dict):
        return False
    token, ref = value.get("value"), value.get("ref", "")
    return isinstance(token, str) and 0 < len(token) <= MAX_TOKEN_LENGTH and isinstance(ref, str)


def _is_lock_value(value: Any) -> bool:
    return isinstance(value, str) and _HEX16.fullmatch(value) is not None


def shared_cache() -> BaseCache:
    """The cache the token supply (and the throttle) keep their state in: ``CEDULA_CACHE_ALIAS``."""
    return caches[app_settings.CACHE_ALIAS]


@dataclasses.dataclass(frozen=True)
class Target:
    """Where tokens are good: Google binds a token to its site key and host name."""

    site_key: str
    page_url: str

    @property
    def key(self) -> str:
        digest = hashlib.sha256(f"{self.site_key}\n{self.page_url}".encode()).hexdigest()[:16]
        return f"{PREFIX}t:{digest}"


@dataclasses.dataclass(frozen=True)
class SuppliedToken:
    """A token taken from the supply, for one submission."""

    value: str
    #: The solving service's id of the solve (for reports), ``""`` when it has none.
    ref: str
    #: ``time.time()`` when the solve came back.
    solved_at: float

    def age(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.solved_at

    def __repr__(self) -> str:
        return f"SuppliedToken(ref={self.ref!r}, age={self.age():.0f}s)"


class TokenStore:
    """The tokens kept for one target, in a cache.

    An index (id -> solved_at) names the tokens; each token sits under its own key, with the cache's
    timeout as a second guard on its age; a claim key, added atomically, decides who gets it.
    Only the index is written under a short lock; taking a token needs none.
    """

    def __init__(self, cache: BaseCache, target: Target, max_age: float) -> None:
        self.cache = cache
        self.target = target
        self.max_age = max_age
        self._index_key = target.key + ":index"
        self._lock_key = target.key + ":lock"

    def _token_key(self, token_id: str) -> str:
        return f"{self.target.key}:token:{token_id}"

    def _claim_key(self, token_id: str) -> str:
        return f"{self.target.key}:claim:{token_id}"

    def put(self, token: SolvedToken, solved_at: float | None = None) -> None:
        """Add a freshly solved token."""
        solved_at = time.time() if solved_at is None else solved_at
        token_id = secrets.token_hex(8)
        life = max(math.ceil(self.max_age - (time.time() - solved_at)), 1)
        self.cache.set(self._token_key(token_id), {"value": token.value, "ref": token.ref}, timeout=life)
        with self._locked():
            index, _ = self._index(repair=True)
            index[token_id] = solved_at
            self._write_index(index)

    def take(self, now: float | None = None) -> SuppliedToken | None:
        """The oldest unexpired token, now this caller's alone; ``None`` when there is none.

        Oldest first, not freshest: every token in the store is good for a submission (the max
        age keeps 20 of Google's 120 s for posting it), and taking the freshest starves the bottom
        of a standing stock, whose tokens then expire unused (7 of 69 solves on a benchmark
        backlog of 60 when lookups took the freshest).
        """
        now = time.time() if now is None else now
        for token_id, solved_at in sorted(self._current_index().items(), key=lambda item: item[1]):
            if now - solved_at >= self.max_age:
                continue  # expired: the pruner counts and drops it
            if not self.cache.add(self._claim_key(token_id), "taken", timeout=math.ceil(self.max_age) + 60):
                continue  # another lookup has it
            # Claimed: this lookup alone reads and deletes it (garbage too: no token, or too long).
            stored = read(self.cache, self._token_key(token_id), _is_stored_token)
            self.cache.delete(self._token_key(token_id))
            if stored:
                return SuppliedToken(value=stored["value"], ref=stored.get("ref", ""), solved_at=solved_at)
        return None

    def stock(self, now: float | None = None) -> int:
        """Unexpired tokens nobody has taken yet."""
        now = time.time() if now is None else now
        index = self._current_index()
        fresh = [token_id for token_id, solved_at in index.items() if now - solved_at < self.max_age]
        if not fresh:
            return 0
        claimed = self.cache.get_many([self._claim_key(token_id) for token_id in fresh])
        return len(fresh) - len(claimed)

    def prune(self, now: float | None = None) -> int:
        """Drop taken and expired tokens from the index; return how many expired unused.

        An expired token is claimed first, like a take, so that a lookup taking it at that moment
        and the pruning cannot both have it (or count it)."""
        now = time.time() if now is None else now
        expired = 0
        with self._locked():
            index, clean = self._index(repair=True)
            keep: dict[str, float] = {}
            for token_id, solved_at in index.items():
                claim = self._claim_key(token_id)
                if now - solved_at >= self.max_age:
                    if self.cache.add(claim, "expired", timeout=60):
                        expired += 1
                        self.cache.delete(self._token_key(token_id))
                elif self.cache.get(claim) is None:
                    keep[token_id] = solved_at
            if keep != index or not clean:
                self._write_index(keep)
        return expired

    def _write_index(self, index: dict[str, float]) -> None:
        self.cache.set(self._index_key, index, timeout=math.ceil(self.max_age) + 60)

    def _current_index(self) -> dict[str, float]:
        """The index, for a reader without the lock: garbage in it is left out, and repaired under
        the lock (best effort: a busy lock leaves that to the filler's next prune)."""
        index, clean = self._index()
        if not clean:
            try:
                with self._locked():
                    index, _ = self._index(repair=True)
            except TimeoutError:
                pass
        return index

    def _index(self, *, repair: bool = False) -> tuple[dict[str, float], bool]:
        """The index's entries that name a token (an id as :meth:`put` makes them, a time when it
        was solved that is not in the future), and whether it held nothing else. With ``repair``
        (under the lock only: the index is written by whoever holds it) an index that is not even
        a dict is deleted, and one with garbage entries written back without them."""
        raw = fetch(self.cache, self._index_key)
        if raw is None:
            return {}, True
        if not isinstance(raw, dict):
            log_garbage(self._index_key, describe(raw))
            if repair:
                self.cache.delete(self._index_key)
            return {}, False
        latest = time.time() + CLOCK_SKEW
        index = {
            token_id: float(solved_at)
            for token_id, solved_at in raw.items()
            if isinstance(token_id, str)
            and _HEX16.fullmatch(token_id)
            and is_time(solved_at)
            and solved_at <= latest
        }
        if len(index) == len(raw):
            return index, True
        log_garbage(self._index_key, f"{len(raw) - len(index)} entries that name no token")
        if repair:
            self._write_index(index)
        return index, False

    @contextmanager
    def _locked(self, patience: float = 2.0) -> Iterator[None]:
        """A short lock around the index's read-modify-write, released only by its holder."""
        token = secrets.token_hex(8)
        deadline = time.monotonic() + patience
        looked = False
        while not self.cache.add(self._lock_key, token, timeout=5):
            if not looked:
                # A value no holder writes (and perhaps without an expiry) would hold the lock for
                # ever: read() deletes it, and the lock is asked for again at once.
                looked = True
                if read(self.cache, self._lock_key, _is_lock_value) is None:
                    continue
            if time.monotonic() > deadline:
                # Not given an expiry, as the throttle's lock is: this wait is shorter than the
                # lock's life, so waiters giving up in turn would keep a dead holder's lock alive.
                raise TimeoutError("the token supply's index is locked")
            time.sleep(0.01)
        try:
            yield
        finally:
            if self.cache.get(self._lock_key) == token:
                self.cache.delete(self._lock_key)
