"""The request headers desktop Chrome sends, for the HTTP-only scrapers (:mod:`.http_scraper`).

A firewall that tells browsers from scripts looks at the TLS handshake and HTTP/2 settings (which
``curl_cffi``'s ``impersonate="chrome"`` reproduces) and at the headers: which ones, their values,
whether they agree with one another, and their order. This module writes the headers for the three
kinds of request a lookup page makes, as Chrome writes them:

* a navigation (the form page typed in or reloaded): ``Sec-Fetch-Mode: navigate``, ``document``;
* a ``fetch()`` from the page: the wsp form's multipart POST (with ``X-Requested-With``, as the
  page's script sends), the consultacenso app's JSON POST and its election list GET;
* Chrome's User-Agent client hints (``sec-ch-ua``, with the "GREASE" brand Chrome derives from its
  major version), agreeing with the User-Agent.

The order is Chrome's for HTTP/1.1 as captured from Chromium 156 (``Host``, ``Connection``,
``Content-Length`` and ``Cookie`` are placed by curl). Browser-free and dependency-free: the
replica's fingerprint fault (:mod:`django_cedula.testing.replica.fingerprint`) uses the same
GREASE rule to judge what it receives.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

#: Chrome's accept header for a document navigation.
NAVIGATION_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
    "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
ACCEPT_ENCODING = "gzip, deflate, br, zstd"
#: A Colombian visitor's Chrome (the browser scrapers' locale is es-CO too).
ACCEPT_LANGUAGE = "es-CO,es;q=0.9"

# https://wicg.github.io/ua-client-hints/#grease, as Chromium implements it
# (components/embedder_support/user_agent_utils.cc): characters, versions and orders picked by the
# major version.
_GREASE_CHARS = (" ", "(", ":", "-", ".", "/", ")", ";", "=", "?", "_")
_GREASE_VERSIONS = ("8", "99", "24")
_ORDERS_OF_3 = ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))
_CHROME_VERSION_RE = re.compile(r"\b(?:Headless)?Chrome/(\d+)\.")


def grease_brand(major: int) -> tuple[str, str]:
    """The made-up brand and version Chrome ``major`` puts in its ``sec-ch-ua`` list."""
    brand = f"Not{_GREASE_CHARS[major % 11]}A{_GREASE_CHARS[(major + 1) % 11]}Brand"
    return brand, _GREASE_VERSIONS[major % 3]


def sec_ch_ua(major: int, brands: Sequence[str] = ("Chromium", "Google Chrome")) -> str:
    """The ``sec-ch-ua`` value of Chrome ``major`` with ``brands`` (one or two), GREASE included, in
    the order Chrome permutes them by its major version."""
    grease, grease_version = grease_brand(major)
    entries = [(grease, grease_version), *((brand, str(major)) for brand in brands)]
    order: tuple[int, ...]
    if len(entries) == 3:
        order = _ORDERS_OF_3[major % 6]
    elif len(entries) == 2:
        order = (0, 1) if major % 2 == 0 else (1, 0)
    else:
        raise ValueError("Chrome lists one or two brands besides the GREASE one")
    slots: list[tuple[str, str]] = [("", "")] * len(entries)
    for entry, slot in zip(entries, order, strict=True):
        slots[slot] = entry
    return ", ".join(f'"{brand}";v="{version}"' for brand, version in slots)


def chrome_major(user_agent: str) -> int | None:
    """The major version a Chrome User-Agent claims (``None``: not a Chrome one)."""
    match = _CHROME_VERSION_RE.search(user_agent)
    return int(match.group(1)) if match else None


def _platform(user_agent: str) -> str:
    if "Windows" in user_agent:
        return "Windows"
    if "Macintosh" in user_agent:
        return "macOS"
    if "Android" in user_agent:
        return "Android"
    if "CrOS" in user_agent:
        return "Chrome OS"
    return "Linux"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclasses.dataclass(frozen=True)
class ChromeHeaders:
    """The headers of one Chrome version, for each kind of request a lookup makes.

    ``major`` is the Chrome version (that of the TLS fingerprint impersonated); ``user_agent``
    replaces the default Windows one (its ``Chrome/NN`` then gives the client hints' version, so
    that they agree).
    """

    major: int
    user_agent: str = ""
    accept_language: str = ACCEPT_LANGUAGE

    def __post_init__(self) -> None:
        if not self.user_agent:
            object.__setattr__(
                self,
                "user_agent",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{self.major}.0.0.0 Safari/537.36",
            )
        else:
            object.__setattr__(self, "major", chrome_major(self.user_agent) or self.major)

    @property
    def hints(self) -> tuple[str, str, str]:
        """``sec-ch-ua``, ``sec-ch-ua-mobile``, ``sec-ch-ua-platform``."""
        mobile = "?1" if "Mobile" in self.user_agent else "?0"
        return sec_ch_ua(self.major), mobile, f'"{_platform(self.user_agent)}"'

    def navigation(self, *, reload: str = "") -> list[tuple[str, str]]:
        """A top-level load of a page: typed in (``reload=""``), reloaded by the user (``"user"``,
        after an error page), or by the page's own script (``"script"``)."""
        ua, mobile, platform = self.hints
        headers = [("Cache-Control", "max-age=0")] if reload else []
        headers += [
            ("sec-ch-ua", ua),
            ("sec-ch-ua-mobile", mobile),
            ("sec-ch-ua-platform", platform),
            ("Upgrade-Insecure-Requests", "1"),
            ("User-Agent", self.user_agent),
            ("Accept", NAVIGATION_ACCEPT),
            ("Sec-Fetch-Site", "same-origin" if reload == "script" else "none"),
            ("Sec-Fetch-Mode", "navigate"),
        ]
        if reload != "script":
            headers.append(("Sec-Fetch-User", "?1"))  # a user's action, not the page's
        headers += [
            ("Sec-Fetch-Dest", "document"),
            ("Accept-Encoding", ACCEPT_ENCODING),
            ("Accept-Language", self.accept_language),
        ]
        return headers

    def fetch(
        self,
        page_url: str,
        *,
        method: str = "GET",
        content_type: str = "",
        accept: str = "*/*",
        requested_with: bool = False,
    ) -> list[tuple[str, str]]:
        """A same-origin ``fetch()`` from the page at ``page_url`` (Chrome sends ``Origin`` on a POST)."""
        ua, mobile, platform = self.hints
        headers = [("sec-ch-ua-platform", platform)]
        if requested_with:
            headers.append(("X-Requested-With", "XMLHttpRequest"))
        headers += [("User-Agent", self.user_agent), ("sec-ch-ua", ua)]
        if content_type:
            headers.append(("Content-Type", content_type))
        headers += [("sec-ch-ua-mobile", mobile), ("Accept", accept)]
        if method != "GET":
            headers.append(("Origin", _origin(page_url)))
        headers += [
            ("Sec-Fetch-Site", "same-origin"),
            ("Sec-Fetch-Mode", "cors"),
            ("Sec-Fetch-Dest", "empty"),
            ("Referer", page_url),
            ("Accept-Encoding", ACCEPT_ENCODING),
            ("Accept-Language", self.accept_language),
        ]
        return headers


def multipart_body(fields: Sequence[tuple[str, str]], boundary: str) -> bytes:
    """A ``FormData`` body as Chrome writes it (``boundary`` from :func:`webkit_boundary`)."""
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode()
        for name, value in fields
    ]
    return b"\r\n".join(parts) + f"\r\n--{boundary}--\r\n".encode()


def webkit_boundary(random_chars: str) -> str:
    """Chrome's multipart boundary: ``----WebKitFormBoundary`` and 16 letters or digits."""
    return f"----WebKitFormBoundary{random_chars[:16]}"
