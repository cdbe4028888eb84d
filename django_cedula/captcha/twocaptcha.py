"""2Captcha, a paid reCAPTCHA-solving service (``pip install django-cedula[2captcha]``).

    CEDULA_CAPTCHA_SOLVER = "django_cedula.captcha.twocaptcha.TwoCaptchaSolver"
    CEDULA_CAPTCHA_SOLVER_OPTIONS = {"api_key": os.environ["TWOCAPTCHA_API_KEY"]}

A solve takes tens of seconds; the scrapers start it before the page loads so that it
overlaps the browser work. The API key never appears in a log line, a message or a repr.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import CaptchaError
from .base import CaptchaSolver


class TwoCaptchaSolver(CaptchaSolver):
    """Solves reCAPTCHA v2 through 2Captcha's API with the official ``2captcha-python`` client.

    Options: ``api_key`` (required), ``server`` (``"2captcha.com"``; ``"rucaptcha.com"`` for
    accounts registered there), ``timeout`` (seconds to wait for a solve, 180) and
    ``polling_interval`` (seconds between polls, 5).
    """

    def __init__(
        self,
        *,
        api_key: str,
        server: str = "2captcha.com",
        timeout: float = 180,
        polling_interval: int = 5,
        **options: Any,
    ) -> None:
        if not api_key:
            raise ValueError("TwoCaptchaSolver needs an api_key")
        # The key is kept out of self.options, which is shown in reprs and debug output.
        super().__init__(server=server, timeout=timeout, polling_interval=polling_interval, **options)
        self._api_key = api_key
        self.server = server
        self.timeout = timeout
        self.polling_interval = polling_interval

    def __repr__(self) -> str:
        return f"<TwoCaptchaSolver server={self.server!r} api_key=***>"

    def solve(self, site_key: str, page_url: str, *, timeout: float | None = None) -> str:
        try:
            from twocaptcha import TwoCaptcha
        except ImportError as exc:
            raise CaptchaError(
                "the 2captcha-python package is missing: pip install django-cedula[2captcha]"
            ) from exc
        client = TwoCaptcha(
            self._api_key,
            server=self.server,
            recaptchaTimeout=self.timeout,
            pollingInterval=self.polling_interval,
        )
        try:
            answer = client.recaptcha(sitekey=site_key, url=page_url)
        except Exception as exc:
            raise CaptchaError(
                f"2Captcha did not solve it: {type(exc).__name__}: {self._scrub(str(exc))}"
            ) from None
        token = answer.get("code") if isinstance(answer, dict) else None
        if not token:
            raise CaptchaError("2Captcha answered without a token")
        return str(token)

    def _scrub(self, text: str) -> str:
        # The client's errors can quote request URLs, which carry the key.
        return text.replace(self._api_key, "***")[:300]
