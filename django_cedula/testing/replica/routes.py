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
from .elecciones_endpoints import ELECCIONES, ELECCIONES_API_PATH, ELECCIONES_PATH, EleccionesEndpoints
from .http_server import (
    CENSO,
    CENSO_ALT_PATH,
    CENSO_API_PATH,
    CENSO_PATH,
    CONTROL_PATH,
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
from .vigencia_endpoints import VIGENCIA, VIGENCIA_PATH, VigenciaEndpoints
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
        # site key the widget was rendered with (``k``, as Google's own frame sends it). So does a
        # ReplicaCaptchaSolver given the replica's URL (``replica_url``), in whatever process: each
        # token issued here is a solve, counted (``Replica.solves()``).
        site_key = parse_qs(urlsplit(self.path).query).get("k", [""])[0]
        token = self.server.replica._issue_solve(site_key or None)
        body = json.dumps({"success": True, "token": token}).encode()
        self._send(record, 200, body, JSON, Answer.CAPTCHA_TOKEN)


@functools.lru_cache(maxsize=1)
def _recaptcha_script() -> bytes:
    return resources.files("django_cedula.testing.replica").joinpath("static/recaptcha_api.js").read_bytes()


class ControlEndpoints(HandlerBase):
    """``/__replica__/``: the replica's faults switched from another process (a demo, a cluster of
    workers in processes of their own), and what it counted. Answered to loopback clients only: a
    replica bound to another address still takes orders from its own machine alone.

    ``POST fault`` with ``{"mode", "cedula"?, "times"?}`` sets a fault (:meth:`Replica.set_fault`);
    ``POST clear`` with ``{"mode"?, "cedula"?}`` clears one (no ``mode``: every fault); ``GET state``
    answers ``{"faults": [...], "captcha_counts": {...}, "solves": n}``.
    """

    def _control_allowed(self, record: RequestRecord) -> bool:
        host = str(self.client_address[0])
        if host == "127.0.0.1" or host == "::1" or host.startswith("::ffff:127.") or host.startswith("127."):
            return True
        self._send(record, 403, b"local clients only", "text/plain", Answer.HTTP_403)
        return False

    def _control_body(self, record: RequestRecord) -> dict[str, object] | None:
        body = self._body(record)
        if body is None:
            return None
        try:
            request = json.loads(body.decode("utf-8") or "{}")
        except (UnicodeDecodeError, ValueError):
            request = None
        if not isinstance(request, dict):
            self._control_answer(record, 400, {"error": "a JSON object is expected"})
            return None
        return request

    def _control_answer(self, record: RequestRecord, status: int, payload: object) -> None:
        self._send(record, status, json.dumps(payload).encode(), JSON, Answer.CONTROL)

    def _control_fault(self, record: RequestRecord) -> None:
        if not self._control_allowed(record):
            return
        request = self._control_body(record)
        if request is None:
            return
        cedula, times = request.get("cedula"), request.get("times")
        try:
            if not isinstance(cedula, (str, int, type(None))) or not isinstance(times, (int, type(None))):
                raise ValueError("cedula must be text or a number, times a whole number")
            self.server.replica.set_fault(str(request.get("mode")), cedula, times)
        except ValueError as exc:
            self._control_answer(record, 400, {"error": str(exc)})
            return
        self._control_answer(record, 200, self.server.replica.state())

    def _control_clear(self, record: RequestRecord) -> None:
        if not self._control_allowed(record):
            return
        request = self._control_body(record)
        if request is None:
            return
        mode, cedula = request.get("mode"), request.get("cedula")
        try:
            if not isinstance(cedula, (str, int, type(None))):
                raise ValueError("cedula must be text or a number")
            if mode is None:
                self.server.replica.clear_faults()
            else:
                self.server.replica.clear_fault(str(mode), cedula)
        except ValueError as exc:
            self._control_answer(record, 400, {"error": str(exc)})
            return
        self._control_answer(record, 200, self.server.replica.state())

    def _control_state(self, record: RequestRecord) -> None:
        if self._control_allowed(record):
            self._control_answer(record, 200, self.server.replica.state())


class Handler(
    WspEndpoints, CensoEndpoints, VigenciaEndpoints, EleccionesEndpoints, SiteEndpoints, ControlEndpoints
):
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
            ELECCIONES_PATH: (ELECCIONES, "page", {"GET": self._elecciones_page}),
            ELECCIONES_API_PATH: (ELECCIONES, "lookup", {"POST": self._elecciones_lookup}),
            RECAPTCHA_PATH + "api.js": ("recaptcha", "script", {"GET": self._recaptcha_script}),
            RECAPTCHA_PATH + "replica/solve": ("recaptcha", "captcha_token", {"GET": self._recaptcha_token}),
            VIGENCIA_PATH: (VIGENCIA, VIGENCIA, {"GET": self._vigencia_page, "POST": self._vigencia_lookup}),
            "/favicon.ico": ("", "other", {"GET": self._no_content}),
            CONTROL_PATH + "fault": ("replica", "control", {"POST": self._control_fault}),
            CONTROL_PATH + "clear": ("replica", "control", {"POST": self._control_clear}),
            CONTROL_PATH + "state": ("replica", "control", {"GET": self._control_state}),
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
