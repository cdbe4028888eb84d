"""Which Chromium to launch: the configured one, Playwright's own, or the system's."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from .errors import BrowserUnavailable

#: Names looked up on ``PATH``, in order.
SYSTEM_BROWSER_NAMES: tuple[str, ...] = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
)
#: Tried when nothing is on ``PATH`` (services often run with a minimal one).
SYSTEM_BROWSER_PATHS: tuple[str, ...] = (
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
)

INSTALL_HINT = (
    "Install Chromium (Debian/Ubuntu: `apt-get install chromium`; or `playwright install chromium`), "
    "or set CEDULA_BROWSER_EXECUTABLE to the path of a Chromium or Chrome binary."
)


def playwright_chromium_path() -> str | None:
    """Where Playwright's own Chromium would be (installed or not), or None if Playwright cannot say.

    Starts Playwright's driver briefly (about half a second), in a helper thread so that it
    also works from a thread that runs an event loop. The runtime does not use this: it asks
    the driver it already has.
    """
    found: list[str] = []

    def ask() -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                found.append(playwright.chromium.executable_path)
        except Exception:
            return

    thread = threading.Thread(target=ask, name="django-cedula-playwright-probe", daemon=True)
    thread.start()
    thread.join(60)
    return found[0] if found else None


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _headless_shell_beside(executable: Path) -> Path | None:
    """Playwright's headless shell of the same revision as its Chromium at ``executable``, if installed."""
    for parent in executable.parents:
        if parent.name.startswith("chromium-"):
            revision = parent.name.partition("-")[2]
            shell_dir = parent.parent / f"chromium_headless_shell-{revision}"
            for candidate in sorted(shell_dir.glob("*/chrome-headless-shell*")):
                if _is_executable(str(candidate)):
                    return candidate
            return None
    return None


def _bundled_choice(executable: str | None, headless: bool) -> tuple[bool, str | None]:
    """Whether Playwright's own Chromium is usable, and the path to force (None: Playwright's default).

    For headless runs Playwright launches its "headless shell", a separate download; when
    only the full Chromium is installed, naming it explicitly still works.
    """
    if not executable:
        return False, None
    full = Path(executable)
    full_ok = _is_executable(str(full))
    if not headless:
        return full_ok, None
    if _headless_shell_beside(full) is not None:
        return True, None
    return full_ok, str(full) if full_ok else None


def find_browser_executable(
    configured: str | None,
    *,
    headless: bool = True,
    bundled: Callable[[], str | None] | None = playwright_chromium_path,
) -> str | None:
    """The Chromium to launch: a path, or None for "Playwright's own bundled Chromium".

    In order: ``configured`` (``CEDULA_BROWSER_EXECUTABLE``; a path, or a bare name looked up
    on ``PATH``) wins and must exist and be executable; then Playwright's own Chromium if it
    is installed (``bundled`` tells where Playwright expects it; pass None to skip this
    step); then a system Chromium or Chrome on ``PATH``; then the usual absolute paths
    (``/usr/bin/chromium`` on Debian).

    Raises :class:`BrowserUnavailable` with installation advice when nothing is found.
    """
    if configured:
        path = os.path.expanduser(configured)
        if os.sep not in path:
            path = shutil.which(path) or path
        if not os.path.exists(path):
            raise BrowserUnavailable(
                f"CEDULA_BROWSER_EXECUTABLE = {configured!r} does not exist. {INSTALL_HINT}"
            )
        if not _is_executable(path):
            raise BrowserUnavailable(
                f"CEDULA_BROWSER_EXECUTABLE = {configured!r} is not an executable file. {INSTALL_HINT}"
            )
        return os.path.abspath(path)

    if bundled is not None:
        usable, forced = _bundled_choice(bundled(), headless)
        if usable:
            return forced

    for name in SYSTEM_BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    for path in SYSTEM_BROWSER_PATHS:
        if _is_executable(path):
            return path
    raise BrowserUnavailable(f"No Chromium found. {INSTALL_HINT}")
