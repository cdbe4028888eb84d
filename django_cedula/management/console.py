"""What the package's management commands share on the console: a progress bar, durations and
their arguments, numeric arguments in range, and values shortened for messages."""

from __future__ import annotations

import argparse
import datetime
import re
from collections.abc import Callable
from types import TracebackType

from django.core.management.base import OutputWrapper
from django.utils.translation import gettext

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# ASCII: ``\d`` would also match other scripts' digits, which int() reads ("３０d" as 30 days).
_DURATION = re.compile(r"(\d+)\s*([smhdw])", re.ASCII)
#: The longest duration a command takes: a cutoff further back than a century selects nothing a
#: shorter one would not, and ``now - duration`` must stay a date the database can store.
MAX_DURATION = datetime.timedelta(days=36_500)


class ProgressBar:
    """A one-line progress bar on a command's ``self.stdout``, drawn only when it is a terminal.

    Redrawn at most once per percent, so that counting 100,000 rows writes about a hundred
    times. Piped or captured output (cron, ``call_command``) gets no bar at all.
    Use as a context manager; :meth:`advance` after each chunk.
    """

    def __init__(self, stream: OutputWrapper, total: int, *, label: str = "", width: int = 30) -> None:
        self.stream = stream
        self.total = total
        self.label = label
        self.width = width
        self.done = 0
        self.enabled = total > 0 and stream.isatty()
        self._drawn_percent = -1

    def advance(self, count: int) -> None:
        """Count ``count`` more items done, and redraw if the percentage moved."""
        self.done += count
        if not self.enabled:
            return
        percent = min(100, self.done * 100 // self.total)
        if percent == self._drawn_percent:
            return
        self._drawn_percent = percent
        filled = self.width * percent // 100
        bar = "#" * filled + "-" * (self.width - filled)
        label = f"{self.label} " if self.label else ""
        self.stream.write(f"\r{label}[{bar}] {percent:3d}% {self.done}/{self.total}", ending="")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line, so that what follows starts on a fresh one."""
        if self.enabled and self._drawn_percent >= 0:
            self.stream.write("")
            self._drawn_percent = -1

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def shorten(value: str, limit: int = 20) -> str:
    """``value`` quoted for an error message, cut after ``limit`` characters.

    A command's argument can be anything pasted on a command line, 10 KB or more; a message
    repeats enough of it to recognise, and says how long the rest was.
    """
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value)} characters)"


def parse_duration(text: str) -> datetime.timedelta:
    """``"30d"``, ``"12h"``, ``"1d12h"``, ``"90m"``, ``"2w"``, ``"45s"`` as a timedelta.

    Raises ``ValueError`` for anything else, for a zero duration, or for one longer than
    :data:`MAX_DURATION`.
    """
    compact = text.strip().lower()
    parts = _DURATION.findall(compact)
    if not parts or _DURATION.sub("", compact).strip():
        raise ValueError(
            gettext("%(value)s is not a duration such as 30d, 12h, 90m or 1d12h") % {"value": shorten(text)}
        )
    limit = int(MAX_DURATION.total_seconds())
    # Summed with a cap, so that thousands of digits are refused as too long, not by int()'s
    # conversion limit or timedelta's overflow.
    seconds = 0
    for amount, unit in parts:
        if len(amount.lstrip("0")) > len(str(limit)):
            seconds = limit + 1
            break
        seconds += int(amount) * _UNITS[unit]
    if not seconds:
        raise ValueError(gettext("a duration must be longer than zero"))
    if seconds > limit:
        raise ValueError(
            gettext("%(value)s is longer than %(days)d days")
            % {"value": shorten(text), "days": MAX_DURATION.days}
        )
    return datetime.timedelta(seconds=seconds)


def duration_argument(text: str) -> datetime.timedelta:
    """:func:`parse_duration` as an argparse ``type``: a bad value is the parser's error (exit
    status 2, with the usage), not a traceback."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        # argparse shows the message of an ArgumentTypeError; a ValueError only as "invalid value".
        raise argparse.ArgumentTypeError(str(exc)) from exc


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type`` for a whole number from ``low`` to ``high``: anything else is the
    parser's error (exit status 2), before the command touches a row."""

    def parse(text: str) -> int:
        stripped = text.strip()
        digits = stripped.removeprefix("-")
        # ASCII digits only: int() also reads other scripts' digits and underscores ("1_0").
        if not (digits.isascii() and digits.isdigit()):
            raise argparse.ArgumentTypeError(
                gettext("%(value)s is not a whole number") % {"value": shorten(text)}
            )
        # Compared as text first: int() refuses thousands of digits with a message of its own.
        if len(digits.lstrip("0")) > len(str(max(abs(low), abs(high)))) or not low <= int(stripped) <= high:
            raise argparse.ArgumentTypeError(
                gettext("%(value)s is out of range: from %(low)d to %(high)d")
                % {"value": shorten(text), "low": low, "high": high}
            )
        return int(stripped)

    return parse


def format_duration(delta: datetime.timedelta) -> str:
    """A short human form: ``"2d 3h"``, ``"5m 10s"``, ``"0s"`` (two largest units)."""
    seconds = max(0, int(delta.total_seconds()))
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        amount, seconds = divmod(seconds, _UNITS[unit])
        if amount:
            parts.append(f"{amount}{unit}")
    return " ".join(parts[:2]) or "0s"
