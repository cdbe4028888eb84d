"""What the runtime launches and how: :class:`BrowserOptions`, and the Chromium command line."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from playwright.async_api import ProxySettings

from ..privacy import REDACTED, redact_urls
from ..proxies import ProxyError, parse_proxy_value
from .errors import BrowserError

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


@dataclasses.dataclass(frozen=True)
class BrowserOptions:
    """Everything the runtime needs to know; build one with :meth:`from_settings` or by hand.

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
    def from_settings(cls, **overrides: Any) -> BrowserOptions:
        """The options the ``CEDULA_BROWSER_*`` settings (and the timeouts) describe."""
        from ..conf import app_settings

        values: dict[str, Any] = {
            "executable": app_settings.BROWSER_EXECUTABLE,
            "headless": app_settings.BROWSER_HEADLESS,
            "args": tuple(app_settings.BROWSER_ARGS),
            "proxy": parse_proxy(app_settings.BROWSER_PROXY),
            "user_agent": app_settings.BROWSER_USER_AGENT,
            "endpoint": app_settings.BROWSER_ENDPOINT,
            "idle_timeout": app_settings.BROWSER_IDLE_TIMEOUT,
            "page_timeout": app_settings.PAGE_TIMEOUT,
            "lookup_timeout": app_settings.LOOKUP_TIMEOUT,
        }
        values.update(overrides)
        return cls(**values)

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
    """Playwright's proxy settings from ``CEDULA_BROWSER_PROXY``.

    A string is a proxy URL, credentials included (``http://user:secret@host:3128``,
    ``socks5://host:1080``); a mapping has Playwright's ``server``, ``bypass``, ``username`` and
    ``password`` keys. Read by :func:`django_cedula.proxies.parse_proxy_value`, as the HTTP
    scrapers and ``manage.py check`` read it.
    """
    try:
        proxy = parse_proxy_value(value)
    except ProxyError as exc:
        raise BrowserError(f"CEDULA_BROWSER_PROXY {exc}") from None
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
