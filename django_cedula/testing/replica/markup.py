"""What every page module shares: HTML escaping and the type of a JSON answer."""

from __future__ import annotations

import html
from typing import Any

#: A JSON object as the sources answer it.
JsonObject = dict[str, Any]


def escape(text: str) -> str:
    """``text`` safe inside HTML text and attribute values (quotes escaped too)."""
    return html.escape(text, quote=True)
