"""Exceptions of the browser runtime."""

from __future__ import annotations

from ..exceptions import CedulaError


class BrowserError(CedulaError):
    """Base class of the errors the browser runtime raises on purpose."""


class BrowserUnavailable(BrowserError):
    """No usable Chromium: none found, or the configured executable is missing. A setup problem."""


class BrowserLaunchError(BrowserError):
    """Chromium was found but could not be started or connected to. May be transient."""


class BrowserCrashed(BrowserError):
    """The browser died or disconnected during a call. The next call starts a new one."""


class BrowserTimeout(BrowserError, TimeoutError):
    """A call into the runtime took longer than its timeout and was cancelled."""
