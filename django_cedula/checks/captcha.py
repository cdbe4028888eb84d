"""``TwoCaptchaSolver`` without an API key: E013.

The solver's options are read by name against its signature in :mod:`.scraper` (E012 says when
``api_key`` is left out); this check reads the one value that matters before a worker needs it: a
key that is ``None`` or empty, as ``{"api_key": os.environ.get("TWOCAPTCHA_API_KEY")}`` gives when
the variable is not set. The key itself is never part of a message.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage

from .messages import error, import_path, raw

#: The environment variable the documentation reads the key from.
KEY_VARIABLE = "TWOCAPTCHA_API_KEY"


def check_captcha(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E013: the configured solver is ``TwoCaptchaSolver`` and its ``api_key`` is ``None`` or empty."""
    if not _is_twocaptcha(raw("CAPTCHA_SOLVER")):
        return []
    options = raw("CAPTCHA_SOLVER_OPTIONS")
    if not isinstance(options, dict) or "api_key" not in options:
        return []  # E009 (not a dict) and E012 (the option left out) say so
    key = options["api_key"]
    if isinstance(key, str) and key.strip():
        return []
    what = "is not set (None)" if key is None else "is empty" if isinstance(key, str) else "is not a string"
    return [
        error(
            13,
            "CAPTCHA_SOLVER_OPTIONS",
            f"the 2Captcha API key ('api_key') {what}: every lookup would fail on its captcha",
            f"Set the {KEY_VARIABLE} environment variable for every process (web and workers), e.g. "
            f'CEDULA_CAPTCHA_SOLVER_OPTIONS = {{"api_key": os.environ.get("{KEY_VARIABLE}")}}, '
            "or use django_cedula.captcha.replica.ReplicaCaptchaSolver against the local replica.",
        )
    ]


def _is_twocaptcha(path: object) -> bool:
    """Whether ``path`` names ``TwoCaptchaSolver`` (by any import path; not a subclass, which may
    supply its own key). ``check_scraper`` imports the same path, so this costs nothing more."""
    if path is None:
        return False
    solver_class, problem = import_path(path)
    if problem is not None:
        return False  # E008
    from ..captcha.twocaptcha import TwoCaptchaSolver

    return solver_class is TwoCaptchaSolver
