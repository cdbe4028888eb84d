"""{% cedula_status_card %}: the state rendered server-side, with what the script needs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import translation

from .conftest import FULL, MASKED, in_seconds

pytestmark = pytest.mark.django_db


def render(user: Any, tag: str = "{% cedula_status_card %}") -> str:
    request = RequestFactory().get("/profile/")
    request.user = user
    return Template("{% load cedula %}" + tag).render(Context({"request": request}))


def hidden(html: str, marker: str) -> bool:
    match = re.search(rf"<[^>]*{re.escape(marker)}[^>]*>", html)
    assert match, f"{marker} not in the card"
    return " hidden" in match.group(0)


def test_pending_card(user_with_info: Callable[..., Any]) -> None:
    html = render(user_with_info("pending"))
    assert 'id="cedula-status"' in html
    assert 'data-cedula-status-url="/cedula/status/"' in html
    assert 'data-final="false"' in html
    assert 'data-status="pending"' in html
    assert '<script src="/static/django_cedula/cedula-status.js" defer></script>' in html
    assert MASKED in html
    assert FULL not in html
    assert "secret raw answer" not in html
    assert "This page updates by itself." in html
    assert hidden(html, 'data-cedula-section="place"')
    assert hidden(html, 'data-cedula-section="next-attempt"')
    assert not hidden(html, "data-cedula-spinner")
    data = json.loads(
        re.search(r'<script id="cedula-status-data" type="application/json">(.*?)</script>', html).group(1)
    )  # type: ignore[union-attr]
    assert data["cedula_masked"] == MASKED
    assert data["status"] == "pending"


def test_active_card_shows_the_place_with_its_labels(user_with_info: Callable[..., Any]) -> None:
    html = render(user_with_info("active", departamento="ANTIOQUIA", municipio="MEDELLÍN", mesa="7"))
    assert 'data-final="true"' in html
    assert not hidden(html, 'data-cedula-section="place"')
    assert '<dd data-field="departamento">ANTIOQUIA</dd>' in html
    assert hidden(html, 'data-field="puesto"')  # empty values are hidden
    for label in ("Department", "Municipality", "Polling station", "Address", "Voting table"):
        assert f">{label}</dt>" in html
    assert "This page updates by itself." not in html
    with translation.override("es"):
        spanish = render(user_with_info("active", departamento="ANTIOQUIA"))
    for label in ("Departamento", "Municipio", "Puesto de votación", "Dirección", "Mesa"):
        assert f">{label}</dt>" in spanish


def test_retrying_card_shows_the_next_attempt(user_with_info: Callable[..., Any]) -> None:
    html = render(user_with_info("retrying", next_attempt_at=in_seconds(200)))
    assert not hidden(html, 'data-cedula-section="next-attempt"')
    assert "in about 3 minutes" in html
    assert re.search(
        r"<time data-cedula-next-at datetime=\"[^\"]+-05:00\">\d\d:\d\d:\d\d UTC-05:00</time>", html
    )


def test_retry_form_only_when_asked_and_shown_on_failures(user_with_info: Callable[..., Any]) -> None:
    tag = '{% cedula_status_card retry_url="/retry/" %}'
    assert "retry-button" not in render(user_with_info("blocked"))
    blocked = render(user_with_info("blocked"), tag)
    assert 'action="/retry/"' in blocked
    assert not hidden(blocked, 'data-cedula-section="retry"')
    assert hidden(render(user_with_info("active"), tag), 'data-cedula-section="retry"')


def test_options(user_with_info: Callable[..., Any]) -> None:
    html = render(user_with_info("pending"), '{% cedula_status_card script=False card_id="mine" %}')
    assert "<script src=" not in html
    assert 'id="mine"' in html
    assert 'id="mine-data"' in html


def test_no_validation_and_anonymous(make_user: Callable[..., Any]) -> None:
    html = render(make_user())
    assert "There is no cédula validation on your account." in html
    assert 'data-final="true"' in html
    assert "<script src=" not in html
    assert "There is no cédula validation" in render(AnonymousUser())


def test_without_the_urls_included_the_card_does_not_poll(
    user_with_info: Callable[..., Any], settings: Any
) -> None:
    settings.ROOT_URLCONF = "tests.admin.urls"
    html = render(user_with_info("pending"))
    assert 'data-cedula-status-url=""' in html
    assert "<script src=" not in html


def test_the_script_has_no_text_of_its_own() -> None:
    from pathlib import Path

    import django_cedula

    script = (Path(django_cedula.__file__).parent / "static/django_cedula/cedula-status.js").read_text()
    code = "\n".join(line for line in script.splitlines() if not line.strip().startswith("//"))
    literals = set(re.findall(r'"([^"\\]*)"', code))
    # Only selectors, attribute names, event names and protocol words: no sentence.
    code_words = {"use strict", "status status-", "HTTP ", "' + field + '", "' + name + '"}
    assert not [text for text in literals - code_words if " " in text and not text.startswith("[")]


def test_another_users_card_is_shown_but_not_followed(
    user_with_info: Callable[..., Any], make_user: Callable[..., Any]
) -> None:
    # The JSON view answers the viewer's own row: following it would swap the card for the viewer's.
    owner = user_with_info("retrying")
    request = RequestFactory().get("/staff/")
    request.user = make_user(is_staff=True)
    html = Template("{% load cedula %}{% cedula_status_card owner %}").render(
        Context({"request": request, "owner": owner})
    )
    assert 'data-status="retrying"' in html
    assert MASKED in html
    assert 'data-cedula-status-url=""' in html
    assert 'data-cedula-status-url=""' not in render(owner)


def test_the_retry_button_waits_out_the_cooldown_with_its_time(
    user_with_info: Callable[..., Any], settings: Any
) -> None:
    settings.CEDULA_REFRESH_COOLDOWN = 3600
    settings.CEDULA_RETRY_DELAYS = [60]
    tag = '{% cedula_status_card retry_url="/retry/" %}'
    html = render(user_with_info("timeout", updated_at=in_seconds(-10)), tag)
    assert re.search(r'<button type="submit" id="retry-button" data-cedula-retry-button disabled>', html)
    assert not hidden(html, "data-cedula-retry-wait")
    assert re.search(r"You can try again <span data-cedula-retry-in>in about a minute</span>", html)
    assert re.search(
        r'<time data-cedula-retry-at datetime="[^"]+-05:00">\d\d:\d\d:\d\d UTC-05:00</time>', html
    )
    with translation.override("es"):
        spanish = render(user_with_info("timeout", updated_at=in_seconds(-10)), tag)
    assert "Puede intentarlo de nuevo" in spanish


def test_the_retry_button_is_ready_once_the_wait_is_over(
    user_with_info: Callable[..., Any], settings: Any
) -> None:
    settings.CEDULA_RETRY_DELAYS = [60]
    html = render(
        user_with_info("timeout", updated_at=in_seconds(-120)), '{% cedula_status_card retry_url="/retry/" %}'
    )
    assert re.search(r'<button type="submit" id="retry-button" data-cedula-retry-button>', html)
    assert hidden(html, "data-cedula-retry-wait")
