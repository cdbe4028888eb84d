"""2Captcha, a paid reCAPTCHA-solving service (``pip install django-cedula[2captcha]``).

    CEDULA_CAPTCHA_SOLVER = {
        "BACKEND": "django_cedula.captcha.twocaptcha.TwoCaptchaSolver",
        "OPTIONS": {"api_key": os.environ.get("TWOCAPTCHA_API_KEY")},
    }

(with ``import os``; an unset variable fails ``manage.py check`` with ``django_cedula.E013``.)

A solve takes tens of seconds; the scrapers start it before the page loads so that it
overlaps the browser work. The token supply keeps many solves in flight from one thread with
:meth:`~TwoCaptchaSolver.submit` / :meth:`~TwoCaptchaSolver.poll` (``in.php`` once, then one
``res.php?action=get`` per poll), and tokens the site refused are reported (``reportbad``, which
2Captcha reviews and refunds) as accepted ones are (``reportgood``). The API key never appears in a log line,
a message or a repr.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Any

from .. import privacy
from ..exceptions import CaptchaError, CaptchaUnreachable
from .base import CaptchaSolver, SolvedToken

logger = logging.getLogger(__name__)

#: The longest one HTTP request to the service may take (the client sets no timeout of its own:
#: a request to a server that stops answering would wait for ever).
REQUEST_TIMEOUT = 30.0
#: The longest a request of :meth:`~TwoCaptchaSolver.submit`, :meth:`~TwoCaptchaSolver.poll` or
#: :meth:`~TwoCaptchaSolver.report` may take: the supply's one thread polls every solve in turn.
QUICK_REQUEST_TIMEOUT = 10.0
#: A solve started with :meth:`~TwoCaptchaSolver.submit` is given up after this many seconds at the
#: most (the slowest first solves reported): a later token would no longer be worth waiting for.
SUBMITTED_SOLVE_LIMIT = 150.0
#: Seconds between two warnings that the service could not be polled.
POLL_WARNING_INTERVAL = 60.0


class _Unreachable(Exception):
    """The service did not answer a poll (network, HTTP status, or the request's time ran out)."""


def _recaptcha_params(site_key: str, page_url: str) -> dict[str, Any]:
    # What the client's own ``recaptcha()`` sends for a reCAPTCHA v2 checkbox.
    return {
        "googlekey": site_key,
        "url": page_url,
        "method": "userrecaptcha",
        "version": "v2",
        "enterprise": 0,
    }


class TwoCaptchaSolver(CaptchaSolver):
    """Solves reCAPTCHA v2 through 2Captcha's API with the official ``2captcha-python`` client.

    Options: ``api_key`` (required), ``server`` (``"2captcha.com"``; ``"rucaptcha.com"`` for
    accounts registered there), ``timeout`` (seconds to wait for a solve, 180) and
    ``polling_interval`` (seconds between polls of a blocking solve, 5). A blocking solve gives up
    after ``timeout`` seconds, or sooner when its lookup has less time left
    (``solve(..., timeout=)``), and so does every request it makes.

    A solve started with :meth:`submit` is polled by its caller (:meth:`poll` asks once and never
    sleeps), so one thread keeps any number in flight; it is given up, and forgotten, after
    ``timeout`` or :data:`SUBMITTED_SOLVE_LIMIT` seconds, whichever is shorter.
    """

    supports_reports = True
    supports_submit = True
    #: 2Captcha's price for reCAPTCHA v2, about 3 USD per 1,000 solves.
    default_price_per_1000 = 3.0

    def __init__(
        self,
        *,
        api_key: str,
        server: str = "2captcha.com",
        timeout: float = 180,
        polling_interval: float = 5,
        **options: Any,
    ) -> None:
        if not api_key:
            raise ValueError("TwoCaptchaSolver needs an api_key")
        # The key is kept out of self.options, which is shown in reprs and debug output.
        super().__init__(**options)
        self.keep_options(server=server, timeout=timeout, polling_interval=polling_interval)
        self._api_key = api_key
        # The client polls res.php?key=<key>: urllib3 logs that URL at DEBUG.
        privacy.register_secret(api_key)
        self.server = server
        self.timeout = timeout
        self.polling_interval = polling_interval
        #: Seconds after which a submitted solve is given up.
        self.submitted_limit = min(float(timeout), SUBMITTED_SOLVE_LIMIT)
        self._lock = threading.Lock()
        # id -> time.monotonic() of its submit, for the solves in flight.
        self._submitted: dict[str, float] = {}
        self._last_poll_warning = float("-inf")

    def __repr__(self) -> str:
        return f"<TwoCaptchaSolver server={self.server!r} api_key=***>"

    # -- a blocking solve
    def solve(self, site_key: str, page_url: str, *, timeout: float | None = None) -> str:
        return self.solve_token(site_key, page_url, timeout=timeout).value

    def solve_token(self, site_key: str, page_url: str, *, timeout: float | None = None) -> SolvedToken:
        """A blocking solve; ``ref`` is 2Captcha's id of it, for :meth:`report`."""
        limit = self.timeout if timeout is None else min(self.timeout, timeout)
        if limit <= 0:
            raise CaptchaError("no time left for a 2Captcha solve")
        started = time.monotonic()
        deadline = started + limit
        client = self._client(deadline, limit=limit)
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
        ref = answer.get("captchaId") or ""
        return SolvedToken(value=str(token), ref=str(ref), seconds=time.monotonic() - started)

    # -- many solves in flight
    def submit(self, site_key: str, page_url: str) -> str:
        """Send one solve (``in.php``) and return 2Captcha's id of it at once."""
        if self.submitted_limit <= 0:
            raise CaptchaError("no time left for a 2Captcha solve")
        now = time.monotonic()
        client = self._client(now + QUICK_REQUEST_TIMEOUT)
        try:
            ref = str(client.send(**_recaptcha_params(site_key, page_url)))
        except Exception as exc:
            raise CaptchaError(
                f"2Captcha did not take the solve: {type(exc).__name__}: {self._scrub(str(exc))}"
            ) from None
        with self._lock:
            # What was never polled to its end is forgotten here, so that the state does not grow.
            cutoff = now - self.submitted_limit
            self._submitted = {id_: at for id_, at in self._submitted.items() if at > cutoff}
            self._submitted[ref] = now
        return ref

    def poll(self, ref: str) -> SolvedToken | None:
        """Ask once (``res.php?action=get``) for the token of solve ``ref``; never sleeps.

        ``None`` while 2Captcha works on it; :class:`~django_cedula.exceptions.CaptchaUnreachable`
        when the service did not answer this time (the solve is kept);
        :class:`~django_cedula.exceptions.CaptchaError` when the solve failed, was given up after
        :attr:`submitted_limit` seconds, or is not one this solver submitted."""
        now = time.monotonic()
        with self._lock:
            started = self._submitted.get(ref)
        if started is None:
            raise CaptchaError(f"2Captcha solve {ref} is not in flight (never submitted here, or given up)")
        if now - started >= self.submitted_limit:
            self._forget(ref)
            raise CaptchaError(f"2Captcha did not solve it within {self.submitted_limit:g} s")
        client = self._client(min(started + self.submitted_limit, now + QUICK_REQUEST_TIMEOUT))
        try:
            value = client.result_or_none(ref)
        except _Unreachable as exc:
            self._warn_poll(ref, exc)
            raise CaptchaUnreachable(f"2Captcha did not answer the poll of solve {ref}") from None
        except Exception as exc:
            self._forget(ref)
            raise CaptchaError(
                f"2Captcha did not solve it: {type(exc).__name__}: {self._scrub(str(exc))}"
            ) from None
        if value is None:
            return None
        self._forget(ref)
        if not value:
            raise CaptchaError("2Captcha answered without a token")
        return SolvedToken(value=str(value), ref=ref, seconds=time.monotonic() - started)

    def solves_in_flight(self) -> int:
        """How many submitted solves the solver remembers (not yet delivered, failed or given up)."""
        with self._lock:
            return len(self._submitted)

    # -- reports
    def report(self, ref: str, *, accepted: bool) -> None:
        """``reportgood`` for a token the site accepted, ``reportbad`` (refunded) for one it refused.

        A failure is logged (one line, without the key) and never raised."""
        if not ref:
            return
        verdict = "good" if accepted else "bad"
        try:
            answer = self._client(time.monotonic() + QUICK_REQUEST_TIMEOUT).report(ref, accepted)
        except Exception as exc:
            logger.warning(
                "2Captcha did not take the report on solve %s (%s): %s: %s",
                ref,
                verdict,
                type(exc).__name__,
                self._scrub(str(exc)),
            )
            return
        if str(answer).strip() != "OK_REPORT_RECORDED":
            logger.warning(
                "2Captcha answered the report on solve %s (%s) with %s",
                ref,
                verdict,
                self._scrub(str(answer)),
            )

    # -- helpers
    def _client(self, deadline: float, *, limit: float | None = None) -> Any:
        try:
            client_class = _bounded_client_class()
        except ImportError as exc:
            raise CaptchaError(
                "the 2captcha-python package is missing: pip install django-cedula[2captcha]"
            ) from exc
        return client_class(
            self._api_key,
            server=self.server,
            recaptchaTimeout=self.timeout if limit is None else limit,
            pollingInterval=self.polling_interval,
            deadline=deadline,
        )

    def _forget(self, ref: str) -> None:
        with self._lock:
            self._submitted.pop(ref, None)

    def _warn_poll(self, ref: str, exc: BaseException) -> None:
        # One line a minute at the most: a service that is down must not flood the log.
        with self._lock:
            now = time.monotonic()
            if now - self._last_poll_warning < POLL_WARNING_INTERVAL:
                return
            self._last_poll_warning = now
        logger.warning("2Captcha could not be polled for solve %s: %s", ref, self._scrub(str(exc)))

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

        def result_or_none(self, id_: str) -> str | None:
            """One ``get_result``: the token, ``None`` if not ready; :class:`_Unreachable` when the
            service did not answer."""
            try:
                return str(self.get_result(id_))
            except NetworkException:  # "not ready yet"
                return None
            except (ApiNetworkException, TimeoutException) as exc:
                raise _Unreachable(str(exc)) from None

    return BoundedTwoCaptcha
