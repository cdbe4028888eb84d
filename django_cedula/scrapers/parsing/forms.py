"""The lookup pages as an HTTP client gets them: what a lookup needs from the form's HTML.

A browser reads the loaded page with ``document.querySelector``; a client without one reads the same
markup here: which element ids the page has (``#nuip``, ``#documento``), the reCAPTCHA widget's
``data-sitekey``, the value of the hidden ``#token`` input, and whether the page carries the
firewall's block-page markers. Forgiving and total, as the other readers are: any input gives a
:class:`FormPage`.
"""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser

from .blocking import _BLOCK_MARKERS
from .bounds import MAX_ANSWER_BYTES, _text_of


@dataclasses.dataclass(frozen=True)
class FormPage:
    """What a lookup page offers: element ids, the site key, the hidden token, a block page or not."""

    ids: frozenset[str] = frozenset()
    #: ``data-sitekey`` of the first ``.g-recaptcha`` element (``""``: none).
    site_key: str = ""
    #: The ``value`` of ``input#token`` (Source A's per-load form token; ``""``: none).
    token: str = ""
    #: An element with a ``blocked`` or ``authenticate`` class or id: the firewall's block page's
    #: markers, as the browser scrapers look for them (``.blocked, .authenticate``). Whether a page
    #: without the form is a block page is :func:`~.blocking.is_block_page`'s to say.
    blocked: bool = False

    def has(self, element_id: str) -> bool:
        return element_id in self.ids


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.site_key = ""
        self.token = ""
        self.blocked = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        element_id = values.get("id", "").strip()
        classes = values.get("class", "").split()
        if not self.blocked and _BLOCK_MARKERS.intersection([*classes, element_id]):
            self.blocked = True
        if element_id:
            self.ids.add(element_id)
        if not self.site_key and "g-recaptcha" in classes:
            self.site_key = values.get("data-sitekey", "").strip()
        if tag == "input" and element_id == "token" and not self.token:
            self.token = values.get("value", "").strip()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def read_form_page(html: object) -> FormPage:
    """What ``html`` (the first :data:`MAX_ANSWER_BYTES` characters) offers a lookup; never raises."""
    text = _text_of(html)
    if text is None:
        return FormPage()
    text = text[:MAX_ANSWER_BYTES]
    parser = _FormParser()
    try:
        parser.feed(text)
        parser.close()
    except Exception:  # a reader of untrusted markup does not fail; what it read so far stands
        pass
    return FormPage(frozenset(parser.ids), parser.site_key, parser.token, parser.blocked)
