"""The election-season site's endpoints: its page and its JSON API, in the order the API checks things.

The API refuses, with the firewall's page and HTTP 403, any request that has not the shape of a
browser page's ``fetch()`` (:mod:`.fingerprint`): peers saw plain Python clients refused while a
browser's ``fetch()`` worked. Out of season the hosts have no DNS: the ``elecciones_offline`` fault
closes every connection to the site and the API at once, and ``elecciones_502`` answers every request
with a gateway's 502 page.
"""

from __future__ import annotations

import json
from typing import Any

from . import elecciones_pages as pages
from .faults import FaultMode, block_modes
from .fingerprint import browser_shape_problems
from .http_server import HTML, JSON, RECAPTCHA_PATH, Drop
from .outcomes import OutcomeKind, derived_place, outcome_for
from .records import Answer, RequestRecord
from .shared_steps import VALID_NUMBER, SharedSteps

#: The source's name in the request log (:attr:`RequestRecord.source`) and for ``Replica.source``.
ELECCIONES = "elecciones"
#: The season's page and its API, under the replica's one host (the real API lives on a host of its own).
ELECCIONES_PATH = "/elecciones/identificacion"
ELECCIONES_API_PATH = "/elecciones/api/v1/citizen/get-information"

_OFF_SEASON = (FaultMode.ELECCIONES_OFFLINE, FaultMode.ELECCIONES_502)


class EleccionesEndpoints(SharedSteps):
    """The election-season page and API."""

    def _elecciones_off_season(self, record: RequestRecord) -> bool:
        """The ``elecciones_offline`` and ``elecciones_502`` faults, on any request to the site. True if
        answered (the connection closed: :class:`~.http_server.Drop`)."""
        fault = self.server.replica._faults.take(_OFF_SEASON, None)
        if fault is None:
            return False
        record.fault = fault.mode.value
        if fault.mode is FaultMode.ELECCIONES_OFFLINE:
            raise Drop("elecciones_offline")
        self._send(record, 502, pages.BAD_GATEWAY_PAGE.encode(), HTML, Answer.ERROR_500)
        return True

    def _elecciones_page(self, record: RequestRecord) -> None:
        replica = self.server.replica
        if self._elecciones_off_season(record):
            return
        self._sleep_or_drop(replica.form_delay)
        fault = replica._faults.take(block_modes(ELECCIONES), None)
        if fault is not None:
            self._block(record, fault)
            return
        if self._status_refused(record, None) or self._fingerprint_refused(record, None, navigation=True):
            return
        changed = replica._faults.take([FaultMode.FORM_SHAPE], None)
        if changed is not None:
            record.fault = changed.mode.value
        page = pages.elecciones_page(
            site_key=replica.site_key,
            recaptcha_src=RECAPTCHA_PATH + "api.js?hl=es",
            api_url=ELECCIONES_API_PATH,
            with_widget=changed is None,
        )
        self._send(record, 200, page.encode(), HTML, Answer.PAGE)

    def _elecciones_answer(self, record: RequestRecord, status: int, payload: Any, answer: Answer) -> None:
        self._send(record, status, pages.elecciones_json(payload), JSON, answer)

    def _elecciones_lookup(self, record: RequestRecord) -> None:
        replica = self.server.replica
        if self._elecciones_off_season(record):
            return
        body = self._body(record)
        if body is None:
            return
        try:
            request = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            request = None
        request = request if isinstance(request, dict) else {}
        identification = request.get("identification")
        cedula = str(identification).strip() if isinstance(identification, (str, int)) else ""
        record.cedula = cedula
        election = request.get("election_code")
        record.election = None if election is None else str(election)
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        record.captcha = token.strip() if scheme.lower() == "bearer" else None
        problems = browser_shape_problems(list(self.headers.items()), method=self.command, navigation=False)
        if problems:
            # Always on, as peers met it: a client that is not a browser page's fetch() is refused.
            self._block(record, None, f"not a browser: {'; '.join(problems)};", status=403)
            return
        outcome = outcome_for(cedula) if VALID_NUMBER.fullmatch(cedula) else None
        if self._network_faults(record, cedula, outcome):
            return
        if request.get("identification_type") != "CC" or request.get("module") != "polling_place":
            payload = pages.elecciones_error(pages.BAD_REQUEST_TEXT, 400)
            self._elecciones_answer(record, 400, payload, Answer.INVALID)
            return
        if self._captcha_rejected(record, cedula, outcome):
            self._elecciones_answer(
                record, 403, pages.elecciones_error(pages.TOKEN_TEXT, 403), Answer.CAPTCHA
            )
            return
        if record.election not in {code for code, _ in pages.ELECCIONES_CODES}:
            payload = pages.elecciones_error(pages.BAD_ELECTION_TEXT, 2)
            self._elecciones_answer(record, 400, payload, Answer.INVALID)
            return
        if outcome is None:
            self._elecciones_answer(
                record, 400, pages.elecciones_error(pages.BAD_NUMBER_TEXT, 1), Answer.INVALID
            )
            return
        place = outcome.place or derived_place(cedula)
        new = replica._faults.take([FaultMode.NEW_MARKUP], cedula)
        if new is not None:
            record.fault = new.mode.value
            self._elecciones_answer(
                record, 200, pages.elecciones_new_markup(cedula, place), Answer.NEW_MARKUP
            )
            return
        app = self._app_fault(record, cedula, outcome)
        if app is Answer.GARBAGE:
            self._send(record, 200, pages.ELECCIONES_GARBAGE, JSON, app)
        elif app in (Answer.CURL_ERROR, Answer.UPDATING):
            payload = pages.elecciones_error(pages.GATEWAY_TEXT, 504)
            self._elecciones_answer(record, 504, payload, app)
        elif outcome.kind is OutcomeKind.NOT_FOUND:
            self._elecciones_answer(record, 404, pages.elecciones_not_found(), Answer.NOT_FOUND)
        elif outcome.kind is OutcomeKind.CANCELLED:
            assert outcome.novedad is not None
            payload = pages.elecciones_novelty(cedula, outcome.novedad)
            self._elecciones_answer(record, 200, payload, Answer.CANCELLED)
        else:
            # Every other number is found (the census sources' oversized answers are not served here).
            self._elecciones_answer(record, 200, pages.elecciones_found(cedula, place), Answer.FOUND)
