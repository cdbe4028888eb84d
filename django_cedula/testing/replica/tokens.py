"""Response tokens of the local replica's reCAPTCHA stand-in, checked the way Google's verification checks
real ones (stdlib only; no Django, no network).

Google's rules for a reCAPTCHA v2 response token: it is valid for two minutes, can be verified once
(a reused or stale token fails as ``timeout-or-duplicate``) and is bound to the site key; it is not bound
to the machine that solved it. The replica's solver stand-ins (:class:`~django_cedula.testing.captcha.
ReplicaCaptchaSolver`, the checkbox widget of its ``api.js``) issue tokens with :func:`issue_token`; the
replica checks them with a :class:`TokenVerifier`.

A token is ``replica1.<payload>.<signature>``: the payload is ``site_key|issued_at_ms|nonce`` in
base64url, the signature its HMAC-SHA256 under :data:`REPLICA_TOKEN_SECRET`. Everything a check needs
except "was it used already" is in the token, so solvers in worker processes and a replica in another
process need no shared state. The secret is fixed and public on purpose: it only keeps the replica from
accepting strings its stand-ins did not issue, exactly as Google refuses strings it did not issue.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable

__all__ = [
    "CLOCK_SKEW",
    "REPLICA_TOKEN_SECRET",
    "TOKEN_MAX_AGE",
    "TOKEN_PREFIX",
    "TokenCheck",
    "TokenClaims",
    "TokenVerifier",
    "check_token",
    "issue_token",
    "read_token",
]

#: The HMAC key of the replica's tokens: a documented test value, not a secret (see the module's text).
REPLICA_TOKEN_SECRET = b"django-cedula replica reCAPTCHA stand-in; a public test key, not a secret"

#: Seconds a token is accepted after it was issued, as Google's two minutes (``Replica(token_max_age=...)``).
TOKEN_MAX_AGE = 120.0

#: Seconds a token may seem to come from the future (two processes' clocks on one machine): beyond, unknown.
CLOCK_SKEW = 5.0

#: How every token of the stand-ins begins.
TOKEN_PREFIX = "replica1."


class TokenCheck(str, enum.Enum):
    """The verification's verdict on one submitted token."""

    ACCEPTED = "accepted"
    #: Issued by a stand-in and verified before: Google's ``timeout-or-duplicate``.
    REUSED = "reused"
    #: Issued more than ``max_age`` seconds ago: also ``timeout-or-duplicate``.
    EXPIRED = "expired"
    #: Issued for another site key.
    FOREIGN_SITE_KEY = "foreign_site_key"
    #: Not issued by a stand-in (empty, malformed, a fixed string, a bad signature).
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class TokenClaims:
    """What a genuine token says about itself."""

    site_key: str
    #: ``time.time()`` when it was issued (millisecond precision).
    issued_at: float
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(payload: str, secret: bytes) -> str:
    return _b64(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def issue_token(
    site_key: str,
    *,
    issued_at: float | None = None,
    nonce: str | None = None,
    secret: bytes = REPLICA_TOKEN_SECRET,
) -> str:
    """A new token for ``site_key``, issued now (``time.time()``) unless ``issued_at`` says otherwise.

    Each call draws a fresh random ``nonce``, so no two tokens are alike."""
    if not site_key:
        raise ValueError("a token needs a site key")
    when = time.time() if issued_at is None else issued_at
    nonce = secrets.token_urlsafe(12) if nonce is None else nonce
    payload = _b64(f"{site_key}|{round(when * 1000)}|{nonce}".encode())
    return f"{TOKEN_PREFIX}{payload}.{_signature(payload, secret)}"


def read_token(token: str, *, secret: bytes = REPLICA_TOKEN_SECRET) -> TokenClaims | None:
    """The claims of a token a stand-in issued under ``secret``; ``None`` for anything else."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
        return None
    payload, _, signature = token[len(TOKEN_PREFIX) :].partition(".")
    if not payload or not signature or not payload.isascii():
        return None
    if not hmac.compare_digest(signature, _signature(payload, secret)):
        return None
    try:
        site_key, issued_ms, nonce = _unb64(payload).decode("utf-8").rsplit("|", 2)
        issued_at = int(issued_ms) / 1000
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return TokenClaims(site_key=site_key, issued_at=issued_at, nonce=nonce)


def check_token(
    token: str,
    site_key: str,
    *,
    now: float | None = None,
    max_age: float = TOKEN_MAX_AGE,
    secret: bytes = REPLICA_TOKEN_SECRET,
) -> TokenCheck:
    """Every rule but "once": :attr:`~TokenCheck.ACCEPTED` means genuine, for ``site_key`` and fresh.

    (A single check cannot know about reuse; :class:`TokenVerifier` remembers what it accepted.)"""
    claims = read_token(token, secret=secret)
    return _judge(claims, site_key, time.time() if now is None else now, max_age)


def _judge(claims: TokenClaims | None, site_key: str, now: float, max_age: float) -> TokenCheck:
    if claims is None or claims.issued_at > now + CLOCK_SKEW:
        return TokenCheck.UNKNOWN
    if claims.site_key != site_key:
        return TokenCheck.FOREIGN_SITE_KEY
    if now - claims.issued_at > max_age:
        return TokenCheck.EXPIRED
    return TokenCheck.ACCEPTED


class TokenVerifier:
    """Google's verification for the replica: genuine, for the site key, fresh, and accepted once.

    Thread-safe. It remembers the tokens it accepted while they could still be fresh; ``clock`` (the
    wall clock by default, since tokens travel between processes) can be injected by tests. Every
    verdict is counted (:meth:`counts`).
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.time, secret: bytes = REPLICA_TOKEN_SECRET
    ) -> None:
        self.clock = clock
        self.secret = secret
        self._lock = threading.Lock()
        self._counts = dict.fromkeys((check.value for check in TokenCheck), 0)
        # nonce -> issue time of every token accepted and not yet forgotten.
        self._used: dict[str, float] = {}
        # Tokens issued before this time may have been accepted and forgotten: refused as expired.
        self._forgotten_before = float("-inf")
        self._prune_at = 1024

    def verify(self, token: str, site_key: str, *, max_age: float = TOKEN_MAX_AGE) -> TokenCheck:
        """The verdict on ``token`` submitted to a page with ``site_key``; an accepted token is used up."""
        claims = read_token(token, secret=self.secret)
        with self._lock:
            now = self.clock()
            verdict = _judge(claims, site_key, now, max_age)
            if verdict is TokenCheck.ACCEPTED:
                assert claims is not None
                if claims.nonce in self._used:
                    verdict = TokenCheck.REUSED
                elif claims.issued_at < self._forgotten_before:
                    verdict = TokenCheck.EXPIRED
                else:
                    self._used[claims.nonce] = claims.issued_at
                    if len(self._used) >= self._prune_at:
                        self._prune(now - max_age)
            self._counts[verdict.value] += 1
            return verdict

    def count(self, verdict: TokenCheck) -> None:
        """Count a verdict reached elsewhere (the replica's fixed ``valid_token``)."""
        with self._lock:
            self._counts[TokenCheck(verdict).value] += 1

    def _prune(self, cutoff: float) -> None:
        # Forget tokens too old to be accepted again; remember that anything older is refused.
        self._used = {nonce: issued for nonce, issued in self._used.items() if issued >= cutoff}
        self._forgotten_before = max(self._forgotten_before, cutoff)
        self._prune_at = max(1024, 2 * len(self._used))

    def counts(self) -> dict[str, int]:
        """``{"accepted": n, "reused": n, "expired": n, "foreign_site_key": n, "unknown": n}``."""
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        """Forget the used tokens and the counts."""
        with self._lock:
            self._counts = dict.fromkeys(self._counts, 0)
            self._used.clear()
            self._forgotten_before = float("-inf")
            self._prune_at = 1024
