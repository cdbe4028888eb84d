"""A source's ``proxy`` option (an entry of ``CEDULA_SOURCES``) read into one form for every client.

The browser hands Playwright the server and the credentials apart; the HTTP client puts the
credentials in the proxy URL curl takes. Both read the value here, and so does ``manage.py check``
(E005: the source refuses it when built), so a value that a client would refuse fails the check
rather than the first lookup. Nothing here imports Playwright or curl_cffi. An error never quotes
the password.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from .privacy import redact_urls

#: The keys of a proxy given as a mapping (Playwright's names).
KEYS = frozenset({"server", "bypass", "username", "password"})
#: The schemes both clients speak (``socks5h``, curl's name for DNS at the proxy, is what Chromium
#: does with ``socks5``: the browser is given ``socks5``).
SCHEMES = ("http", "https", "socks4", "socks5", "socks5h")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


class ProxyError(ValueError):
    """A proxy value neither client could use; the text quotes no password."""


@dataclasses.dataclass(frozen=True)
class Proxy:
    """A proxy: ``server`` is ``scheme://host[:port]`` without credentials."""

    server: str
    bypass: str | None = None
    username: str | None = dataclasses.field(default=None, repr=False)
    password: str | None = dataclasses.field(default=None, repr=False)

    def url(self) -> str:
        """The server's URL with the credentials in it, percent-encoded (curl's form)."""
        if not self.username:
            return self.server
        scheme, netloc = self.server.split("://", 1)
        userinfo = quote(self.username, safe="")
        if self.password:
            userinfo += ":" + quote(self.password, safe="")
        return f"{scheme}://{userinfo}@{netloc}"


def parse_proxy_value(value: object) -> Proxy | None:
    """The :class:`Proxy` a URL (``http://user:secret@host:3128``, ``socks5://host:1080``,
    ``host:3128``) or a mapping of ``server``, ``bypass``, ``username``, ``password`` stands for;
    ``None`` for no proxy. Raises :class:`ProxyError`."""
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        if set(value) - KEYS or not isinstance(value.get("server"), str) or not value["server"]:
            raise ProxyError(
                "must have a 'server' key and only server, bypass, username, password; "
                f"got keys {sorted(map(str, value))}"
            )
        server, username, password = _server(value["server"])
        if value.get("username") or value.get("password"):  # the mapping's over its server URL's
            username = str(value["username"]) if value.get("username") else None
            password = str(value["password"]) if value.get("password") else None
        proxy = Proxy(
            server=server,
            bypass=str(value["bypass"]) if value.get("bypass") else None,
            username=username,
            password=password,
        )
    elif isinstance(value, str):
        server, username, password = _server(value)
        proxy = Proxy(server=server, username=username, password=password)
    else:
        raise ProxyError(f"must be a proxy URL or a mapping, not {type(value).__name__}")
    if proxy.password and not proxy.username:
        # Neither client can send a password alone; dropping it would connect unauthenticated.
        raise ProxyError("has a password but no username")
    return proxy


def describe(text: str) -> str:
    """``text`` as a message may quote it: all before its last "@" (where a username and password
    go, maybe with a "/" or "#" that a URL parser takes for the end of the host) shown as ***."""
    head, at, host = text.rpartition("@")
    if not at:
        return redact_urls(repr(text))
    scheme, sep, _ = head.partition("://")
    prefix = f"{scheme}://" if sep and _SCHEME.fullmatch(scheme) else ""
    return repr(f"{prefix}***@{host}")


def _server(text: str) -> tuple[str, str | None, str | None]:
    """``scheme://host[:port]`` of a proxy URL, and its username and password (unquoted)."""
    not_a_url = ProxyError(
        f"is not a proxy URL: {describe(text)} (percent-encode / # ? @ : [ ] in a username or "
        "password, e.g. %2F for /)"
    )
    userinfo = text.rpartition("@")[0]
    if "[" in userinfo or "]" in userinfo:
        # Python before 3.11.4 reads "user:pa[ss]@host" as a password, later ones refuse it as
        # an IPv6 address: refused here on every Python, alike.
        raise not_a_url
    try:
        url = urlsplit(text if "://" in text else f"http://{text}")
        hostname, port = url.hostname, url.port  # .port raises for "host:notaport"
        # strict: a %-escape that is not UTF-8 would otherwise become U+FFFD, a wrong password.
        username = unquote(url.username, errors="strict") if url.username else None
        password = unquote(url.password, errors="strict") if url.password else None
    except ValueError:  # also "[" in a password (taken for an IPv6 host), bad UTF-8 escapes
        raise not_a_url from None
    # A proxy URL has no path, query or fragment: one means a "/", "?" or "#" of the password
    # ended the host early (http://user:12/34@proxy would otherwise be host "user", port 12).
    if not hostname or url.path not in ("", "/") or url.query or url.fragment:
        raise not_a_url
    if url.scheme not in SCHEMES:
        raise ProxyError(f"must be an {', '.join(SCHEMES[:-1])} or {SCHEMES[-1]} URL, not {url.scheme}://")
    host = hostname if ":" not in hostname else f"[{hostname}]"
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((url.scheme, netloc, "", "", "")), username, password
