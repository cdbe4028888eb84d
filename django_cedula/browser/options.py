"""What the runtime launches and how: :class:`BrowserOptions`, the Chromium command line, which
Chromium to launch, and the errors the runtime raises."""

from __future__ import annotations

import dataclasses
import os
import shutil
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from playwright.async_api import ProxySettings

from ..exceptions import CedulaError
from ..privacy import REDACTED, redact_urls
from ..proxies import ProxyError, parse_proxy_value

# -- errors -------------------------------------------------------------------------------------------


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


# -- options --------------------------------------------------------------------------------------

#: Always passed to a launched Chromium. Without them Chromium keeps trying to reach Google's
#: services, which on closed networks fails loudly and wastes time at every start.
BASE_ARGS: tuple[str, ...] = (
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

DEFAULT_LOCALE = "es-CO"
DEFAULT_TIMEZONE = "America/Bogota"


def _optional_text(value: object) -> bool:
    return value is None or (isinstance(value, str) and bool(value))


def _seconds_or_none(value: object) -> bool:
    if value is None:
        return True
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < float("inf")


#: The keys of a browser source's ``browser`` option, with what each takes.
_SOURCE_RULES: dict[str, tuple[Any, str]] = {
    "executable": (_optional_text, "a path to Chromium, or None"),
    "headless": (lambda value: isinstance(value, bool), "True or False"),
    "args": (
        lambda value: isinstance(value, (list, tuple)) and all(isinstance(arg, str) for arg in value),
        "a list of command-line flags",
    ),
    "endpoint": (
        lambda value: (
            value is None
            or (isinstance(value, str) and value.startswith(("ws://", "wss://", "http://", "https://")))
        ),
        "a ws:// or http:// endpoint URL, or None",
    ),
    "endpoint_headers": (
        lambda value: (
            value is None
            or (
                isinstance(value, Mapping)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
            )
        ),
        "a dict of header names to values",
    ),
    "idle_timeout": (_seconds_or_none, "seconds (0 or more), or None to keep the browser"),
}
SOURCE_KEYS = tuple(_SOURCE_RULES)


@dataclasses.dataclass(frozen=True)
class BrowserOptions:
    """Everything the runtime needs to know; build one with :meth:`from_options` or by hand.

    Times are in seconds. ``idle_timeout`` of ``None`` or ``0`` keeps the browser until
    :meth:`~django_cedula.browser.BrowserRuntime.close`. ``endpoint`` switches from launching
    Chromium to connecting to one (see :mod:`django_cedula.browser`).
    """

    executable: str | None = None
    headless: bool = True
    args: tuple[str, ...] = ()
    proxy: ProxySettings | None = None
    user_agent: str | None = None
    endpoint: str | None = None
    #: Sent with the connection request in endpoint mode (an auth token, say).
    endpoint_headers: Mapping[str, str] | None = None
    idle_timeout: float | None = 300.0
    #: Default timeout of every Playwright action and navigation in a context.
    page_timeout: float = 30.0
    #: Default limit of one :meth:`~django_cedula.browser.BrowserRuntime.run` call.
    lookup_timeout: float = 120.0
    #: Budget for starting Playwright and launching or connecting to the browser.
    launch_timeout: float = 30.0
    locale: str = DEFAULT_LOCALE
    timezone_id: str | None = DEFAULT_TIMEZONE
    #: Keep one fresh context and page ready for the next :meth:`page` call.
    prewarm: bool = True
    #: Keep one page across lookups and scrub its state between them, instead of a new context each
    #: time (same clean state, a fraction of the cost). Pages are replaced after ``recycle_after`` uses.
    reuse_pages: bool = True
    recycle_after: int = 200

    def __repr__(self) -> str:
        # Options end up in logs and error pages: the proxy's credentials, the endpoint's token
        # and the endpoint headers' values (an auth token, say) are not shown.
        shown: list[str] = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "proxy" and value:
                value = {
                    key: redact_urls(str(item)) if key in ("server", "bypass") else REDACTED
                    for key, item in value.items()
                }
            elif field.name == "endpoint_headers" and value:
                value = dict.fromkeys(value, REDACTED)
            elif field.name == "endpoint" and value:
                value = redact_urls(value)
            elif field.name == "args":
                value = tuple(redact_urls(arg) for arg in value)
            shown.append(f"{field.name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    @classmethod
    def defaults(cls, **overrides: Any) -> BrowserOptions:
        """The defaults, with the lookup's time limit of ``CEDULA_LOOKUP_TIMEOUT``."""
        from ..conf import app_settings

        return cls(**{"lookup_timeout": app_settings.LOOKUP_TIMEOUT, **overrides})

    @classmethod
    def from_options(
        cls,
        browser: Mapping[str, Any] | None = None,
        *,
        proxy: str | Mapping[str, str] | None = None,
        user_agent: str | None = None,
        page_timeout: float = 30.0,
    ) -> BrowserOptions:
        """The options of a browser source: its ``browser`` option (:data:`SOURCE_KEYS`) and the
        source's ``proxy``, ``user_agent`` and ``page_timeout``. A wrong value raises
        :class:`~django_cedula.exceptions.ConfigurationError` naming the key, never its value."""
        from ..exceptions import ConfigurationError

        given = dict(browser or {})
        unknown = sorted(str(key) for key in given if key not in SOURCE_KEYS)
        if unknown:
            raise ConfigurationError(
                f"browser has unknown keys {unknown}", f"It takes {', '.join(SOURCE_KEYS)}."
            )
        for key, (accepts, words) in _SOURCE_RULES.items():
            if key in given and not accepts(given[key]):
                raise ConfigurationError(
                    f'browser["{key}"] must be {words}', f"It takes {', '.join(SOURCE_KEYS)}."
                )
        try:
            parsed_proxy = parse_proxy(proxy)
        except BrowserError as exc:
            raise ConfigurationError(str(exc), "See the proxy option in docs/settings.rst.") from None
        values: dict[str, Any] = {
            "proxy": parsed_proxy,
            "user_agent": user_agent,
            "page_timeout": float(page_timeout),
            **{
                key: given[key]
                for key in ("executable", "headless", "endpoint", "idle_timeout")
                if key in given
            },
        }
        if "args" in given:
            values["args"] = tuple(given["args"])
        if given.get("endpoint_headers"):
            values["endpoint_headers"] = dict(given["endpoint_headers"])
        return cls.defaults(**values)

    def launch_args(self) -> list[str]:
        """Chromium's extra command line: the base flags, ``--no-sandbox`` as root, then ``args``."""
        args = list(BASE_ARGS)
        # Chromium refuses to start its sandbox as root.
        if running_as_root():
            args.append("--no-sandbox")
        for arg in self.args:
            if arg not in args:
                args.append(arg)
        return args

    @property
    def sandbox(self) -> bool:
        """Whether to ask Playwright for Chromium's sandbox: yes, unless root or told ``--no-sandbox``."""
        return not running_as_root() and "--no-sandbox" not in self.args

    def context_options(self) -> dict[str, Any]:
        """Keyword arguments of ``Browser.new_context`` for one lookup."""
        options: dict[str, Any] = {"locale": self.locale}
        if self.timezone_id:
            options["timezone_id"] = self.timezone_id
        if self.user_agent:
            options["user_agent"] = self.user_agent
        if self.proxy:
            options["proxy"] = self.proxy
        return options


def running_as_root() -> bool:
    """Whether this process runs as root (where Chromium needs ``--no-sandbox``)."""
    geteuid = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0


def parse_proxy(value: str | Mapping[str, str] | None) -> ProxySettings | None:
    """Playwright's proxy settings from a source's ``proxy`` option.

    A string is a proxy URL, credentials included (``http://user:secret@host:3128``,
    ``socks5://host:1080``); a mapping has Playwright's ``server``, ``bypass``, ``username`` and
    ``password`` keys. Read by :func:`django_cedula.proxies.parse_proxy_value`, as the HTTP
    scrapers and ``manage.py check`` read it.
    """
    try:
        proxy = parse_proxy_value(value)
    except ProxyError as exc:
        raise BrowserError(f"the proxy {exc}") from None
    if proxy is None:
        return None
    server = proxy.server
    if server.startswith("socks5h://"):  # Chromium's socks5 resolves names at the proxy already
        server = "socks5://" + server.removeprefix("socks5h://")
    settings = ProxySettings(server=server)
    if proxy.bypass:
        settings["bypass"] = proxy.bypass
    if proxy.username:
        settings["username"] = proxy.username
    if proxy.password:
        settings["password"] = proxy.password
    return settings


# -- which Chromium -------------------------------------------------------------------------------

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
    'or set the path of a Chromium or Chrome binary as the source\'s browser["executable"].'
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

    In order: ``configured`` (a browser source's ``browser["executable"]``; a path, or a bare name looked up
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
            raise BrowserUnavailable(f'browser["executable"] = {configured!r} does not exist. {INSTALL_HINT}')
        if not _is_executable(path):
            raise BrowserUnavailable(
                f'browser["executable"] = {configured!r} is not an executable file. {INSTALL_HINT}'
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
