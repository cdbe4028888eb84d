"""Small HTTP clients for the replica's tests: stdlib only, cookies kept by hand, no redirects or retries."""

from __future__ import annotations

import dataclasses
import http.client
import json
import re
import uuid
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from django_cedula.testing.replica import DEFAULT_SITE_KEY
from django_cedula.testing.replica.tokens import issue_token


class Target(Protocol):
    """Where the clients send requests: a :class:`Replica`, or :class:`Remote` for one in another process."""

    @property
    def wsp_url(self) -> str: ...

    @property
    def censo_url(self) -> str: ...

    @property
    def censo_api_url(self) -> str: ...

    @property
    def site_key(self) -> str: ...


@dataclasses.dataclass
class Remote:
    """The URLs of a replica running elsewhere (the CLI in a subprocess)."""

    url: str
    site_key: str = DEFAULT_SITE_KEY

    @property
    def wsp_url(self) -> str:
        return self.url + "censo/consultar/"

    @property
    def censo_url(self) -> str:
        return self.url + "consultacenso/"

    @property
    def censo_api_url(self) -> str:
        return self.url + "consultacenso/back/api/"


@dataclasses.dataclass
class Response:
    """An answer as the tests need it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def set_cookies(self) -> dict[str, str]:
        """``name -> full Set-Cookie value`` of every cookie the answer sets."""
        cookies = {}
        for key, value in self.headers:
            if key.lower() == "set-cookie":
                cookies[value.split("=", 1)[0]] = value
        return cookies


class Client:
    """One browser-like client: keeps the cookies the replica sets (ignoring paths: one host)."""

    def __init__(self, replica: Target, timeout: float = 10.0) -> None:
        self.replica = replica
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        #: The captcha response the last lookup sent.
        self.captcha: str | None = None

    def fresh_captcha(self, captcha: str | None) -> str:
        """``captcha``, or a new token for the replica's site key, as a solver would give; remembered."""
        self.captcha = issue_token(self.replica.site_key) if captcha is None else captcha
        return self.captcha

    def request(
        self, method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> Response:
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=self.timeout)
        try:
            all_headers = dict(headers or {})
            if self.cookies:
                all_headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request(method, target, body=body, headers=all_headers)
            answer = connection.getresponse()
            response = Response(answer.status, answer.getheaders(), answer.read())
        finally:
            connection.close()
        for name, value in response.set_cookies.items():
            self.cookies[name] = value.split("=", 1)[1].split(";", 1)[0]
        return response

    def get(self, url: str) -> Response:
        return self.request("GET", url)


class WspClient(Client):
    """Drives Source A the way its page script does."""

    def __init__(self, replica: Target, timeout: float = 10.0) -> None:
        super().__init__(replica, timeout)
        self.token: str | None = None
        self.page: Response | None = None

    def load(self) -> Response:
        """GET the form and remember its token."""
        self.page = self.get(self.replica.wsp_url)
        match = re.search(r'id="token" value="([^"]*)"', self.page.text)
        self.token = match.group(1) if match else None
        return self.page

    def post(
        self,
        nuip: str,
        *,
        captcha: str | None = None,
        token: str | None = None,
        tipo: str = "-1",
        multipart: bool = True,
    ) -> Response:
        """POST a lookup with the current token (or ``token``) and a fresh captcha token (or ``captcha``)."""
        fields = {
            "nuip": nuip,
            "tipo": tipo,
            "token": (self.token or "") if token is None else token,
            "g-recaptcha-response": self.fresh_captcha(captcha),
        }
        if multipart:
            boundary = "----replica" + uuid.uuid4().hex
            parts = [
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                for name, value in fields.items()
            ]
            body = ("".join(parts) + f"--{boundary}--\r\n").encode()
            content_type = f"multipart/form-data; boundary={boundary}"
        else:
            body = urlencode(fields).encode()
            content_type = "application/x-www-form-urlencoded"
        return self.request("POST", self.replica.wsp_url, body, {"Content-Type": content_type})

    def lookup(self, nuip: str, **options: Any) -> Response:
        """Load a fresh page and POST one lookup, like one visit of the page."""
        self.load()
        return self.post(nuip, **options)


class CensoClient(Client):
    """Drives Source B's JSON API."""

    def load(self) -> Response:
        return self.get(self.replica.censo_url)

    def elections(self) -> Response:
        return self.get(self.replica.censo_api_url + "elecciones")

    def lookup(self, documento: object, *, captcha: str | None = None, eleccion: object = 0) -> Response:
        payload = {
            "documento": documento,
            "eleccionId": eleccion,
            "captchaToken": self.fresh_captcha(captcha),
        }
        return self.request(
            "POST",
            self.replica.censo_api_url + "consulta",
            json.dumps(payload).encode(),
            {"Content-Type": "application/json"},
        )


@dataclasses.dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""


class Elements(HTMLParser):
    """Every start tag of a document with its attributes, plus the text directly inside it."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.elements.append(element)
        if tag not in {"input", "meta", "br", "hr", "img", "link"}:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        # Close the innermost open element of that tag; stray closing tags are ignored, like a browser.
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].tag == tag:
                del self._open[index:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data

    def by_id(self, ident: str) -> Element:
        matches = [e for e in self.elements if e.attrs.get("id") == ident]
        assert len(matches) == 1, f"{len(matches)} elements with id {ident!r}"
        return matches[0]

    def select(self, tag: str, **attrs: str) -> list[Element]:
        wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
        return [
            e for e in self.elements if e.tag == tag and all(e.attrs.get(k) == v for k, v in wanted.items())
        ]

    def with_class(self, name: str) -> list[Element]:
        return [e for e in self.elements if name in e.attrs.get("class", "").split()]


def cells(message: str) -> dict[str, str]:
    """``data-th -> stripped text`` of the table cells in a Source A message."""
    tds = Elements(message).select("td")
    return {e.attrs["data-th"]: e.text.strip() for e in tds if "data-th" in e.attrs}


def headers(message: str) -> list[str]:
    """The header cells of a Source A message, in order."""
    return [e.text.strip() for e in Elements(message).select("th")]
