"""The judge of the ``fingerprint`` fault: does a request look as if Chrome sent it?

Another Registraduría page refused plain Python clients with HTTP 403 while a browser's ``fetch()``
worked, and the wsp page sits behind a FortiWeb firewall that can tell clients apart. With the
fault on, the replica answers the firewall's block page with HTTP 403 to every page GET, lookup and
election list whose request does not have a browser's shape.

What the judge can see, and so what it checks, is honest about its limits: the replica serves plain
HTTP/1.x, so it never sees a TLS ClientHello (JA3/JA4) nor HTTP/2 settings, which real firewalls
weigh most and which ``curl_cffi``'s ``impersonate="chrome"`` exists to reproduce. It judges the
request's headers, as a firewall can also do:

1. a ``User-Agent`` of Chrome (``Chrome/NN`` or ``HeadlessChrome/NN``), not a library's;
2. Chrome's client hints (``sec-ch-ua``, ``sec-ch-ua-mobile``, ``sec-ch-ua-platform``), with a
   brand at the User-Agent's version and the "GREASE" brand Chrome derives from that version (a
   hand-written list rarely gets it right);
3. ``Sec-Fetch-Site``, ``-Mode`` and ``-Dest`` that fit the request: ``navigate``/``document`` for a
   page, ``cors``/``empty`` for the page's own ``fetch()``; a POST carries the page's ``Origin``;
4. ``Accept``, ``Accept-Language`` and an ``Accept-Encoding`` offering ``gzip`` and ``br``;
5. Chrome's order: every client hint before the ``Sec-Fetch-*`` headers, those in the order
   site, mode, dest, then ``Accept-Encoding``;
6. nothing a browser never sends: ``Connection: close``, an ``Upgrade: h2c`` request.

Headless Chromium (the browser scrapers), and ``curl_cffi`` with the HTTP scrapers' headers
(:mod:`django_cedula.scrapers.http`) pass; ``urllib``, ``requests`` and curl with their own
headers do not. The positions of ``Host`` and ``Connection`` are not judged: over HTTP/1.1 curl
writes them after the other headers, where Chrome writes them first, and on the real site, over
HTTP/2, neither exists as a header (the pseudo-headers take their place, in the order
curl-impersonate copies from Chrome). A client that copies every header by hand passes this judge;
only the real firewall, on TLS, can tell it further.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ...scrapers.http import chrome_major, grease_brand

_BRAND_RE = re.compile(r'"([^"]*)"\s*;\s*v\s*=\s*"([^"]*)"')
_CHROMIUM_BRANDS = frozenset({"Chromium", "Google Chrome", "HeadlessChrome", "Microsoft Edge", "Opera"})


def browser_shape_problems(headers: Sequence[tuple[str, str]], *, method: str, navigation: bool) -> list[str]:
    """What in ``headers`` (in the order received) a browser would not have sent; ``[]``: a browser's.

    ``navigation``: the request loads a page (rather than being the page's own ``fetch()``).
    """
    names = [name.lower() for name, _ in headers]
    values: dict[str, str] = {}
    for name, value in headers:
        values.setdefault(name.lower(), value.strip())
    problems: list[str] = []

    major = chrome_major(values.get("user-agent", ""))
    if major is None or not values.get("user-agent", "").startswith("Mozilla/5.0 "):
        problems.append("no Chrome User-Agent")
    hints = values.get("sec-ch-ua")
    if hints is None or "sec-ch-ua-mobile" not in values or "sec-ch-ua-platform" not in values:
        problems.append("no client hints (sec-ch-ua, sec-ch-ua-mobile, sec-ch-ua-platform)")
    elif major is not None:
        brands = dict(_BRAND_RE.findall(hints))
        if not any(brands.get(brand) == str(major) for brand in _CHROMIUM_BRANDS):
            problems.append("sec-ch-ua does not name the User-Agent's Chrome version")
        grease, version = grease_brand(major)
        if brands.get(grease) != version:
            problems.append("sec-ch-ua lacks the GREASE brand Chrome sends at that version")

    site, mode, dest = (values.get(f"sec-fetch-{part}") for part in ("site", "mode", "dest"))
    if site is None or mode is None or dest is None:
        problems.append("no Sec-Fetch-Site / -Mode / -Dest")
    elif navigation and (mode, dest) != ("navigate", "document"):
        problems.append(f"a page load with Sec-Fetch-Mode {mode} and -Dest {dest}")
    elif not navigation and (mode not in ("cors", "same-origin") or dest != "empty"):
        problems.append(f"a page's fetch() with Sec-Fetch-Mode {mode} and -Dest {dest}")
    if method == "POST" and not navigation:
        host = values.get("host", "")
        if values.get("origin", "").partition("://")[2] != host or site != "same-origin":
            problems.append("a POST without the page's Origin")

    encoding = values.get("accept-encoding", "")
    if "accept" not in values or "accept-language" not in values:
        problems.append("no Accept or Accept-Language")
    if "gzip" not in encoding or "br" not in encoding:
        problems.append(f"Accept-Encoding {encoding or '(none)'} is not a browser's")

    hint_positions = [index for index, name in enumerate(names) if name.startswith("sec-ch-ua")]
    fetch_positions = [
        names.index(name) for name in ("sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest") if name in names
    ]
    if hint_positions and fetch_positions and max(hint_positions) > min(fetch_positions):
        problems.append("client hints after the Sec-Fetch-* headers")
    if fetch_positions != sorted(fetch_positions):
        problems.append("Sec-Fetch-* headers out of Chrome's order")
    if (
        fetch_positions
        and "accept-encoding" in names
        and names.index("accept-encoding") < max(fetch_positions)
    ):
        problems.append("Accept-Encoding before the Sec-Fetch-* headers")

    if values.get("connection", "").lower() == "close":
        problems.append("Connection: close")
    if "upgrade" in values or "http2-settings" in values:
        problems.append("an HTTP/2 upgrade request (h2c), which browsers never send")
    return problems
