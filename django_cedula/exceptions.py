"""Exceptions of the package. This module imports nothing from the package."""

from __future__ import annotations


class CedulaError(Exception):
    """Base class of every error the package raises on purpose."""


class InvalidCedulaError(CedulaError, ValueError):
    """A value is not a well-formed cédula number. Raised before any network traffic."""


class CaptchaError(CedulaError):
    """A captcha could not be solved (no solver configured, solver failure, or rejected)."""


class EnqueueError(CedulaError):
    """A task backend could not queue a validation job."""
