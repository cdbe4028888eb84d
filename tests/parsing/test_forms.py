"""The form pages as an HTTP client reads them (``read_form_page``), and HTTP 403 as a refusal."""

from __future__ import annotations

import pytest

from django_cedula.results import ScrapeStatus
from django_cedula.scrapers.parsing import (
    parse_consultacenso_response,
    parse_wsp_response,
    read_form_page,
)
from django_cedula.testing.replica import DEFAULT_SITE_KEY
from django_cedula.testing.replica.censo_pages import censo_page
from django_cedula.testing.replica.site_pages import block_page
from django_cedula.testing.replica.wsp_pages import wsp_form_page


def test_the_wsp_form_without_javascript_has_all_a_lookup_needs() -> None:
    form = read_form_page(wsp_form_page(token="ab" * 16, site_key=DEFAULT_SITE_KEY, recaptcha_src="/api.js"))
    assert form.has("nuip")
    assert form.has("tipo")
    assert (form.site_key, form.token, form.blocked) == (DEFAULT_SITE_KEY, "ab" * 16, False)


def test_the_censo_app_page_has_its_site_key() -> None:
    form = read_form_page(censo_page(site_key="6Lkey", recaptcha_src="/api.js", api_base="/back/api/"))
    assert form.has("documento")
    assert (form.site_key, form.token) == ("6Lkey", "")


def test_the_block_page_carries_its_markers() -> None:
    form = read_form_page(block_page("1234567890123456789"))
    assert form.blocked
    assert not form.site_key


@pytest.mark.parametrize("junk", ["", "<<<>>>", "\x00" * 10, b"\xff\xfe<input id=token value=x>", 42, None])
def test_any_input_gives_a_form_page(junk: object) -> None:
    read_form_page(junk)


def test_a_bare_403_is_blocked() -> None:
    assert parse_wsp_response("<html>Forbidden</html>", http_status=403).status is ScrapeStatus.BLOCKED
    assert parse_consultacenso_response("Forbidden", http_status=403).status is ScrapeStatus.BLOCKED
