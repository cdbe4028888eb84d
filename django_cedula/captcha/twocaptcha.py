"""2Captcha, a paid reCAPTCHA-solving service (``pip install django-cedula[2captcha]``).

    CEDULA_CAPTCHA_SOLVER = "django_cedula.captcha.twocaptcha.TwoCaptchaSolver"
    CEDULA_CAPTCHA_SOLVER_OPTIONS = {"api_key": os.environ["TWOCAPTCHA_API_KEY"]}

A solve takes tens of seconds; the scrapers start it before the page loads so that it
overlaps the browser work. The API key never appears in a log line, a message or a repr.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from .. import log_redaction
from ..exceptions import CaptchaError
from .base import CaptchaSolver

#: The longest one HTTP request to the service may take (the client sets no timeout of its own:
#: a request to a server that stops answering would wait for ever).
REQUEST_TIMEOUT = 30.0


class TwoCaptchaSolver(CaptchaSolver):
    """Solves reCAPTCHA v2 through 2Captcha's API with the official ``2captcha-python`` client.

    Options: ``api_key`` (required), ``server`` (``"2captcha.com"``; ``"rucaptcha.com"`` for
    accounts registered there), ``timeout`` (seconds to wait for a solve, 180) and
    ``polling_interval`` (seconds between polls, 5). A solve gives up after ``timeout`` seconds,
    or sooner when its lookup has less time left (``solve(..., timeout=)``), and so does every
    request it makes.
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
        # The client polls res.php?key=<key>: urllib3 logs that URL at DEBUG.
        log_redaction.register_secret(api_key)
        self.server = server
        self.timeout = timeout
        self.polling_interval = polling_interval

    def __repr__(self) -> str:
        return f"<TwoCaptchaSolver server={self.server!r} api_key=***>"

    def solve(self, site_key: str, page_url: str, *, timeout: float | None = None) -> str:
        limit = self.timeout if timeout is None else min(self.timeout, timeout)
        if limit <= 0:
            raise CaptchaError("no time left for a 2Captcha solve")
        deadline = time.monotonic() + limit
        try:
            client_class = _bounded_client_class()
        except ImportError as exc:
            raise CaptchaError(
                "the 2captcha-python package is missing: pip install django-cedula[2captcha]"
            ) from exc
        client = client_class(
            self._api_key,
            server=self.server,
            recaptchaTimeout=limit,
            pollingInterval=self.polling_interval,
            deadline=deadline,
        )
        try:
            answer = client.recaptcha(sitekey=site_key, url=page_url)
        except Exception as exc:
            if time.monotonic() >= deadline:
                raise CaptchaError(f"2Captcha did not solve it within {limit:g} s") from None
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


@functools.cache
def _bounded_client_class() -> type[Any]:
    """The official client, held to a deadline: every request and every pause between polls ends by it.

    The client's own ``recaptchaTimeout`` bounds its polling loop only loosely (a request may hang,
    a pause between polls may cross the limit), so the loop and the HTTP calls are replaced here;
    what the requests carry and how answers are read stay the client's. Built on first use:
    the package is an optional dependency.
    """
    import requests
    from twocaptcha import TwoCaptcha
    from twocaptcha.api import ApiClient, ApiException
    from twocaptcha.api import NetworkException as ApiNetworkException
    from twocaptcha.exceptions.solver import NetworkException, TimeoutException

    class BoundedApiClient(ApiClient):  # type: ignore[misc]
        def __init__(self, post_url: str, deadline: float) -> None:
            super().__init__(post_url=post_url)
            self.deadline = deadline

        def _timeout(self) -> float:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutException("the lookup's time is up")
            return min(left, REQUEST_TIMEOUT)

        def _send(self, method: str, path: str, **kwargs: Any) -> str:
            try:
                resp = requests.request(
                    method, f"https://{self.post_url}/{path}", timeout=self._timeout(), **kwargs
                )
            except requests.RequestException as exc:
                raise ApiNetworkException(exc) from exc
            if resp.status_code != 200:
                raise ApiNetworkException(f"bad response: {resp.status_code}")
            text = resp.content.decode("utf-8")
            if "ERROR" in text:
                raise ApiException(text)
            return str(text)

        def in_(self, files: dict[str, str] | None = None, **kwargs: Any) -> str:
            if files or "file" in kwargs:  # not used for reCAPTCHA: the client's own way
                return str(super().in_(files=files or {}, **kwargs))
            return self._send("POST", "in.php", data=kwargs)

        def res(self, **kwargs: Any) -> str:
            return self._send("GET", "res.php", params=kwargs)

    class BoundedTwoCaptcha(TwoCaptcha):  # type: ignore[misc]
        def __init__(self, api_key: str, *, server: str, deadline: float, **kwargs: Any) -> None:
            super().__init__(api_key, server=server, **kwargs)
            self.deadline = deadline
            self.api_client = BoundedApiClient(server, deadline)

        def wait_result(self, id_: str, timeout: float, polling_interval: float) -> Any:
            while True:
                try:
                    return self.get_result(id_)
                except NetworkException:  # "not ready yet"
                    pass
                left = self.deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutException(f"timeout {timeout:g} exceeded")
                time.sleep(min(polling_interval, left))

    return BoundedTwoCaptcha
