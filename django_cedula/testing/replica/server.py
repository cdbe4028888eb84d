"""Where the replica's server used to live in one module; the names it exported, re-exported.

The replica is now split by job (see the package docstring): :class:`Replica` is in
:mod:`.control`, :class:`Answer` and :class:`RequestRecord` in :mod:`.records`, :class:`Fault` and
:func:`normalize_number` in :mod:`.faults`, the HTTP plumbing in :mod:`.http_server` and
:mod:`.routes`, and each source's endpoints in :mod:`.wsp_endpoints` and :mod:`.censo_endpoints`.
``from django_cedula.testing.replica.server import Replica`` keeps working.
"""

from __future__ import annotations

from .constants import CENSO, WSP
from .control import Replica
from .faults import Fault, FaultMode, normalize_number
from .records import Answer, RequestRecord

__all__ = ["CENSO", "WSP", "Answer", "Fault", "FaultMode", "Replica", "RequestRecord", "normalize_number"]
