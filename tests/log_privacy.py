"""A whole-suite guard: no captured log line may carry a full cédula (Ley 1581 de 2012).

Every log record of the test session passes through :class:`CedulaLogGuard`, and so does every
worker process's log file (tests/integration). The cédulas the suite used are collected as it runs
(users and rows saved, numbers the fake scraper saw, the replica's table); when the session ends,
any line that holds one of them unmasked fails the run and is printed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

#: Digit runs, with the separators people type (dots, spaces, dashes), that could be a cédula.
NUMBER_RUN = re.compile(r"(?<![\d*])\d(?:[\d.\- ]*\d)?(?!\d)")
#: Shorter numbers are ids, ports and counts too often to tell apart from a cédula.
MIN_DIGITS = 6


def digit_runs(text: str) -> set[str]:
    """The bare digit strings of ``text``'s number runs of at least :data:`MIN_DIGITS` digits."""
    runs = set()
    for match in NUMBER_RUN.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if len(digits) >= MIN_DIGITS:
            runs.add(digits)
            # "1020304050 and 77" joined by a space is two numbers as well as one run.
            runs.update(part for part in re.split(r"\D+", match.group()) if len(part) >= MIN_DIGITS)
    return runs


class CedulaLogGuard(logging.Handler):
    """Collects log lines that hold long numbers; :meth:`leaks` says which hold a known cédula."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.known: set[str] = set()
        self.suspects: list[tuple[str, str]] = []
        #: The test running now, to say where a leak came from.
        self.where = "(collection)"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a broken format string is someone else's test failure
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += f" {record.exc_info[1]}"
        self.scan(text, f"{self.where} [{record.name}]")

    def scan(self, text: str, source: str) -> None:
        """Keep the lines of ``text`` that hold a long number, to be judged at the end."""
        for line in text.splitlines():
            if digit_runs(line):
                self.suspects.append((source, line))

    def remember(self, cedulas: Iterable[object]) -> None:
        for value in cedulas:
            digits = re.sub(r"\D", "", str(value or ""))
            if len(digits) >= MIN_DIGITS:
                self.known.add(digits)

    def leaks(self) -> list[tuple[str, str]]:
        """The collected lines that hold a known cédula in full."""
        return [(source, line) for source, line in self.suspects if digit_runs(line) & self.known]


#: The session's guard, installed on the root logger by tests/conftest.py.
GUARD = CedulaLogGuard()
