"""Switching a replica that runs in another process: the client of its control endpoint
(``/__replica__/``, :class:`~.routes.ControlEndpoints`), stdlib only.

::

    from django_cedula.testing.replica import remote

    remote.set_fault("http://127.0.0.1:8765/", "new_markup")   # every lookup answers a new shape
    remote.state("http://127.0.0.1:8765/")["solves"]           # solves counted so far
    remote.clear_fault("http://127.0.0.1:8765/")                # every fault off: the site is back

The endpoint answers loopback clients only. Requests go straight to the replica (no proxy).
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any, cast

from .faults import FaultMode
from .http_server import CONTROL_PATH

#: Seconds a control request may take.
TIMEOUT = 10.0

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _call(base_url: str, name: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    url = base_url.rstrip("/") + CONTROL_PATH + name
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with _OPENER.open(request, timeout=TIMEOUT) as answer:
        return cast(dict[str, Any], json.loads(answer.read().decode("utf-8")))


def set_fault(
    base_url: str, mode: FaultMode | str, cedula: str | int | None = None, times: int | None = None
) -> dict[str, Any]:
    """:meth:`Replica.set_fault <.control.Replica.set_fault>` on the replica at ``base_url``; its state."""
    return _call(base_url, "fault", {"mode": str(FaultMode(mode)), "cedula": cedula, "times": times})


def clear_fault(
    base_url: str, mode: FaultMode | str | None = None, cedula: str | int | None = None
) -> dict[str, Any]:
    """Clear ``mode`` (for ``cedula``; ``None``: the one set for every request), or every fault when
    ``mode`` is ``None``; the replica's state."""
    payload: dict[str, Any] = {"cedula": cedula}
    if mode is not None:
        payload["mode"] = str(FaultMode(mode))
    return _call(base_url, "clear", payload)


def state(base_url: str) -> dict[str, Any]:
    """``{"faults": [...], "captcha_counts": {...}, "solves": n}`` of the replica at ``base_url``."""
    return _call(base_url, "state")


def main(argv: list[str] | None = None) -> int:
    """``python -m django_cedula.testing.replica.remote URL (set MODE | clear | state)``: switch a
    running replica, as the demo does to show what the package does when the site changes."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m django_cedula.testing.replica.remote")
    parser.add_argument("url", help="the replica's base URL, e.g. http://127.0.0.1:8765/")
    commands = parser.add_subparsers(dest="command", required=True)
    switch = commands.add_parser("set", help="switch a fault on for every request")
    switch.add_argument("mode", choices=[mode.value for mode in FaultMode])
    commands.add_parser("clear", help="every fault off: the site is as it was")
    commands.add_parser("state", help="the active faults and the solves counted")
    options = parser.parse_args(argv)
    if options.command == "set":
        answer = set_fault(options.url, options.mode)
    elif options.command == "clear":
        answer = clear_fault(options.url)
    else:
        answer = state(options.url)
    print(json.dumps(answer, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
