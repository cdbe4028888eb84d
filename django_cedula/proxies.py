"""``CEDULA_BROWSER_PROXY`` (or a scraper's ``proxy`` option) read into one form for every client.

The browser hands Playwright the server and the credentials apart; the HTTP client puts the
credentials in the proxy URL curl takes. Both read the value here, and so does ``manage.py check``
(E009), so a value that a client would refuse fails the check rather than the first lookup. Nothing
here imports Playwright or curl_cffi. An error never quotes the password.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from .privacy import redact_urls

#: The keys of a proxy given as a mapping (Playwright's names).
KEYS = frozenset({"server", "bypass", "username", "password"})
#: The schemes both clients speak.
SCHEMES = ("http", "https", "socks5")


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
        if value.get("username"):  # the mapping's credentials over any in its server's URL
            username = str(value["username"])
            password = str(value["password"]) if value.get("password") else None
        return Proxy(
            server=server,
            bypass=str(value["bypass"]) if value.get("bypass") else None,
            username=username,
            password=password,
        )
    if not isinstance(value, str):
        raise ProxyError(f"must be a proxy URL or a mapping, not {type(value).__name__}")
    server, username, password = _server(value)
    return Proxy(server=server, username=username, password=password)


def _server(text: str) -> tuple[str, str | None, str | None]:
    """``scheme://host[:port]`` of a proxy URL, and its username and password (unquoted)."""
    url = urlsplit(text if "://" in text else f"http://{text}")
    # The text may carry the proxy's password: an error quotes it cleaned.
    not_a_url = ProxyError(f"is not a proxy URL: {redact_urls(repr(text))}")
    if not url.hostname:
        raise not_a_url
    try:
        port = url.port
    except ValueError:  # "host:notaport"
        raise not_a_url from None
    if url.scheme not in SCHEMES:
        raise ProxyError(f"must be an {', '.join(SCHEMES[:-1])} or {SCHEMES[-1]} URL, not {url.scheme}://")
    host = url.hostname if ":" not in url.hostname else f"[{url.hostname}]"
    netloc = host if port is None else f"{host}:{port}"
    username = unquote(url.username) if url.username else None
    password = unquote(url.password) if url.password else None
    return urlunsplit((url.scheme, netloc, "", "", "")), username, password
