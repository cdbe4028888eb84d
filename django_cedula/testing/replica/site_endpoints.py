"""The replica's own endpoints, outside both sources: its home page, the favicon, and the stand-in
for Google's reCAPTCHA (the script and the checkbox's "solve", which issues a fresh token)."""

from __future__ import annotations

import functools
import json
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from .http_server import HTML, JSON, HandlerBase
from .outcomes import outcome_table_markdown
from .records import Answer, RequestRecord
from .site_pages import index_page


class SiteEndpoints(HandlerBase):
    """The home page, the favicon and the reCAPTCHA stand-in."""

    def _index(self, record: RequestRecord) -> None:
        replica = self.server.replica
        body = index_page(
            wsp_url=replica.wsp_url, censo_url=replica.censo_url, table_markdown=outcome_table_markdown()
        )
        self._send(record, 200, body.encode(), HTML, Answer.INDEX)

    def _no_content(self, record: RequestRecord) -> None:
        # Browsers ask for it on every page; a 404 would put an error in their console.
        self._send(record, 204, b"", HTML, Answer.NO_CONTENT)

    def _recaptcha_script(self, record: RequestRecord) -> None:
        self._send(record, 200, _recaptcha_script(), "text/javascript; charset=utf-8", Answer.SCRIPT)

    def _recaptcha_token(self, record: RequestRecord) -> None:
        # The widget's checkbox asks here: each click "solves" the captcha with a fresh token, for the
        # site key the widget was rendered with (``k``, as Google's own frame sends it).
        site_key = parse_qs(urlsplit(self.path).query).get("k", [""])[0]
        token = self.server.replica.issue_token(site_key or None)
        body = json.dumps({"success": True, "token": token}).encode()
        self._send(record, 200, body, JSON, Answer.CAPTCHA_TOKEN)


@functools.lru_cache(maxsize=1)
def _recaptcha_script() -> bytes:
    return resources.files("django_cedula.testing.replica").joinpath("static/recaptcha_api.js").read_bytes()
