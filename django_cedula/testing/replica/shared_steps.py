"""The steps both sources take: what a page GET does first (delay, block, 500, session cookies) and
the lookup pipeline (network faults, reload faults, the captcha check, the application's own
failures, oversized answers). Each source's endpoints (:mod:`.wsp_endpoints`,
:mod:`.censo_endpoints`) call them in its own order.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from typing import Any

from .faults import RETRY_AFTER, STATUS_FAULTS, Fault, FaultMode, block_modes
from .fingerprint import browser_shape_problems
from .http_server import CENSO, HTML, JSON, WSP, Drop, HandlerBase
from .outcomes import Outcome, OutcomeKind, derived_place
from .oversized import censo_deep_json, censo_huge_answer, gzip_bomb, wsp_deep_json, wsp_huge_answer
from .records import Answer, RequestRecord
from .sessions import Session
from .site_pages import error_500_page, status_page
from .tokens import TokenCheck

#: A number the outcome table answers for (3 to 10 digits, no leading zero); others are invalid.
VALID_NUMBER = re.compile(r"[1-9][0-9]{2,9}")

# The application's own failures (answered after the captcha check), as faults and as table kinds.
APP_FAULTS = (
    FaultMode.GARBAGE,
    FaultMode.CURL_ERROR,
    FaultMode.UPDATING,
    FaultMode.HUGE,
    FaultMode.GZIP_BOMB,
    FaultMode.DEEP_JSON,
)
APP_KINDS = frozenset(
    {
        OutcomeKind.GARBAGE,
        OutcomeKind.CURL_ERROR,
        OutcomeKind.UPDATING,
        OutcomeKind.HUGE,
        OutcomeKind.GZIP_BOMB,
        OutcomeKind.DEEP_JSON,
    }
)

# Answers grown past what a client should read, sized by the replica's knobs (``_oversized``).
OVERSIZED = frozenset({Answer.HUGE, Answer.GZIP_BOMB, Answer.DEEP_JSON})

#: The ``Content-Type`` of a lookup's answer under the ``latin1`` fault.
LATIN1_JSON = "application/json; charset=ISO-8859-1"


def latin1_json(payload: Mapping[str, Any]) -> bytes:
    """``payload`` as JSON, its accents as ISO-8859-1 bytes (a server whose PHP speaks Latin-1)."""
    return json.dumps(payload, ensure_ascii=False).encode("iso-8859-1", "replace")


#: What each ``http4xx`` fault's answer is logged as, and the header it carries besides.
_STATUS_ANSWERS: dict[int, tuple[Answer, list[tuple[str, str]]]] = {
    429: (Answer.HTTP_429, [("Retry-After", str(RETRY_AFTER))]),
    407: (Answer.HTTP_407, [("Proxy-Authenticate", 'Basic realm="proxy"')]),
    404: (Answer.HTTP_404, []),
    410: (Answer.HTTP_410, []),
}


class SharedSteps(HandlerBase):
    """The steps of :mod:`.wsp_endpoints` and :mod:`.censo_endpoints` that are the same on both."""

    def _page_get(
        self, record: RequestRecord, source: str, cookie_name: str, cookie_path: str
    ) -> tuple[Session, list[tuple[str, str]]] | None:
        """What both pages do first: delay, block, 500. Returns the session and its cookie headers to
        serve the page with, or ``None`` when the request has been answered already."""
        replica = self.server.replica
        self._sleep_or_drop(replica.form_delay)
        fault = replica._faults.take(block_modes(source), None)
        if fault is not None:
            self._block(record, fault)
            return None
        if self._status_refused(record, None):
            return None
        if self._fingerprint_refused(record, None, navigation=True):
            return None
        cookies = self._cookies()
        record.session = cookies.get(cookie_name)
        session = replica._sessions.get(source, record.session)
        # Source B clients without cookies share one anonymous session; a new session has nothing armed.
        armed = replica._sessions.anonymous(CENSO) if session is None and source == CENSO else session
        created = session is None
        if session is None:
            session = replica._sessions.new(source, replica.max_sessions)
        headers = self._set_cookies(source, session, created, cookies, cookie_name, cookie_path)
        error_fault: Fault | None = None
        with replica._lock:
            pending = armed is not None and armed.get500_pending
            if armed is not None:
                armed.get500_pending = False
        if not pending:
            error_fault = replica._faults.take([FaultMode.GET500], None)
        if pending or error_fault is not None:
            record.fault = error_fault.mode.value if error_fault else None
            record.detail = "get500_armed" if pending else ""
            body = error_500_page(self.headers.get("Host", replica.host)).encode()
            self._send(record, 500, body, HTML, Answer.ERROR_500, headers)
            return None
        return session, headers

    def _set_cookies(
        self,
        source: str,
        session: Session,
        created: bool,
        cookies: Mapping[str, str],
        cookie_name: str,
        cookie_path: str,
    ) -> list[tuple[str, str]]:
        headers = []
        if created:
            headers.append(("Set-Cookie", f"{cookie_name}={session.id}; path={cookie_path}; HttpOnly"))
        # The load balancer's own cookie, as the real sites set it; clients need not send it back.
        balancer = "BIGipServerpool_wsp_censo" if source == WSP else "TS01c3a7e1"
        if balancer not in cookies:
            value = "1427415232.20480.0000" if source == WSP else secrets.token_hex(24)
            headers.append(("Set-Cookie", f"{balancer}={value}; path=/; HttpOnly"))
        return headers

    def _fingerprint_refused(self, record: RequestRecord, cedula: str | None, *, navigation: bool) -> bool:
        """The ``fingerprint`` fault: the firewall's block page, HTTP 403, for a request without a
        browser's shape (:mod:`.fingerprint`). True if answered. A browser's request leaves the
        fault's firings alone."""
        replica = self.server.replica
        if not any(fault.mode is FaultMode.FINGERPRINT for fault in replica._faults.active()):
            return False
        problems = browser_shape_problems(
            list(self.headers.items()), method=self.command, navigation=navigation
        )
        if not problems:
            return False
        fault = replica._faults.take([FaultMode.FINGERPRINT], cedula)
        if fault is None:
            return False
        self._block(record, fault, f"fingerprint: {'; '.join(problems)};", status=403)
        return True

    def _status_refused(self, record: RequestRecord, cedula: str | None) -> bool:
        """The ``http4xx`` faults: a page GET (``cedula`` None) answered by those set for every
        request, a lookup by those set for its number. True if answered."""
        replica = self.server.replica
        modes = list(STATUS_FAULTS)
        fault = replica._faults.take(modes, cedula, run_modes=[] if cedula else modes)
        if fault is None:
            return False
        status = STATUS_FAULTS[fault.mode]
        answer, headers = _STATUS_ANSWERS[status]
        record.fault = fault.mode.value
        self._send(record, status, status_page(status, record.path).encode(), HTML, answer, headers)
        return True

    def _latin1(self, record: RequestRecord) -> bool:
        """Whether the ``latin1`` fault applies to this lookup's answer (counted as fired if so)."""
        fault = self.server.replica._faults.take([FaultMode.LATIN1], record.cedula or None)
        if fault is not None:
            record.fault = fault.mode.value
        return fault is not None

    # -- the lookup pipeline shared by both sources ------------------------------------------------

    def _network_faults(self, record: RequestRecord, cedula: str, outcome: Outcome | None) -> bool:
        """Block, drop and slow: they happen before the application sees the request. True if answered."""
        replica = self.server.replica
        if self._fingerprint_refused(record, cedula or None, navigation=False):
            return True
        if cedula and self._status_refused(record, cedula):
            return True
        modes = [*block_modes(record.source), FaultMode.DROP, FaultMode.SLOW]
        fault = replica._faults.take(modes, cedula or None)
        kind = outcome.kind if outcome is not None else None
        mode = fault.mode if fault is not None else None
        if fault is not None:
            record.fault = fault.mode.value
        elif kind in (OutcomeKind.BLOCK, OutcomeKind.DROP, OutcomeKind.SLOW):
            mode = FaultMode(str(kind))
            record.detail = f"table:{mode}"
        if mode in (FaultMode.BLOCK, FaultMode.BLOCK_WSP, FaultMode.BLOCK_CENSO):
            self._block(record, fault, record.detail)
            return True
        if mode is FaultMode.DROP:
            raise Drop(record.detail)
        if mode is FaultMode.SLOW:
            # The answer comes after the sleep (usually to nobody: the client has given up).
            self._sleep_or_drop(replica.slow_seconds)
        return False

    def _reload_faults(
        self, record: RequestRecord, session: Session, cedula: str, outcome: Outcome | None
    ) -> bool:
        """Reload and 500-on-GET answers (the latter arms the session's next page GET). True: reload."""
        replica = self.server.replica
        # A get500 set for every request concerns page GETs only, not lookups.
        fault = replica._faults.take(
            [FaultMode.RELOAD, FaultMode.GET500], cedula or None, run_modes=[FaultMode.RELOAD]
        )
        with replica._lock:
            if fault is not None:
                record.fault = fault.mode.value
                if fault.mode is FaultMode.GET500:
                    session.get500_pending = True
                    record.detail = "get500_armed"
                return True
            kind = outcome.kind if outcome is not None else None
            if kind is OutcomeKind.RELOAD_ONCE and cedula not in session.reloaded:
                session.reloaded.add(cedula)
                record.detail = "reload_once"
                return True
            if kind is OutcomeKind.GET500 and cedula not in session.get500_done:
                session.get500_done.add(cedula)
                session.get500_pending = True
                record.detail = "get500_armed"
                return True
        return False

    def _captcha_rejected(self, record: RequestRecord, cedula: str, outcome: Outcome | None) -> bool:
        replica = self.server.replica
        # The site verifies the token first (which uses it up), then may refuse for its own reasons.
        check = replica._check_captcha(record.captcha)
        record.captcha_check = check.value
        # refuse_tokens: the token is checked (and counted) as usual, then refused whatever the verdict,
        # as a site whose verification uses another key or captcha kind than its page shows.
        fault = replica._faults.take([FaultMode.CAPTCHA_REJECT, FaultMode.REFUSE_TOKENS], cedula or None)
        if fault is not None:
            record.fault = fault.mode.value
            return True
        if outcome is not None and outcome.kind is OutcomeKind.CAPTCHA_REJECT:
            record.detail = "table:captcha_reject"
            return True
        if check is not TokenCheck.ACCEPTED:
            record.detail = check.value if record.captcha else "no token"
            return True
        return False

    def _app_fault(self, record: RequestRecord, cedula: str, outcome: Outcome) -> Answer | None:
        """Garbage, curl error, "en actualización": the application's own failures, if one applies."""
        replica = self.server.replica
        fault = replica._faults.take(APP_FAULTS, cedula)
        if fault is not None:
            record.fault = fault.mode.value
            return Answer(fault.mode.value)
        kind = outcome.kind
        if kind is OutcomeKind.CURL_ERROR_ONCE:
            if replica._once(cedula):
                record.detail = "table:curl_error_once"
                return Answer.CURL_ERROR
            return None
        if kind in APP_KINDS:
            record.detail = f"table:{kind}"
            return Answer(kind.value)
        return None

    def _oversized(
        self, record: RequestRecord, source: str, answer: Answer, cedula: str, outcome: Outcome
    ) -> None:
        """A huge body, a gzip bomb or JSON nested very deep, as sized by the replica's knobs."""
        replica = self.server.replica
        place = outcome.place or derived_place(cedula)
        headers: list[tuple[str, str]] = []
        if answer is Answer.DEEP_JSON:
            depth = replica.deep_json_depth
            body = wsp_deep_json(depth) if source == WSP else censo_deep_json(depth)
            record.detail = f"{record.detail} depth {depth}".strip()
        else:
            size = replica.huge_bytes if answer is Answer.HUGE else replica.bomb_bytes
            padded = wsp_huge_answer if source == WSP else censo_huge_answer
            body = padded(cedula, place, size, blank=answer is Answer.GZIP_BOMB)
            if answer is Answer.GZIP_BOMB:
                body = gzip_bomb(body)
                headers.append(("Content-Encoding", "gzip"))
            record.detail = f"{record.detail} {size} bytes".strip()
        self._send(record, 200, body, JSON, answer, headers)
