"""Source A's endpoints: the "wsp" page (GET: the form with a fresh single-use token) and its
lookup (POST: a form, answered with PHP-style JSON), in the order the real site checks things."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs

from . import wsp_pages
from .changed_pages import wsp_changed_form_page, wsp_new_markup_answer
from .faults import FaultMode, hostile_markup
from .http_server import HTML, JSON, RECAPTCHA_PATH, WSP
from .outcomes import CURL_ERROR_TEXT, UPDATING_TEXT, OutcomeKind, outcome_for
from .records import Answer, RequestRecord
from .shared_steps import LATIN1_JSON, OVERSIZED, VALID_NUMBER, SharedSteps, latin1_json
from .wsp_pages import wsp_form_page


class WspEndpoints(SharedSteps):
    """Source A's page and lookup."""

    def _wsp_page(self, record: RequestRecord) -> None:
        replica = self.server.replica
        served = self._page_get(record, WSP, "PHPSESSID", "/censo/")
        if served is None:
            return
        session, headers = served
        token = secrets.token_hex(16)
        with replica._lock:
            # A new page load issues a new token; the previous one is dead.
            session.token = token
            record.session = session.id
        changed = replica._faults.take([FaultMode.FORM_SHAPE], None)
        render = wsp_form_page if changed is None else wsp_changed_form_page
        if changed is not None:
            record.fault = changed.mode.value
        body = render(
            token=token, site_key=replica.site_key, recaptcha_src=RECAPTCHA_PATH + "api.js?hl=es"
        ).encode()
        self._send(record, 200, body, HTML, Answer.PAGE, headers)

    def _wsp_send(self, record: RequestRecord, payload: Mapping[str, Any], answer: Answer) -> None:
        if self._latin1(record):
            self._send(record, 200, latin1_json(payload), LATIN1_JSON, answer)
            return
        self._send(record, 200, wsp_pages.wsp_json(payload), JSON, answer)

    def _wsp_lookup(self, record: RequestRecord) -> None:
        replica = self.server.replica
        record.kind = "lookup"
        body = self._body(record)
        if body is None:
            return
        fields = _parse_form(self.headers.get("Content-Type", ""), body)
        nuip = fields.get("nuip", "").strip()
        record.cedula = nuip
        record.election = fields.get("tipo")
        record.token = fields.get("token")
        record.captcha = fields.get("g-recaptcha-response")
        record.session = self._cookies().get("PHPSESSID")
        outcome = outcome_for(nuip) if VALID_NUMBER.fullmatch(nuip) else None
        if self._network_faults(record, nuip, outcome):
            return

        # The form token: single use, bound to the session that loaded the page.
        session = replica._sessions.get(WSP, record.session)
        with replica._lock:
            if session is None:
                reason = "no_session"
            elif not record.token or session.token != record.token:
                reason = "stale_token"
            else:
                reason = ""
                session.token = None
        if session is None or reason:
            record.detail = reason
            self._wsp_send(record, wsp_pages.WSP_RELOAD, Answer.RELOAD)
            return

        if self._reload_faults(record, session, nuip, outcome):
            self._wsp_send(record, wsp_pages.WSP_RELOAD, Answer.RELOAD)
            return
        if self._captcha_rejected(record, nuip, outcome):
            self._wsp_send(record, wsp_pages.wsp_answer(False, wsp_pages.CAPTCHA_TEXT), Answer.CAPTCHA)
            return
        if outcome is None:
            self._wsp_send(record, wsp_pages.wsp_answer(False, wsp_pages.INVALID_NUIP_TEXT), Answer.INVALID)
            return
        hostile = replica._faults.take([FaultMode.HOSTILE_MARKUP], nuip)
        if hostile is not None:
            record.fault = hostile.mode.value
            self._send(record, 200, hostile_markup(), HTML, Answer.GARBAGE)
            return
        new = replica._faults.take([FaultMode.NEW_MARKUP, FaultMode.NEW_MARKUP_WSP], nuip)
        if new is not None:
            record.fault = new.mode.value
            self._wsp_send(record, wsp_new_markup_answer(nuip, outcome), Answer.NEW_MARKUP)
            return
        app = self._app_fault(record, nuip, outcome)
        if app in OVERSIZED:
            self._oversized(record, WSP, app, nuip, outcome)
        elif app is Answer.GARBAGE:
            self._wsp_send(record, wsp_pages.wsp_answer(True, wsp_pages.wsp_garbage_message(nuip)), app)
        elif app is Answer.CURL_ERROR:
            self._wsp_send(record, wsp_pages.wsp_answer(False, CURL_ERROR_TEXT), app)
        elif app is Answer.UPDATING:
            self._wsp_send(record, wsp_pages.wsp_answer(True, UPDATING_TEXT), app)
        elif outcome.kind is OutcomeKind.NOT_FOUND:
            self._wsp_send(
                record, wsp_pages.wsp_answer(True, wsp_pages.wsp_not_found_message()), Answer.NOT_FOUND
            )
        elif outcome.kind is OutcomeKind.CANCELLED:
            assert outcome.novedad is not None
            message = wsp_pages.wsp_novedad_message(nuip, outcome.novedad)
            self._wsp_send(record, wsp_pages.wsp_answer(True, message), Answer.CANCELLED)
        else:
            assert outcome.place is not None
            message = wsp_pages.wsp_found_message(nuip, outcome.place, swap_columns=outcome.swap_columns)
            self._wsp_send(record, wsp_pages.wsp_answer(True, message), Answer.FOUND)


def _parse_form(content_type: str, body: bytes) -> dict[str, str]:
    """The fields of a multipart or url-encoded form (first value of each name)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data":
        # The email parser reads MIME multipart bodies; it needs the header that carries the boundary.
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        fields: dict[str, str] = {}
        if isinstance(message, EmailMessage) and message.is_multipart():
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if not isinstance(name, str) or name in fields:
                    continue
                payload = part.get_payload(decode=True)
                fields[name] = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        return fields
    if media_type in ("application/x-www-form-urlencoded", ""):
        parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {name: values[0] for name, values in parsed.items()}
    return {}
