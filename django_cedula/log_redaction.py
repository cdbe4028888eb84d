"""Secrets kept out of the log lines of the libraries that carry them.

The 2Captcha client polls ``res.php?key=<API key>&...`` through ``requests``, and ``urllib3`` logs
every request line at DEBUG: with DEBUG logging on, each poll wrote the key to the logs. A solver
registers its secret here (:func:`register_secret`) and a filter on those libraries' loggers
replaces it with ``***`` in the message, its arguments, a traceback and a stack.

A filter on a logger sees only the records created on that exact logger, not on its children, so
it is attached to every logger the client's stack creates (:data:`LOGGER_NAMES`, read from the
installed packages: each module of ``urllib3`` logs on a logger of its own name). A project that
wants the same guarantee for every logger can put :class:`SecretsFilter` on its handlers::

    LOGGING = {
        ...,
        "filters": {"secrets": {"()": "django_cedula.log_redaction.SecretsFilter"}},
        "handlers": {"console": {..., "filters": ["secrets"]}},
    }
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import quote, quote_plus

#: The loggers of the 2Captcha client's HTTP stack (2captcha-python -> requests -> urllib3).
LOGGER_NAMES: tuple[str, ...] = (
    "twocaptcha",
    "requests",
    "urllib3",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "urllib3.contrib.pyopenssl",
    "urllib3.contrib.emscripten.response",
    "urllib3.http2.connection",
)
#: Shorter strings are not taken as secrets: replacing them would garble every line.
MIN_SECRET_LENGTH = 6
REDACTED = "***"

_lock = threading.Lock()
# A tuple replaced whole under the lock, so that a filter reading it needs no lock.
_secrets: tuple[str, ...] = ()


def register_secret(secret: str) -> None:
    """Keep ``secret`` (and its URL-encoded forms) out of every record of :data:`LOGGER_NAMES`."""
    global _secrets
    if len(secret) < MIN_SECRET_LENGTH:
        return
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    with _lock:
        # Longest first, so that a secret containing another is replaced whole.
        _secrets = tuple(sorted(set(_secrets) | forms, key=len, reverse=True))
    install()


def registered_secrets() -> tuple[str, ...]:
    return _secrets


def scrub(text: str, secrets: tuple[str, ...] | None = None) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in _secrets if secrets is None else secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class SecretsFilter(logging.Filter):
    """Rewrites a record that carries a registered secret; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _secrets
        if secrets:
            scrub_record(record, secrets)
        return True


def scrub_record(record: logging.LogRecord, secrets: tuple[str, ...]) -> None:
    """Remove ``secrets`` from ``record`` in place: message and arguments, traceback, stack."""
    try:
        message = record.getMessage()
    except Exception:
        # The handler will report the broken format with the message and its arguments: clean both.
        message = f"{record.msg} {record.args!r}"
    if any(secret in message for secret in secrets):
        # The rendered message replaces the template: an argument cannot be cleaned on its own
        # without knowing how the format shows it.
        record.msg, record.args = scrub(message, secrets), None
    if record.exc_info and record.exc_info[1] is not None:
        text = record.exc_text or logging.Formatter().formatException(record.exc_info)
        if any(secret in text for secret in secrets):
            # Formatters use exc_text when it is set; handlers that read exc_info themselves
            # (error trackers) would see the secret in the exception, so it goes.
            record.exc_text, record.exc_info = scrub(text, secrets), None
    elif record.exc_text:
        record.exc_text = scrub(record.exc_text, secrets)
    if record.stack_info:
        record.stack_info = scrub(record.stack_info, secrets)


_FILTER = SecretsFilter()


def install() -> None:
    """Attach the filter to :data:`LOGGER_NAMES` (idempotent; loggers not created yet are created)."""
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
