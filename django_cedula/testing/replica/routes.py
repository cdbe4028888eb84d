"""Which path and method go to which endpoint: :class:`Handler`, the replica's request handler.

It puts together the plumbing (:mod:`.http_server`) and the endpoints of Source A
(:mod:`.wsp_endpoints`), Source B (:mod:`.censo_endpoints`) and the replica itself
(:mod:`.site_endpoints`).
"""

from __future__ import annotations

from .censo_endpoints import CensoEndpoints
from .constants import CENSO, CENSO_ALT_PATH, CENSO_API_PATH, CENSO_PATH, RECAPTCHA_PATH, WSP, WSP_PATH
from .http_server import HTML
from .records import Answer, RequestRecord
from .site_endpoints import SiteEndpoints
from .site_pages import not_found_page
from .wsp_endpoints import WspEndpoints


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
