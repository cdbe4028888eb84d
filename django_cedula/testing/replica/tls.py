"""The replica over HTTPS, with a certificate of its own: a second server on another port that serves
the same paths (the vigencia service's above all: the real one is on ``https://...:8443`` and its
chain has troubled peers), its certificate issued by a throwaway CA made with
`trustme <https://trustme.readthedocs.io/>`_ (the ``test`` extra). A client that trusts the CA's file
(:attr:`TlsEndpoint.ca_file`, the pre-check's ``verify`` option) connects; one that checks against
the system's store refuses the chain, as against a real server whose chain it cannot build.
"""

from __future__ import annotations

import shutil
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .http_server import ReplicaServer

if TYPE_CHECKING:
    from .control import Replica

#: Seconds a client may take over its TLS handshake.
HANDSHAKE_TIMEOUT = 10.0


class TlsReplicaServer(ReplicaServer):
    """The replica's server with each connection wrapped in TLS; the handshake is made in the
    connection's own thread, so that a client that stalls or refuses the chain holds no other."""

    def __init__(
        self,
        address: tuple[str, int],
        replica: Replica,
        handler: type[BaseHTTPRequestHandler],
        context: ssl.SSLContext,
    ) -> None:
        self.context = context
        super().__init__(address, replica, handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(HANDSHAKE_TIMEOUT)
            request.do_handshake()
            request.settimeout(None)
        except (ssl.SSLError, OSError):
            return  # a client that refused the certificate, or went away: not the replica's error
        super().finish_request(request, client_address)


class TlsEndpoint:
    """The HTTPS server of one replica: its CA and certificate (for ``127.0.0.1``, ``localhost`` and
    the replica's host), its port and the CA's PEM file."""

    def __init__(self, replica: Replica, handler: type[BaseHTTPRequestHandler]) -> None:
        try:
            import trustme
        except ImportError as exc:  # pragma: no cover - the test extra brings it
            raise RuntimeError("the replica's TLS endpoint needs trustme (pip install trustme)") from exc
        self._dir = Path(tempfile.mkdtemp(prefix="cedula-replica-tls-"))
        ca = trustme.CA(organization_name="django-cedula replica CA")
        names = dict.fromkeys(["127.0.0.1", "localhost", replica.host])
        certificate = ca.issue_cert(*names)
        #: The CA that issued the server's certificate, as a PEM file (the ``verify`` option).
        self.ca_file = str(self._dir / "replica-ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        certificate.configure_cert(context)
        self._server = TlsReplicaServer((replica.host, 0), replica, handler, context)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="cedula-replica-tls",
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        shutil.rmtree(self._dir, ignore_errors=True)
