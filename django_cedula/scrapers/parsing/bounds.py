"""How much of an answer the readers take, and what they return for what they cannot take.

The readers are total: any input ends as a :class:`~django_cedula.results.ScrapeResult`. Here are
the limits that keep that cheap (:data:`MAX_ANSWER_BYTES` of body, the JSON nesting the decoder
can follow, :data:`ERROR_EXCERPT_CHARS` of the site's text quoted in an ``error``, masked), the
coercion of arguments of the wrong type, and the ``parse_error`` results for an answer that is too
large, not text, or unreadable.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ...privacy import mask_numbers
from ...results import ScrapeResult, ScrapeStatus
from .verdicts import _result
from .vocabulary import _collapse

#: How many characters of the site's own text an ``error`` may quote.
ERROR_EXCERPT_CHARS = 200

#: The largest answer body read, in bytes (UTF-8), and the most characters of a page's HTML read.
#: Real answers are a few KiB. Both scrapers cut the body inside the page (the page's script stops
#: reading after this many bytes and cancels the rest), so no more than this crosses into Python; a
#: longer answer ends as ``parse_error`` ("answer larger than N bytes"), and so does one handed to
#: the parsers directly.
MAX_ANSWER_BYTES = 1024 * 1024


def _excerpt(text: str, cedula: str | None, limit: int = ERROR_EXCERPT_CHARS) -> str:
    """A short, masked, one-line quote of the site's text for an ``error`` message."""
    # Cut before masking (the text may be long), dropping a number the cut went through: masking
    # must see whole numbers, or a cut one could show more digits than a masked one does.
    head = limit * 4 + 40
    flat = _collapse(text[:head].rstrip("0123456789.,") if text[head : head + 1].isdigit() else text[:head])
    flat = mask_numbers(flat[: limit + 40], cedula)
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return f'"{flat}"'


class _TooDeep(Exception):
    """JSON nested deeper than the reader follows."""


def _load_json(body: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(body)
    except RecursionError:
        raise _TooDeep from None
    except ValueError:
        return False, None


def oversized_answer(raw: str = "", limit: int = MAX_ANSWER_BYTES) -> ScrapeResult:
    """The result for an answer longer than ``limit`` bytes (``raw``: the part that was read)."""
    return _result(ScrapeStatus.PARSE_ERROR, raw[:limit], f"answer larger than {limit} bytes")


def _text_of(value: object) -> str | None:
    """An answer body as text: bytes are decoded as UTF-8 (bad bytes replaced); other types are not text."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value[: MAX_ANSWER_BYTES + 1]).decode("utf-8", "replace")
    return None


def _too_large(text: str) -> bool:
    if len(text) > MAX_ANSWER_BYTES:
        return True
    # Only a text of more than a quarter of the limit can take more than the limit in UTF-8.
    return len(text) * 4 > MAX_ANSWER_BYTES and len(text.encode("utf-8", "surrogatepass")) > MAX_ANSWER_BYTES


def _http_status(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, (float, str)):
        try:
            return int(value)
        except (ValueError, OverflowError):
            return 0
    return 0


def _server_error(result: ScrapeResult, http_status: int) -> ScrapeResult:
    """``result`` marked with ``http_status`` when that is a server error (5xx): a chain of scrapers
    moves on to its next source after one, whatever status the answer was read as."""
    if http_status < 500 or result.http_status == http_status:
        return result
    return dataclasses.replace(result, http_status=http_status)


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _unreadable(exc: BaseException, raw: str, cedula: str | None) -> ScrapeResult:
    """What a reader's failure becomes: ``parse_error`` with a short masked excerpt of the answer."""
    raw = raw[:MAX_ANSWER_BYTES]
    what = "JSON nested too deep" if isinstance(exc, (_TooDeep, RecursionError)) else type(exc).__name__
    try:
        excerpt = _excerpt(raw, cedula) if raw.strip() else "(empty)"
    except Exception:  # pragma: no cover - the excerpt of a plain string does not fail
        excerpt = "(no excerpt)"
    return _result(ScrapeStatus.PARSE_ERROR, raw, f"unreadable answer ({what}): {excerpt}")


def _not_text(value: object) -> ScrapeResult:
    return _result(ScrapeStatus.PARSE_ERROR, "", f"the answer is not text ({type(value).__name__})")
