"""The type and range of each plain setting: E009 (the table of rules), E010, and E006.

Each rule is a predicate and the words for what the setting must be; the predicates
(:func:`positive`, :func:`valid_rate`...) are shared with :mod:`.throttle` and :mod:`.sweep`,
which skip what a wrong value here already reports.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from django.core.checks import CheckMessage

from ..conf import DEFAULTS
from ..proxies import ProxyError, describe, parse_proxy_value
from ..throttle import parse_rate
from .messages import error, raw


def is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def non_negative(value: object) -> bool:
    return is_number(value) and value >= 0  # type: ignore[operator]


def positive(value: object) -> bool:
    return is_number(value) and value > 0  # type: ignore[operator]


def _url(schemes: tuple[str, ...]) -> Callable[[object], bool]:
    def valid(value: object) -> bool:
        if value is None:
            return True
        if not isinstance(value, str):
            return False
        parts = urlsplit(value)
        return parts.scheme in schemes and bool(parts.netloc)

    return valid


def _proxy(value: object) -> bool:
    # The reading both clients use: what passes here, the browser and the HTTP client take.
    try:
        parse_proxy_value(value)
    except ProxyError:
        return False
    return True


def _shown(value: object) -> str:
    """A wrong value as the message quotes it: a proxy's or an endpoint's credentials and a
    dict's values (a password, a key) left out."""
    if isinstance(value, Mapping):
        return f"a dict with the keys {sorted(map(str, value))}"
    return describe(value) if isinstance(value, str) else repr(value)


#: Hints of E009 beyond the default value, where the usual mistake is known.
_HINTS = {
    "BROWSER_PROXY": (
        "Percent-encode / # ? @ : [ ] in the username and password of a URL "
        '(e.g. %2F for /), or give them apart: {"server": ..., "username": ..., "password": ...}.'
    ),
}


def valid_rate(value: object) -> bool:
    if value is None:
        return True
    try:
        parse_rate(value) if isinstance(value, str) else parse_rate("")
    except ValueError:
        return False
    return True


# setting -> (is it valid?, what it must be)
_VALUE_RULES: dict[str, tuple[Callable[[object], bool], str]] = {
    "AUTO_VALIDATE": (lambda v: isinstance(v, bool), "True or False"),
    "BROWSER_HEADLESS": (lambda v: isinstance(v, bool), "True or False"),
    "STORE_RAW_RESPONSE": (lambda v: isinstance(v, bool), "True or False"),
    "PAGE_TIMEOUT": (positive, "a positive number of seconds"),
    "LOOKUP_TIMEOUT": (positive, "a positive number of seconds"),
    "MIN_LOOKUP_INTERVAL": (non_negative, "a number of seconds, 0 or more"),
    "BROWSER_IDLE_TIMEOUT": (non_negative, "a number of seconds, 0 or more (0: never close)"),
    "RAW_RESPONSE_MAX_LENGTH": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "a whole number of characters, 0 or more",
    ),
    # A string, as documented and as the page's <select> holds it; a number is refused, not converted.
    "ELECTION": (
        lambda v: isinstance(v, str) and v.removeprefix("-").isdigit(),
        'an election id as a string, such as "-1"',
    ),
    "SOURCE_URL": (_url(("http", "https")), "an http(s) URL, or None for the real site"),
    "BROWSER_ENDPOINT": (_url(("ws", "wss", "http", "https")), "a ws(s):// or http(s):// URL, or None"),
    "BROWSER_ARGS": (
        lambda v: isinstance(v, (list, tuple)) and all(isinstance(a, str) for a in v),
        "a list of strings",
    ),
    "BROWSER_USER_AGENT": (lambda v: v is None or isinstance(v, str), "a string or None"),
    "BROWSER_PROXY": (
        _proxy,
        'an http, https, socks4, socks5 or socks5h proxy URL, or a dict with "server" and only '
        '"bypass", "username" and "password" besides, or None',
    ),
    "REFRESH_COOLDOWN": (non_negative, "a number of seconds, 0 or more"),
    "REVALIDATE_ON_CHANGE": (lambda v: isinstance(v, bool), "True or False"),
    "RATE_LIMIT": (valid_rate, 'a rate such as "12/m", "1/5s" or "100/h", or None for no limit'),
    "BLOCK_COOLDOWN": (non_negative, "a number of seconds, 0 or more (0: no pause)"),
    "SWEEP_PENDING_AFTER": (positive, "a positive number of seconds"),
    "SWEEP_PROCESSING_AFTER": (positive, "a positive number of seconds"),
    "SWEEP_SCHEDULE": (lambda v: isinstance(v, bool), "True or False"),
    "CAPTCHA_POOL": (lambda v: isinstance(v, bool), "True or False"),
    "CAPTCHA_TOKEN_MAX_AGE": (
        lambda v: positive(v) and float(v) <= 120,  # type: ignore[arg-type]
        "a positive number of seconds, at most 120 (Google refuses older tokens)",
    ),
    "CAPTCHA_POOL_MIN_TOKENS": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 32,
        "a whole number of tokens from 0 to 32",
    ),
    "CAPTCHA_PRICE_PER_1000": (non_negative, "a price, 0 or more"),
}


def check_retry_delays(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E006."""
    delays = raw("RETRY_DELAYS")
    if isinstance(delays, (list, tuple)) and all(is_number(delay) and delay >= 0 for delay in delays):
        return []
    return [
        error(
            6,
            "RETRY_DELAYS",
            f"must be a list of non-negative numbers of seconds, not {delays!r}",
            "For example [60, 300, 900] (3 retries), or [] for no retries.",
        )
    ]


def check_values(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E009 and E010."""
    messages: list[CheckMessage] = []
    for name, (valid, expected) in _VALUE_RULES.items():
        value = raw(name)
        if not valid(value):
            messages.append(
                error(
                    9,
                    name,
                    f"must be {expected}, not {_shown(value)}",
                    _HINTS.get(name, f"Default: {DEFAULTS[name]!r}."),
                )
            )
    executable = raw("BROWSER_EXECUTABLE")
    if executable is not None and not (
        isinstance(executable, str) and os.path.isfile(executable) and os.access(executable, os.X_OK)
    ):
        messages.append(
            error(
                10,
                "BROWSER_EXECUTABLE",
                f"{executable!r} is not an executable file",
                "Install Chromium (apt-get install chromium) and point at it, "
                "or set None to find one on PATH.",
            )
        )
    return messages
