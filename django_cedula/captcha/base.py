"""The captcha solver interface and its loader."""

from __future__ import annotations

import abc
import dataclasses
import time
from typing import Any, ClassVar

from ..conf import Configurable, ConfiguredPart, build_part, part_setting
from ..exceptions import CaptchaError, ConfigurationError

#: The longest token sent to a source, in characters. A reCAPTCHA v2 response is some 500 to 2,500;
#: what a broken or hostile solver sends beyond this is refused, never posted.
MAX_TOKEN_LENGTH = 8 * 1024


def checked_token(value: object) -> str:
    """``value`` if it can be a reCAPTCHA token (text, not empty, at most :data:`MAX_TOKEN_LENGTH`
    characters); otherwise :class:`~django_cedula.exceptions.CaptchaError`, which the lookup reads
    as ``captcha_failed``. The error gives the value's type or length, never the value."""
    if not isinstance(value, str):
        raise CaptchaError(f"the solver's token is a {type(value).__name__}, not text: refused")
    if not value:
        raise CaptchaError("the solver's token is empty: refused")
    if len(value) > MAX_TOKEN_LENGTH:
        # Sized in KiB or MiB: a long figure would read as a cédula and be masked in the message.
        size = f"{len(value) / 1024:.0f} KiB" if len(value) < 2**20 else f"{len(value) / 2**20:.0f} MiB"
        raise CaptchaError(
            f"the solver's token is {size} long, more than {MAX_TOKEN_LENGTH // 1024} KiB: refused"
        )
    return value


class CaptchaSolver(Configurable, abc.ABC):
    """Turns a reCAPTCHA v2 challenge into a response token.

    Subclasses take their options as keyword arguments (``CEDULA_CAPTCHA_SOLVER["OPTIONS"]``),
    declared and validated in their ``__init__``; an option none declares is refused, at run time
    and by ``manage.py check`` (``django_cedula.E012``). Every solver takes ``price_per_1000``:
    what 1,000 solves cost, in the currency the site counts in (:attr:`default_price_per_1000`
    when not given), for ``cedula_stats`` and the admin's estimates.
    ``solve`` is called from a plain thread, never from an event loop; it may block for
    as long as the solve takes and raises :class:`~django_cedula.exceptions.CaptchaError`
    when it cannot produce a token.

    Optional abilities, declared on the class as Django's tasks backends do:

    * ``supports_reports``: :meth:`report` tells the service whether the site accepted a token
      (2Captcha refunds refused ones);
    * ``supports_submit``: :meth:`submit` and :meth:`poll` keep many solves in flight without a
      thread each; the token supply uses them when present.
    """

    #: Whether :meth:`report` reaches the service (otherwise it does nothing).
    supports_reports: ClassVar[bool] = False
    #: Whether :meth:`submit` / :meth:`poll` are implemented.
    supports_submit: ClassVar[bool] = False
    #: Seconds between two :meth:`poll` calls for the same solve (the service's own advice).
    poll_interval: ClassVar[float] = 5.0
    #: What 1,000 solves cost when ``price_per_1000`` is not given.
    default_price_per_1000: ClassVar[float] = 0.0

    def __init__(self, *, price_per_1000: float | None = None, **options: Any) -> None:
        super().__init__(**options)
        price = self.default_price_per_1000 if price_per_1000 is None else price_per_1000
        if isinstance(price, bool) or not isinstance(price, (int, float)) or not 0 <= price < float("inf"):
            raise ConfigurationError(
                "price_per_1000 must be a number of 0 or more", "Give what 1,000 solves cost, e.g. 3.0."
            )
        #: What 1,000 solves cost.
        self.price_per_1000 = float(price)

    @abc.abstractmethod
    def solve(self, site_key: str, page_url: str, *, timeout: float | None = None) -> str:
        """Return a token for the reCAPTCHA with ``site_key`` on ``page_url``.

        ``timeout`` is the time left for the lookup that asked, in seconds (``None``: no limit
        known): a solve that would finish later is of no use, so give up by then and raise
        :class:`~django_cedula.exceptions.CaptchaError`.
        """

    def solve_token(self, site_key: str, page_url: str, *, timeout: float | None = None) -> SolvedToken:
        """:meth:`solve`, with what a report needs: the service's id of the solve, and its duration.

        Solvers whose service names its solves override this (the default has no ``ref``)."""
        started = time.monotonic()
        value = self.solve(site_key, page_url, timeout=timeout)
        return SolvedToken(value=value, seconds=time.monotonic() - started)

    def report(self, ref: str, *, accepted: bool) -> None:
        """Tell the service whether the site accepted the token of solve ``ref`` (optional).

        Called from a plain thread once the site has answered. Must not raise for a service
        error: log it instead (a report is worth a refund, never a failed lookup)."""

    def submit(self, site_key: str, page_url: str) -> str:
        """Start a solve and return its ``ref`` at once (with ``supports_submit``)."""
        raise NotImplementedError(f"{type(self).__name__} cannot submit solves")

    def poll(self, ref: str) -> SolvedToken | None:
        """The token of solve ``ref`` if it is ready, ``None`` if the service says not yet (with
        ``supports_submit``); raises :class:`~django_cedula.exceptions.CaptchaUnreachable` when the
        service did not answer (the solve is kept and asked again: the token supply counts a
        token's age from the last "not yet", so an unanswered poll must not pass for one), and
        :class:`~django_cedula.exceptions.CaptchaError` when the solve failed."""
        raise NotImplementedError(f"{type(self).__name__} cannot poll solves")


@dataclasses.dataclass(frozen=True)
class SolvedToken:
    """A solved reCAPTCHA response token."""

    value: str
    #: The service's id of the solve, for :meth:`CaptchaSolver.report`; ``""`` when it has none.
    ref: str = ""
    #: How long the solve took, in seconds.
    seconds: float = 0.0

    def __repr__(self) -> str:
        # A live token is a credential for one submission: never in a repr or a log line.
        return f"SolvedToken(ref={self.ref!r}, seconds={self.seconds:.1f}, value=<{len(self.value)} chars>)"


def build_captcha_solver() -> CaptchaSolver | None:
    """The solver ``CEDULA_CAPTCHA_SOLVER`` describes; ``None`` when unset."""
    config = part_setting("CAPTCHA_SOLVER")
    if config is None:
        return None
    return build_part(config, CaptchaSolver, "CEDULA_CAPTCHA_SOLVER")  # type: ignore[type-abstract]


_solver: ConfiguredPart[CaptchaSolver | None] = ConfiguredPart("CEDULA_CAPTCHA_SOLVER", build_captcha_solver)


def get_captcha_solver() -> CaptchaSolver | None:
    """The configured solver (``CEDULA_CAPTCHA_SOLVER``), created once; ``None`` when unset."""
    if part_setting("CAPTCHA_SOLVER") is None:
        return None
    return _solver.get()


def price_per_1000() -> float:
    """What 1,000 solves of the configured solver cost (0 when none is configured or it cannot be
    built: ``manage.py check`` reports that)."""
    try:
        solver = get_captcha_solver()
    except Exception:
        return 0.0
    return 0.0 if solver is None else solver.price_per_1000
