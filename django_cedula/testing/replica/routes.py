"""Which path and method go to which endpoint: :class:`Handler`, the replica's request handler.

It puts together the plumbing (:mod:`.http_server`), the endpoints of Source A
(:mod:`.wsp_endpoints`) and Source B (:mod:`.censo_endpoints`), and the replica's own
(:class:`SiteEndpoints`: its home page, the favicon, and the stand-in for Google's reCAPTCHA, the
script and the checkbox's "solve", which issues a fresh token).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from .censo_endpoints import CensoEndpoints
from .http_server import (
    CENSO,
    CENSO_ALT_PATH,
    CENSO_API_PATH,
    CENSO_PATH,
    HTML,
    JSON,
    RECAPTCHA_PATH,
    WSP,
    WSP_PATH,
    HandlerBase,
)
from .outcomes import outcome_table_markdown
from .records import Answer, RequestRecord
from .site_pages import index_page, not_found_page
from .wsp_endpoints import WspEndpoints


class SiteEndpoints(HandlerBase):
    """The home page, the favicon and the reCAPTCHA stand-in."""

    def _index(self, record: RequestRecord) -> None:
        replica = self.server.replica
        body = index_page(
            wsp_url=replica.wsp_url, censo_url=replica.censo_url, table_markdown=outcome_table_markdown()
        )
        self._send(record, 200, body.encode(), HTML, Answer.INDEX)

    def _no_content(self, record: RequestRecord) -> None:
        # Browsers ask for it on every page; a 404 would put an error in their console.
        self._send(record, 204, b"", HTML, Answer.NO_CONTENT)

    def _recaptcha_script(self, record: RequestRecord) -> None:
        self._send(record, 200, _recaptcha_script(), "text/javascript; charset=utf-8", Answer.SCRIPT)

    def _recaptcha_token(self, record: RequestRecord) -> None:
        # The widget's checkbox asks here: each click "solves" the captcha with a fresh token, for the
        # site key the widget was rendered with (``k``, as Google's own frame sends it).
        site_key = parse_qs(urlsplit(self.path).query).get("k", [""])[0]
        token = self.server.replica.issue_token(site_key or None)
        body = json.dumps({"success": True, "token": token}).encode()
        self._send(record, 200, body, JSON, Answer.CAPTCHA_TOKEN)


@functools.lru_cache(maxsize=1)
def _recaptcha_script() -> bytes:
    return resources.files("django_cedula.testing.replica").joinpath("static/recaptcha_api.js").read_bytes()


class Handler(WspEndpoints, CensoEndpoints, SiteEndpoints):
    """The replica's request handler: each request is routed by path, then by method."""

    def _route(self, record: RequestRecord, path: str) -> None:
        method = self.command
        if method == "HEAD":
            # The real site answers HEAD with 500, whatever the path.
            record.kind = "head"
            self._send(record, 500, b"", HTML, Answer.HEAD_500)
            return
        routes = {
            "/": ("", "index", {"GET": self._index}),
            WSP_PATH: (WSP, "page", {"GET": self._wsp_page, "POST": self._wsp_lookup}),
            WSP_PATH.rstrip("/"): (WSP, "page", {"GET": self._wsp_page, "POST": self._wsp_lookup}),
            CENSO_PATH: (CENSO, "page", {"GET": self._censo_page}),
            CENSO_ALT_PATH: (CENSO, "page", {"GET": self._censo_page}),
            CENSO_API_PATH + "elecciones": (CENSO, "elecciones", {"GET": self._censo_elections}),
            CENSO_API_PATH + "consulta": (CENSO, "lookup", {"POST": self._censo_lookup}),
            RECAPTCHA_PATH + "api.js": ("recaptcha", "script", {"GET": self._recaptcha_script}),
            RECAPTCHA_PATH + "replica/solve": ("recaptcha", "captcha_token", {"GET": self._recaptcha_token}),
            "/favicon.ico": ("", "other", {"GET": self._no_content}),
        }
        route = routes.get(path)
        if route is None:
            self._send(record, 404, not_found_page(path).encode(), HTML, Answer.HTTP_404)
            return
        source, kind, handlers = route
        record.source, record.kind = source, kind
        handler = handlers.get(method)
        if handler is None:
            self._send(record, 405, b"", HTML, Answer.HTTP_405, [("Allow", ", ".join(handlers))])
            return
        handler(record)
