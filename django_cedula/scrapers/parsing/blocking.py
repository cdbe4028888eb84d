"""Answers that are refusals, not answers: the F5 firewall's block page, HTTP 403, 429 and 5xx.

Block pages are recognised by their structure (a ``blocked`` or ``authenticate`` class/id token,
a "support ID" followed by a long number), never by words such as "blocked" in ordinary text.
"""

from __future__ import annotations

import re

from ...results import ScrapeResult, ScrapeStatus
from .bounds import MAX_ANSWER_BYTES, _text_of
from .markup import _DocumentParser, _parse_html
from .verdicts import _result
from .vocabulary import _collapse, _fold

# F5's rejection pages show "Your support ID is: <long number>".
_SUPPORT_ID_RE = re.compile(r"\bsupport\s*id\b[^0-9]{0,20}\d{6,}")
_BLOCK_MARKERS = frozenset({"blocked", "authenticate"})


def _is_block_document(document: _DocumentParser) -> bool:
    if document.markers & _BLOCK_MARKERS:
        return True
    return bool(_SUPPORT_ID_RE.search(_fold(_collapse("".join(document.text_parts)))))


def _non_json_answer(body: str, raw: str, http_status: int, source: str) -> ScrapeResult | None:
    """Block pages and HTTP failures among answers that are not JSON; ``None`` if neither."""
    document = _parse_html(body)
    if _is_block_document(document):
        return _result(ScrapeStatus.BLOCKED, raw, f"the {source} answered with the firewall's block page")
    if http_status >= 500:
        return _result(ScrapeStatus.NETWORK_ERROR, raw, f"the {source} answered HTTP {http_status}")
    if http_status == 429:
        return _result(ScrapeStatus.BLOCKED, raw, f"the {source} answered HTTP 429 (too many requests)")
    if http_status == 403:
        # A firewall refusing the client (another Registraduría page answers plain clients so).
        return _result(ScrapeStatus.BLOCKED, raw, f"the {source} answered HTTP 403 (forbidden)")
    return None


def is_block_page(html: str) -> bool:
    """Whether ``html`` is the F5 firewall's block page rather than an answer.

    Decided by structure: an element whose ``class`` (or ``id``) token is ``blocked`` or
    ``authenticate``, or a "support ID" followed by a long number. Words such as "blocked"
    or "challenge" in ordinary text do not count. Reads the first :data:`MAX_ANSWER_BYTES`
    characters; never raises (what cannot be read is not a block page).
    """
    text = _text_of(html)
    if text is None:
        return False
    try:
        return _is_block_document(_parse_html(text[:MAX_ANSWER_BYTES]))
    except Exception:
        return False
