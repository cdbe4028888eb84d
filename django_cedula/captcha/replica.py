"""A captcha "solver" for the local replica: returns the token the replica accepts, without any network.

Configure it with::

    CEDULA_CAPTCHA_SOLVER = "django_cedula.captcha.replica.ReplicaCaptchaSolver"
    CEDULA_CAPTCHA_SOLVER_OPTIONS = {"token": "replica-valid-token", "delay": 0}

``delay`` models a slow solving service; ``fail=True`` models one that gives up.
"""

from __future__ import annotations

import threading
import time

from ..exceptions import CaptchaError
from ..testing.replica.constants import DEFAULT_VALID_TOKEN
from .base import CaptchaSolver


class ReplicaCaptchaSolver(CaptchaSolver):
    """Returns ``token`` after sleeping ``delay`` seconds; raises ``CaptchaError`` when ``fail`` is set.

    Every call is recorded in :attr:`calls` as ``(site_key, page_url)``, so tests can check what
    a scraper asked for.
    """

    def __init__(self, *, token: str = DEFAULT_VALID_TOKEN, delay: float = 0.0, fail: bool = False) -> None:
        if delay < 0:
            raise ValueError("delay must not be negative")
        super().__init__(token=token, delay=delay, fail=fail)
        self.token = token
        self.delay = float(delay)
        self.fail = fail
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def solve(self, site_key: str, page_url: str, *, timeout: float | None = None) -> str:
        """Return the configured token (after the delay); no network call."""
        with self._lock:
            self.calls.append((site_key, page_url))
        if not site_key:
            raise CaptchaError("the page carries no reCAPTCHA site key")
        if timeout is not None and self.delay > timeout:
            # A real service's answer would come after the lookup gave up: of no use to it.
            time.sleep(max(timeout, 0.0))
            raise CaptchaError(f"no token within the {max(timeout, 0.0):.0f} s the lookup had left")
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise CaptchaError("the replica solver was told to fail")
        return self.token
