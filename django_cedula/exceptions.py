"""Exceptions of the package. This module imports nothing from the package."""

from __future__ import annotations


class CedulaError(Exception):
    """Base class of every error the package raises on purpose."""


class InvalidCedulaError(CedulaError, ValueError):
    """A value is not a well-formed cédula number. Raised before any network traffic."""


class CaptchaError(CedulaError):
    """A captcha could not be solved (no solver configured, solver failure, or rejected)."""


class CaptchaUnreachable(CaptchaError):
    """The solving service did not answer a poll this time: the solve may be running or ready, and
    is asked again later (its token, if ready, is no younger for the wait)."""


class EnqueueError(CedulaError):
    """A task backend could not queue a validation job."""


class ConfigurationError(CedulaError):
    """A setting names a class that cannot be built as configured (unknown or missing option).

    Not transient: a job that meets it ends its row as ERROR with ``error_code`` ``config_error``
    instead of retrying. ``hint`` says what to change; neither text carries a secret.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint
