"""The validations' list in a real Chromium at 1280x900, with the filter sidebar open: every
column fits (no horizontal scroll), with long place names, long usernames and every status.

A live server thread (Django's ``LiveServerThread``, as pytest-django's ``live_server`` runs it)
serves the tests' admin with its CSS and JavaScript: the tests' settings have no
``django.contrib.staticfiles``, so ``STATIC_URL`` and ``STATIC_ROOT`` (the admin's own static
folder) are set for the test, before the server starts. The rows are written before Playwright
starts (its sync API runs an event loop in this thread, where the ORM refuses to run), and the
staff user's session is handed to the browser as a cookie. Screenshots go to
``test-artifacts/screenshots/admin-changelist-1280*.png`` and ``admin-change-1280.png``.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import django.contrib.admin
import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, sync_playwright

from django_cedula.models import CedulaInfo
from django_cedula.testing.backends import RecordingBackend
from tests.conftest import serve_live

from ..conftest import CHROMIUM
from .conftest import grant

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
Status = CedulaInfo.Status

#: (municipio, departamento, puesto): real places with some of the census's longest names.
PLACES = [
    (
        "BOGOTÁ D.C.",
        "BOGOTÁ D.C.",
        "INSTITUCIÓN EDUCATIVA DISTRITAL COLEGIO NACIONAL NICOLÁS ESGUERRA SEDE A",
    ),
    ("SAN JOSÉ DEL GUAVIARE", "GUAVIARE", "INSTITUCIÓN EDUCATIVA CONCENTRACIÓN DE DESARROLLO RURAL"),
    ("SAN ANDRÉS", "ARCHIPIÉLAGO DE SAN ANDRÉS, PROVIDENCIA Y SANTA CATALINA", "COLEGIO BOLIVARIANO SEDE 2"),
    ("SAN ANDRÉS DE TUMACO", "NARIÑO", "UNIVERSIDAD NACIONAL ABIERTA Y A DISTANCIA CEAD TUMACO"),
    ("EL CARMEN DE VIBORAL", "ANTIOQUIA", "INSTITUCIÓN EDUCATIVA FRAY JULIO TOBÓN BETANCUR"),
    ("SAN JUAN DE RIOHACHA", "LA GUAJIRA", "CENTRO DE CONVENCIONES ANAS MAI"),
    ("SAN JOSÉ DE CÚCUTA", "NORTE DE SANTANDER", "COLISEO MENOR DEL BARRIO LA LIBERTAD"),
    (
        "GUADALAJARA DE BUGA",
        "VALLE DEL CAUCA",
        "INSTITUCIÓN EDUCATIVA ACADEMIA MILITAR TOMÁS HERRERA",
    ),
    ("SAN VICENTE DEL CAGUÁN", "CAQUETÁ", "INSTITUCIÓN EDUCATIVA JOSÉ ANTONIO GALÁN"),
    ("SANTA ROSA DE CABAL", "RISARALDA", "ESCUELA NORMAL SUPERIOR SANTA ROSA DE CABAL SEDE PRINCIPAL"),
]
#: Every status, the long labels among them, in the order the rows are written.
STATUSES = [
    Status.ACTIVE,
    Status.RETRYING,
    Status.BLOCKED,
    Status.CANCELLED_DECEASED,
    Status.CANCELLED_OTHER,
    Status.NOT_FOUND,
    Status.TIMEOUT,
    Status.PROCESSING,
    Status.INVALID,
    Status.ERROR,
]
WITHOUT_PLACE = {Status.NOT_FOUND, Status.INVALID, Status.PROCESSING}


@pytest.fixture
def admin_server(transactional_db: None, settings: Any) -> Iterator[str]:
    """The tests' URLs on a live server thread that also serves the admin's static files; its URL."""
    settings.STATIC_URL = "/static/"
    settings.STATIC_ROOT = str(Path(django.contrib.admin.__file__).parent / "static")
    yield from serve_live()


@pytest.fixture
def rows(
    transactional_db: None, recording_backend: type[RecordingBackend], make_user: Callable[..., Any]
) -> list[CedulaInfo]:
    """Twenty rows (the recording backend keeps their jobs from running), with long usernames."""
    moment = timezone.now().replace(microsecond=0)
    for index in range(20):
        municipio, departamento, puesto = PLACES[index % len(PLACES)]
        status = STATUSES[index % len(STATUSES)]
        user = make_user(
            username=f"maria.fernanda.rodriguez.gutierrez{index}@correo-institucional.example.co",
            cedula=str(1_020_304_050 + index),
        )
        place = (
            {}
            if status in WITHOUT_PLACE
            else {"municipio": municipio, "departamento": departamento, "puesto": puesto, "mesa": "123"}
        )
        CedulaInfo.objects.filter(user=user).update(
            status=status,
            retry_count=index % 4,
            updated_at=moment - datetime.timedelta(minutes=index, seconds=index),
            **place,
        )
    return list(CedulaInfo.objects.order_by("pk"))


def staff_cookie(make_user: Callable[..., Any], live_server_url: str) -> dict[str, Any]:
    """A logged-in staff user's session cookie, for the browser."""
    staff = make_user(username="staff", is_staff=True)
    grant(staff, "view_cedulainfo", "change_cedulainfo", "view_captchaspend")
    client = Client()
    client.force_login(staff)
    name = django_settings.SESSION_COOKIE_NAME
    return {"name": name, "value": client.cookies[name].value, "url": live_server_url}


