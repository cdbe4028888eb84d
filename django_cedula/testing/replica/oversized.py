"""Oversized answers of both sources: a huge body, a gzip bomb, JSON nested very deep (pure functions).

Each is a found answer of its source grown past what a client should read: the sizes come from the
replica's knobs (``huge_bytes``, ``bomb_bytes``, ``deep_json_depth``).
"""

from __future__ import annotations

import functools
import gzip
import json

from .censo_pages import censo_found, censo_json
from .outcomes import Place
from .site_pages import escape as _e
from .wsp_pages import FOUND_NOTICE, wsp_answer, wsp_found_message, wsp_json

# One notice line of filler, as a template that repeats a block without end would print it; here
# already encoded as a JSON string's content (ASCII, PHP's escapes), so it can be repeated as is.
_FILLER_HTML = f"<h4>{_e(FOUND_NOTICE)}</h4>\n"
_FILLER_JSON = json.dumps(_FILLER_HTML)[1:-1].replace("/", "\\/")


def _padded(prefix: str, suffix: str, size: int, blank: bool) -> bytes:
    # ``prefix`` + filler + ``suffix``, ``size`` bytes long (never shorter than the two).
    filler = " " if blank else _FILLER_JSON
    room = max(0, size - len(prefix.encode()) - len(suffix.encode()))
    count, rest = divmod(room, len(filler))
    return (prefix + filler * count + " " * rest + suffix).encode()


def wsp_huge_answer(cedula: str, place: Place, size: int, *, blank: bool = False) -> bytes:
    """A found answer whose ``data.message`` goes on until the body has ``size`` bytes.

    The padding is notice lines, or spaces with ``blank`` (they compress a thousand times: the
    gzip bomb).
    """
    body = wsp_json(wsp_answer(True, wsp_found_message(cedula, place))).decode("ascii")
    assert body.endswith('"}}')
    return _padded(body[:-3], body[-3:], size, blank)


def censo_huge_answer(cedula: str, place: Place, size: int, *, blank: bool = False) -> bytes:
    """A found answer with an extra ``html`` key of padding, ``size`` bytes in all.

    See :func:`wsp_huge_answer`.
    """
    body = censo_json(censo_found(cedula, place)).decode("utf-8")
    assert body.endswith("}")
    return _padded(body[:-1] + ', "html": "', '"}', size, blank)


@functools.lru_cache(maxsize=4)
def gzip_bomb(body: bytes) -> bytes:
    """``body`` gzip-compressed (a blank-padded answer shrinks about a thousand times)."""
    return gzip.compress(body, compresslevel=9, mtime=0)


def nested_json(prefix: str, depth: int, suffix: str) -> bytes:
    """``prefix`` + ``depth`` nested JSON arrays + ``suffix``: valid JSON that recursive readers choke on."""
    return (prefix + "[" * depth + "]" * depth + suffix).encode("ascii")


def wsp_deep_json(depth: int) -> bytes:
    """Source A: ``data.message`` is an array nested ``depth`` deep."""
    return nested_json('{"success":true,"data":{"message":', depth, "}}")


def censo_deep_json(depth: int) -> bytes:
    """Source B: ``data`` is an array nested ``depth`` deep."""
    return nested_json('{"ok":true,"encontrado":true,"data":', depth, "}")
