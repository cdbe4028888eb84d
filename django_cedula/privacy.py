"""Keeping personal data and secrets out of logs, stored errors and reprs.

One place for the maskers: cédulas (Ley 1581 de 2012) and URL secrets (user-info, query
strings). Plain Python with no Django import, so that the parsers and the browser layer can use
it as well as the job.
"""

from __future__ import annotations

import re

# A digit run, possibly written with thousands separators ("1.020.304.050").
_NUMBER_RE = re.compile(r"(?<!\d)\d(?:[\d.,]*\d)?(?!\d)")
#: Cédulas have 3–10 digits; shorter runs are masked only when they are the looked-up number, so
#: that figures like "15008 milliseconds" stay readable.
MASK_MIN_DIGITS = 6


def mask_cedula(value: object) -> str:
    """Mask a number for logs and messages: ``"1020304050"`` -> ``"******4050"``.

    At most the last four characters stay visible, and never more than half of them.
    """
    text = "" if value is None else str(value)
    visible = min(4, len(text) // 2)
    return "*" * (len(text) - visible) + text[len(text) - visible :]


def mask_numbers(text: str, cedula: str | None = None) -> str:
    """``text`` with every run of six or more digits masked, and ``cedula`` masked whatever its length."""
    wanted = re.sub(r"\D", "", cedula or "")

    def replace(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        if len(digits) >= MASK_MIN_DIGITS or (wanted and digits == wanted):
            return mask_cedula(digits)
        return match.group(0)

    return _NUMBER_RE.sub(replace, text)