def overflow(page: Page, selector: str) -> dict[str, int]:
    return page.evaluate(
        "(selector) => { const e = document.querySelector(selector);"
        " return {scroll: e.scrollWidth, client: e.clientWidth}; }",
        selector,
    )


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_changelist_fits_1280_pixels_with_the_filter_sidebar(
    admin_server: str,
    rows: list[CedulaInfo],
    make_user: Callable[..., Any],
    settings: Any,
    language: str,
) -> None:
    settings.LANGUAGE_CODE = language  # Spanish labels are longer ("Bloqueada por la fuente")
    cookie = staff_cookie(make_user, admin_server)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if language == "en" else f"-{language}"

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=admin_server)
            context.set_default_timeout(30_000)
            context.add_cookies([cookie])
            page = context.new_page()
            page.goto("/admin/django_cedula/cedulainfo/")
            assert page.title().startswith(("Select cédula validation", "Seleccione validación")), (
                page.title()
            )
            # The admin's stylesheet is served: the filter sidebar is laid out beside the list.
            assert page.evaluate("getComputedStyle(document.querySelector('#changelist-filter')).order") != ""

            assert page.locator("#changelist-filter").is_visible()
            assert page.locator("#changelist .results tbody tr").count() == 20
            results = overflow(page, "#changelist .results")
            body = overflow(page, "html")
            page.screenshot(path=str(SCREENSHOTS / f"admin-changelist-1280{suffix}.png"), full_page=True)
            assert results["scroll"] <= results["client"], results
            assert body["scroll"] <= body["client"], body
            # The long names are there, whole, and the times to the second with the zone.
            cells = page.locator("td.field-place").all_inner_texts()
            assert "SAN JOSÉ DEL GUAVIARE, GUAVIARE" in cells
            times = page.locator("td.field-updated_at_full").all_inner_texts()
            assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+", text) for text in times), times
            # No full number anywhere on the list.
            assert "1020304050" not in page.content()

            if language == "en":
                page.locator("#result_list tbody tr th a").first.click()
                page.wait_for_selector("#content-main fieldset")
                text = page.locator("#content-main").inner_text()
                for label in ("Polling station", "Voting table", "Record note", "Updated at", "Retries"):
                    assert label in text, label
                page.screenshot(path=str(SCREENSHOTS / "admin-change-1280.png"), full_page=True)
                change = overflow(page, "html")
                assert change["scroll"] <= change["client"], change
        finally:
            browser.close()
