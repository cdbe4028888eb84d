"""The deaths registry's vigencia service (the pre-check's): ``POST /VigenciaCedula/consulta`` with
``{"nuip": <int>, "ip": "..."}`` answers ``{"codigo": 200, "vigencia": ..., "fecha": ...}`` from the
outcome table (:func:`vigencia_for`), unless one of its faults (``vigencia_*``,
:data:`~.faults.VIGENCIA_FAULTS`) fires. A GET of the path serves the service's page: an Angular app,
whose HTML is an empty shell (what the ``vigencia_shell`` fault answers a POST with).
"""

from __future__ import annotations

import json
import socket
import struct

from .faults import RETRY_AFTER, VIGENCIA_FAULTS, FaultMode
from .http_server import HTML, JSON, Drop, HandlerBase
from .outcomes import outcome_for
from .records import Answer, RequestRecord
from .shared_steps import VALID_NUMBER

#: The service's path (on port 8443 of ``defunciones.registraduria.gov.co``).
VIGENCIA_PATH = "/VigenciaCedula/consulta"
#: :attr:`RequestRecord.source <.records.RequestRecord.source>` and ``kind`` of its requests.
VIGENCIA = "vigencia"

ALIVE_TEXT = "Vigente (Vivo)"
DECEASED_TEXT = "Cancelada por Muerte"

#: The service's page as a plain client gets it: the Angular app before its script ran.
SHELL_PAGE = (
    '<!doctype html>\n<html lang="es">\n<head>\n<meta charset="utf-8">\n<title>VigenciaCedula</title>\n'
    '<base href="/VigenciaCedula/">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    '</head>\n<body>\n<app-root></app-root>\n<script src="runtime.js" type="module"></script>'
    '<script src="main.js" type="module"></script>\n</body>\n</html>\n'
)
#: JSON cut in the middle (the ``vigencia_garbage`` fault).
GARBAGE = b'{"codigo": 200, "vigencia": "Vigente (Vi'


def vigencia_for(cedula: str) -> tuple[str, str]:
    """What the service answers for ``cedula`` (a well-formed number): its vigencia text and fecha."""
    outcome = outcome_for(cedula)
    if outcome.vigencia:
        return outcome.vigencia, outcome.vigencia_fecha
    if outcome.novedad is not None and outcome.novedad.deceased:
        return DECEASED_TEXT, outcome.novedad.fecha
    return ALIVE_TEXT, ""


class VigenciaEndpoints(HandlerBase):
    """The vigencia service's page and its JSON lookup."""

    def _vigencia_page(self, record: RequestRecord) -> None:
        self._send(record, 200, SHELL_PAGE.encode(), HTML, Answer.SHELL)

    def _vigencia_lookup(self, record: RequestRecord) -> None:
        replica = self.server.replica
        body = self._body(record)
        if body is None:
            return
        try:
            request = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            request = None
        nuip = request.get("nuip") if isinstance(request, dict) else None
        cedula = str(nuip) if isinstance(nuip, int) and not isinstance(nuip, bool) else ""
        record.cedula = cedula
        fault = replica._faults.take(VIGENCIA_FAULTS, cedula or None)
        if fault is not None:
            record.fault = fault.mode.value
            if self._vigencia_fault(record, fault.mode):
                return
        if not VALID_NUMBER.fullmatch(cedula):
            payload = {"codigo": 400, "mensaje": "nuip must be a number"}
            self._send(record, 400, json.dumps(payload).encode(), JSON, Answer.INVALID)
            return
        text, fecha = vigencia_for(cedula)
        record.detail = text
        payload = {"codigo": 200, "vigencia": text, "fecha": fecha}
        self._send(record, 200, json.dumps(payload, ensure_ascii=False).encode(), JSON, Answer.VIGENCIA)

    def _vigencia_fault(self, record: RequestRecord, mode: FaultMode) -> bool:
        """Answer as ``mode`` says; ``False`` when the normal answer follows (after a slow start)."""
        if mode is FaultMode.VIGENCIA_429:
            page = b"<html><body><h1>429 Too Many Requests</h1></body></html>"
            self._send(record, 429, page, HTML, Answer.HTTP_429, [("Retry-After", str(RETRY_AFTER))])
        elif mode is FaultMode.VIGENCIA_RESET:
            # SO_LINGER 0: closing sends a TCP reset rather than an orderly end; the socket closes for
            # real once the handler's files let go of it, before the server would shut it down.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            raise Drop("reset")
        elif mode is FaultMode.VIGENCIA_SHELL:
            self._send(record, 200, SHELL_PAGE.encode(), HTML, Answer.SHELL)
        elif mode is FaultMode.VIGENCIA_SLOW:
            self._sleep_or_drop(self.server.replica.slow_seconds)
            return False
        else:
            self._send(record, 200, GARBAGE, JSON, Answer.GARBAGE)
        return True
