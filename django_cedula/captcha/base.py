"""The captcha solver interface and its loader."""

from __future__ import annotations

import abc

from ..conf import app_settings
from ..loading import Configurable, ConfiguredInstance


class CaptchaSolver(Configurable, abc.ABC):
    """Turns a reCAPTCHA v2 challenge into a response token.

    Subclasses take their options as keyword arguments (``CEDULA_CAPTCHA_SOLVER_OPTIONS``),
    declared in their ``__init__``; an option none declares is refused, at run time and by
    ``manage.py check`` (``django_cedula.E012``).
    ``solve`` is called from a plain thread, never from an event loop; it may block for
    as long as the solve takes and raises :class:`~django_cedula.exceptions.CaptchaError`
    when it cannot produce a token.
    """

    @abc.abstractmethod
    def solve(self, site_key: str, page_url: str, *, timeout: float | None = None) -> str:
        """Return a token for the reCAPTCHA with ``site_key`` on ``page_url``.

        ``timeout`` is the time left for the lookup that asked, in seconds (``None``: no limit
        known): a solve that would finish later is of no use, so give up by then and raise
        :class:`~django_cedula.exceptions.CaptchaError`.
        """


_solver = ConfiguredInstance("CAPTCHA_SOLVER", "CAPTCHA_SOLVER_OPTIONS", CaptchaSolver)  # type: ignore[type-abstract]


def get_captcha_solver() -> CaptchaSolver | None:
    """The configured solver (``CEDULA_CAPTCHA_SOLVER``), created once; ``None`` when unset."""
    if app_settings.CAPTCHA_SOLVER is None:
        return None
    return _solver.get()
