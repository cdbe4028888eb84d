"""Source B's endpoints: the "consultacenso" page, its election list and its JSON lookup
(``back/api/consulta``), in the order the app checks things."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from . import censo_pages
from .changed_pages import censo_changed_page, censo_new_markup_answer
from .faults import FaultMode, block_modes, hostile_markup
from .http_server import CENSO, CENSO_API_PATH, CENSO_PATH, HTML, JSON, RECAPTCHA_PATH
from .outcomes import OutcomeKind, outcome_for
from .records import Answer, RequestRecord
from .shared_steps import LATIN1_JSON, OVERSIZED, VALID_NUMBER, SharedSteps, latin1_json


class CensoEndpoints(SharedSteps):
    """Source B's page, election list and lookup."""

    def _censo_page(self, record: RequestRecord) -> None:
        replica = self.server.replica
        served = self._page_get(record, CENSO, "PHPSESSID", CENSO_PATH)
        if served is None:
            return
        session, headers = served
        record.session = session.id
        script = RECAPTCHA_PATH + "api.js?hl=es"
        changed = replica._faults.take([FaultMode.FORM_SHAPE], None)
        if changed is None:
            page = censo_pages.censo_page(
                site_key=replica.site_key, recaptcha_src=script, api_base=CENSO_API_PATH
            )
        else:
            record.fault = changed.mode.value
            page = censo_changed_page(site_key=replica.site_key, recaptcha_src=script)
        body = page.encode()
        self._send(record, 200, body, HTML, Answer.PAGE, headers)

    def _censo_elections(self, record: RequestRecord) -> None:
        fault = self.server.replica._faults.take(block_modes(CENSO), None)
        if fault is not None:
            self._block(record, fault)
            return
        if self._fingerprint_refused(record, None, navigation=False):
            return
        self._send(
            record, 200, censo_pages.censo_json(censo_pages.censo_elections()), JSON, Answer.ELECCIONES
        )

    def _censo_send(
        self, record: RequestRecord, status: int, payload: Mapping[str, Any], answer: Answer
    ) -> None:
        if self._latin1(record):
            self._send(record, status, latin1_json(payload), LATIN1_JSON, answer)
            return
        self._send(record, status, censo_pages.censo_json(payload), JSON, answer)

    def _censo_lookup(self, record: RequestRecord) -> None:
        replica = self.server.replica
        body = self._body(record)
        if body is None:
            return
        record.session = self._cookies().get("PHPSESSID")
        try:
            request = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            request = None
        if not isinstance(request, dict):
            record.cedula = ""
            self._censo_send(
                record, 400, censo_pages.censo_error(censo_pages.CENSO_BAD_REQUEST_TEXT), Answer.INVALID
            )
            return
        documento = request.get("documento")
        cedula = str(documento).strip() if isinstance(documento, (str, int)) else ""
        record.cedula = cedula
        election = request.get("eleccionId")
        record.election = None if election is None else str(election)
        captcha = request.get("captchaToken")
        record.captcha = captcha if isinstance(captcha, str) else None
        outcome = outcome_for(cedula) if VALID_NUMBER.fullmatch(cedula) else None
        if self._network_faults(record, cedula, outcome):
            return
        session = replica._sessions.get(CENSO, record.session) or replica._sessions.anonymous(CENSO)
        if self._reload_faults(record, session, cedula, outcome):
            payload = censo_pages.censo_error(censo_pages.CENSO_RELOAD_TEXT, reload=True)
            self._censo_send(record, 200, payload, Answer.RELOAD)
            return
        if self._captcha_rejected(record, cedula, outcome):
            self._censo_send(
                record, 400, censo_pages.censo_error(censo_pages.CENSO_CAPTCHA_TEXT), Answer.CAPTCHA
            )
            return
        if outcome is None:
            self._censo_send(
                record, 400, censo_pages.censo_error(censo_pages.CENSO_INVALID_TEXT), Answer.INVALID
            )
            return
        hostile = replica._faults.take([FaultMode.HOSTILE_MARKUP], cedula)
        if hostile is not None:
            record.fault = hostile.mode.value
            self._send(record, 200, hostile_markup(), HTML, Answer.GARBAGE)
            return
        new = replica._faults.take([FaultMode.NEW_MARKUP, FaultMode.NEW_MARKUP_CENSO], cedula)
        if new is not None:
            record.fault = new.mode.value
            self._censo_send(record, 200, censo_new_markup_answer(cedula, outcome), Answer.NEW_MARKUP)
            return
        app = self._app_fault(record, cedula, outcome)
        if app in OVERSIZED:
            self._oversized(record, CENSO, app, cedula, outcome)
        elif app is Answer.GARBAGE:
            self._send(record, 200, censo_pages.CENSO_GARBAGE, JSON, app)
        elif app is Answer.CURL_ERROR:
            self._censo_send(record, 502, censo_pages.censo_curl_error(), app)
        elif app is Answer.UPDATING:
            self._censo_send(record, 200, censo_pages.censo_updating(), app)
        elif outcome.kind is OutcomeKind.NOT_FOUND:
            self._censo_send(record, 200, censo_pages.censo_not_found(), Answer.NOT_FOUND)
        elif outcome.kind is OutcomeKind.CANCELLED:
            assert outcome.novedad is not None
            self._censo_send(
                record, 200, censo_pages.censo_novedad(cedula, outcome.novedad), Answer.CANCELLED
            )
        else:
            assert outcome.place is not None
            payload = censo_pages.censo_found(cedula, outcome.place, upper_keys=outcome.upper_keys)
            self._censo_send(record, 200, payload, Answer.FOUND)
