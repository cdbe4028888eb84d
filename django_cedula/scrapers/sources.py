"""What a lookup needs to know about each source, with a browser or without: the production URLs,
the consultacenso app's API base and election numbering, and its "reload" answer. Browser-free, so
that the HTTP-only scrapers do not import Playwright."""

from __future__ import annotations

import json
from urllib.parse import urljoin

from ..conf import app_settings

#: Source A, the "wsp" census page (the production default).
WSP_URL = "https://wsp.registraduria.gov.co/censo/consultar/"
#: Source B, the "consultacenso" single-page app.
CENSO_URL = "https://consultacenso.registraduria.gov.co/"


def api_base(page_url: str) -> str:
    """The API's base URL for the app served at ``page_url`` (``.../consultar/`` serves it too)."""
    base = page_url if page_url.endswith("/") else page_url + "/"
    if base.endswith("/consultar/"):
        base = base[: -len("consultar/")]
    return urljoin(base, "back/api/")


def election_id() -> int:
    """Source B numbers elections from 0 (the current voting place); Source A's "-1" means the same."""
    value = int(app_settings.ELECTION)
    return max(value, 0)


def asks_for_reload(body: str) -> bool:
    """Whether a consultacenso answer asks the app to reload its page (``{"reload": true}``)."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # the parser says what an unreadable answer is
        return False
    return isinstance(payload, dict) and any(k.lower() == "reload" and v for k, v in payload.items())
