"""Sessions: what each source remembers about a client between its requests (:class:`Session`), and
:class:`SessionStore`, the bounded per-source table of them."""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections import OrderedDict

from .http_server import CENSO, WSP

_SESSION_ALPHABET = "0123456789abcdefghijklmnopqrstuv"  # PHP's default session id characters


@dataclasses.dataclass
class Session:
    """One client's session on one source (its ``PHPSESSID``)."""

    id: str
    #: Source A: the one token the session's last page load issued; ``None`` once used.
    token: str | None = None
    #: Numbers whose once-per-session outcome (reload once, 500 on GET) already happened here.
    reloaded: set[str] = dataclasses.field(default_factory=set)
    get500_done: set[str] = dataclasses.field(default_factory=set)
    #: The next page GET of this session answers 500 (set by a lookup of a "500 on GET" number).
    get500_pending: bool = False


class SessionStore:
    """Each source's sessions, oldest first, guarded by the replica's lock."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._sessions: dict[str, OrderedDict[str, Session]] = {WSP: OrderedDict(), CENSO: OrderedDict()}

    def get(self, source: str, session_id: str | None) -> Session | None:
        """The session ``session_id`` names on ``source``, if the source still has it."""
        with self._lock:
            if session_id is None:
                return None
            sessions = self._sessions[source]
            session = sessions.get(session_id)
            if session is not None:
                sessions.move_to_end(session_id)
            return session

    def new(self, source: str, limit: int) -> Session:
        """A fresh session on ``source``, forgetting the oldest beyond ``limit``."""
        with self._lock:
            sessions = self._sessions[source]
            session = Session("".join(secrets.choice(_SESSION_ALPHABET) for _ in range(26)))
            sessions[session.id] = session
            # Bounded, oldest first out: benchmarks may create many sessions.
            while len(sessions) > limit:
                sessions.popitem(last=False)
            return session

    def anonymous(self, source: str) -> Session:
        """The one session that clients without cookies share on ``source``."""
        # Source B clients that keep no cookies still get once-per-client behaviour, shared among them.
        with self._lock:
            sessions = self._sessions[source]
            session = sessions.get("")
            if session is None:
                session = sessions[""] = Session("")
            return session

    def clear(self) -> None:
        """Forget every session of both sources."""
        with self._lock:
            for sessions in self._sessions.values():
                sessions.clear()
