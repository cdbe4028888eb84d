"""Keeping personal data and secrets out of logs, stored errors and reprs.

One place for the maskers: cédulas (Ley 1581 de 2012), URL secrets (user-info, query strings),
and the secrets a solver registers, kept out of third-party libraries' log lines. Plain Python
with no Django import, so that the parsers and the browser layer can use it as well as the job.

Registered secrets: the 2Captcha client polls ``res.php?key=<API key>&...`` through ``requests``,
and ``urllib3`` logs every request line at DEBUG. A solver registers its secret
(:func:`register_secret`) and a filter on those libraries' loggers replaces it with ``***`` in the
message, its arguments, a traceback and a stack. A filter on a logger sees only the records
created on that exact logger, not on its children, so it is attached to every logger the client's
stack creates (:data:`LOGGER_NAMES`). A project that wants the same guarantee for every logger can
put :class:`SecretsFilter` on its handlers::

    LOGGING = {
        ...,
        "filters": {"secrets": {"()": "django_cedula.privacy.SecretsFilter"}},
        "handlers": {"console": {..., "filters": ["secrets"]}},
    }
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import quote, quote_plus

# A number as people write one: digit groups joined by a dot or comma ("1.020.304.050"), by
# spaces ("1 020 304 050") or by a dash with optional spaces around it ("1020-304-050"), the forms
# django_cedula.numbers accepts. Digits and separators are disjoint classes and the repetition may
# stop anywhere, so a match never backtracks more than one separator: linear whatever the text.
_SPACE = r"[ \t\u00a0\u202f]"
_STRONG_SEP = rf"{_SPACE}*-{_SPACE}*|{_SPACE}+"
_NUMBER_RE = re.compile(rf"(?<!\d)\d+(?:(?:[.,]|{_STRONG_SEP})\d+)*")
_STRONG_SPLIT_RE = re.compile(rf"({_STRONG_SEP})")
# A dotted quad that reads as an IPv4 address (each part 0-255, no leading zero), kept readable
# in error texts; unless it also has a cédula's shape, one digit and three groups of three.
_IPV4_RE = re.compile(r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}")
_CEDULA_SHAPED_RE = re.compile(r"\d\.\d{3}\.\d{3}\.\d{3}")
_THOUSANDS_GROUP_RE = re.compile(r"\d{3}")
#: Cédulas have 3–10 digits; shorter runs are masked only when they are the looked-up number, so
#: that figures like "15008 milliseconds" stay readable.
MASK_MIN_DIGITS = 6


def mask_cedula(value: object) -> str:
    """Mask a number for logs and messages: ``"1020304050"`` -> ``"******4050"``.

    At most the last four characters stay visible, and never more than half of them.
    """
    text = "" if value is None else str(value)
    visible = min(4, len(text) // 2)
    return "*" * (len(text) - visible) + text[len(text) - visible :]


def mask_numbers(text: str, cedula: str | None = None) -> str:
    """``text`` with every number of six or more digits masked, and ``cedula`` masked whatever its length.

    A number may be written with dots or commas (``1.020.304.050``), or in groups of three after
    spaces or dashes (``1 020 304 050``, ``1020-304-050``); ``cedula`` is recognised in any of
    these forms. Other numbers a space or a dash apart stay separate (``2024-01-15``, ``12 34``),
    and so do IPv4 addresses (``127.0.0.1``).
    """
    wanted = re.sub(r"\D", "", cedula or "")
    shortest = min(MASK_MIN_DIGITS, len(wanted)) if wanted else MASK_MIN_DIGITS

    def masked(written: str) -> str:
        if len(written) < shortest:
            return written  # too short to be masked: most numbers in a text, so spare the work
        digits = re.sub(r"\D", "", written)
        if wanted and digits == wanted:
            return mask_cedula(digits)
        if len(digits) < MASK_MIN_DIGITS:
            return written
        if _IPV4_RE.fullmatch(written) and not _CEDULA_SHAPED_RE.fullmatch(written):
            return written
        return mask_cedula(digits)

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if wanted and re.sub(r"\D", "", whole) == wanted:
            return mask_cedula(wanted)
        # Groups a space or a dash apart are one number only when each later group has exactly
        # three digits (thousands); any other group starts a number of its own.
        parts = _STRONG_SPLIT_RE.split(whole)
        out: list[str] = []
        chain = parts[0]
        for separator, group in zip(parts[1::2], parts[2::2], strict=True):
            if _THOUSANDS_GROUP_RE.fullmatch(group):
                chain += separator + group
            else:
                out += [masked(chain), separator]
                chain = group
        out.append(masked(chain))
        return "".join(out)

    return _NUMBER_RE.sub(replace, text)


# Every part of this pattern is one greedy run of a character class, with no quantifier nested in
# another and nothing after them that can fail, so a match never backtracks: the cost is linear in
# the text whatever it holds (an error text may quote a whole page). The look-behind lets a scheme
# start only where a word starts; without it, a long run of letters with no "://" would be
# rescanned from every position.
_URL_CHARS = r"[^\s'\"<>`"
_URL_RE = re.compile(
    r"(?<![A-Za-z0-9+.\-])(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]{0,31}://)"
    rf"(?P<authority>{_URL_CHARS}/?#]*)"
    rf"(?P<path>{_URL_CHARS}?#]*)"
    rf"(?P<query>\?{_URL_CHARS}#]*)?"
    rf"(?P<fragment>#{_URL_CHARS}]*)?"
)
# A scheme-less proxy address with credentials ("user:secret@proxy:3128"), which
# a source's proxy option accepts. A colon before the "@" tells it from an e-mail address.
_BARE_USERINFO_RE = re.compile(r"(?<![^\s'\"<>`(\[=,;])[^\s'\"<>`/?#@:]+:[^\s'\"<>`/?#@]*@")
#: What replaces a secret.
REDACTED = "***"


def redact_urls(text: str) -> str:
    """``text`` with the user-info, query string and fragment of every URL in it replaced by ``***``.

    ``ws://browser:3000/?token=abc`` becomes ``ws://browser:3000/?***`` and
    ``http://user:secret@proxy:3128`` becomes ``http://***@proxy:3128``: scheme, host, port and
    path stay readable, which is what a reader of an error needs.
    """

    def replace(match: re.Match[str]) -> str:
        authority = match.group("authority")
        if "@" in authority:
            authority = REDACTED + authority[authority.rindex("@") :]
        parts = [match.group("scheme"), authority, match.group("path")]
        if match.group("query") is not None:
            parts.append("?" + REDACTED)
        if match.group("fragment") is not None:
            parts.append("#" + REDACTED)
        return "".join(parts)

    text = _URL_RE.sub(replace, text)
    return _BARE_USERINFO_RE.sub(REDACTED + "@", text)


def redact(text: object, cedula: str | None = None) -> str:
    """The one cleaning of an error text before it is stored or logged.

    URL secrets are removed (:func:`redact_urls`), then numbers masked (:func:`mask_numbers`;
    ``cedula`` masked whatever its length). Takes any object (an exception, say) and returns its
    cleaned ``str``.
    """
    return mask_numbers(redact_urls("" if text is None else str(text)), cedula)


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
