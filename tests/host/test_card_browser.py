"""The status card's script in a real Chromium: it stops on any answer that is not the status
view's JSON (a 401, a redirect to a login page, an HTML page), waits out a server error, and counts
the wait before "Try again" down to an enabled button.

A live server thread (Django's ``LiveServerThread``) serves ``tests/host/urls.py`` and the
package's static files (``STATIC_ROOT`` is the package's ``static`` folder). The rows are written
before Playwright starts (its sync API runs an event loop in this thread, where the ORM refuses to
run), and the user's session is handed to the browser as a cookie.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect, sync_playwright

import django_cedula
from django_cedula.models import CedulaInfo
from django_cedula.testing.backends import RecordingBackend
from tests.conftest import serve_live

from ..conftest import CHROMIUM
from . import urls
from .conftest import FULL

pytestmark = [pytest.mark.browser, pytest.mark.integration]

LOGIN_REQUIRED = "django.contrib.auth.middleware.LoginRequiredMiddleware"
STATUS = "/cedula/status/"
LOGIN = "/accounts/login/"
#: How long a stopped script is watched for another request: its backoff polls again within 2 s
#: of a failure (1 s, then 2 s), so three quiet seconds after the stop mean it stopped.
QUIET_MS = 3_000


@pytest.fixture
def card_server(transactional_db: None, settings: Any) -> Iterator[str]:
    """``tests/host/urls.py`` and the package's script on a live server thread; its URL.

    Every page of this site needs a login (``LoginRequiredMiddleware``, set before the server
    loads its middleware), as on a host that made that its rule."""
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, LOGIN_REQUIRED]
    settings.ROOT_URLCONF = "tests.host.urls"
    settings.STATIC_URL = "/static/"
    settings.STATIC_ROOT = str(Path(django_cedula.__file__).parent / "static")
    settings.LOGIN_URL = LOGIN
    yield from serve_live()


@pytest.fixture
def row_of(
    make_user: Callable[..., Any], recording_backend: type[RecordingBackend]
) -> Callable[..., tuple[Any, dict[str, Any]]]:
    """``row_of(status, **fields)``: a user whose row is so (the recording backend keeps its job
    from running), and their session cookie for the browser."""

    def make(status: str, **fields: Any) -> tuple[Any, dict[str, Any]]:
        user = make_user(cedula=FULL)
        recording_backend.reset()  # the registration's job: each test queues what it checks
        CedulaInfo.objects.filter(user=user).update(status=status, **fields)
        client = Client()
        client.force_login(user)
        name = django_settings.SESSION_COOKIE_NAME
        return user, {"name": name, "value": client.cookies[name].value, "domain": "localhost", "path": "/"}

    return make


def open_page(driver: Any, url: str, cookie: dict[str, Any]) -> tuple[Any, Page, list[str]]:
    """A browser on ``url`` with the user's session; the paths it requests, as they happen."""
    urls.served.clear()
    browser = driver.chromium.launch(executable_path=CHROMIUM)
    context = browser.new_context(base_url=url)
    context.set_default_timeout(20_000)
    context.add_cookies([cookie])
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url.removeprefix(url).split("?")[0]))
    return browser, page, requested


def expect_stopped(page: Page, requested: list[str], path: str) -> None:
    """The script polled ``path`` once, stopped (its "updates by itself" line hidden), and asks
    for nothing more: the server never served the login page."""
    live = page.locator("[data-cedula-live]")
    expect(live).to_be_hidden()
    page.wait_for_timeout(QUIET_MS)
    assert requested.count(path) == 1, requested
    assert LOGIN not in urls.served, urls.served


def test_logged_out_under_login_required_middleware_the_script_stops_on_the_401(
    card_server: str, row_of: Callable[..., Any]
) -> None:
    # Every page of this site needs a login; the status view still answers a script with a 401.
    _user, cookie = row_of("pending")
    with sync_playwright() as driver:
        browser, page, requested = open_page(driver, card_server, cookie)
        try:
            page.goto("/card/")
            expect(page.locator("[data-cedula-live]")).to_be_visible()
            page.context.clear_cookies()  # logged out (in another tab, say) while the card polls
            expect_stopped(page, requested, STATUS)
            expect(page.locator("#cedula-status")).to_have_attribute("data-status", "pending")
            # The middleware is in force: another page sends the logged-out visitor to log in.
            assert page.request.get("/card/", max_redirects=0).status == 302
            assert page.request.get(STATUS, max_redirects=0).status == 401
        finally:
            browser.close()


@pytest.mark.parametrize("kind", ["redirect", "html"])
def test_the_script_stops_on_an_answer_that_is_not_the_views_json(
    card_server: str, row_of: Callable[..., Any], kind: str
) -> None:
    _user, cookie = row_of("pending")
    with sync_playwright() as driver:
        browser, page, requested = open_page(driver, card_server, cookie)
        try:
            page.goto(f"/card-at/{kind}/")
            expect_stopped(page, requested, f"/answers/{kind}/")
        finally:
            browser.close()


def test_the_script_waits_out_a_server_error(card_server: str, row_of: Callable[..., Any]) -> None:
    _user, cookie = row_of("pending")
    with sync_playwright() as driver:
        browser, page, requested = open_page(driver, card_server, cookie)
        try:
            page.goto("/card-at/broken/")
            # A gateway's 502 while the site restarts: asked again after 1 s, then 2 s.
            page.wait_for_timeout(4_500)
            assert requested.count("/answers/broken/") >= 2, requested
            expect(page.locator("[data-cedula-live]")).to_be_visible()
        finally:
            browser.close()


def test_try_again_is_enabled_when_the_wait_after_a_failure_is_over(
    card_server: str, row_of: Callable[..., Any], settings: Any, recording_backend: type[RecordingBackend]
) -> None:
    settings.CEDULA_REFRESH_COOLDOWN = 3600
    settings.CEDULA_RETRY_DELAYS = [6]
    # Registered 20 minutes ago; its last attempt ended a moment ago, as timeout.
    now = timezone.now()
    user, cookie = row_of(
        "timeout",
        requested_at=now - datetime.timedelta(minutes=20),
        updated_at=now - datetime.timedelta(seconds=1),
    )
    with sync_playwright() as driver:
        browser, page, requested = open_page(driver, card_server, cookie)
        try:
            page.goto("/card/")
            button = page.locator("#retry-button")
            wait = page.locator("[data-cedula-retry-wait]")
            expect(button).to_be_disabled()
            expect(wait).to_be_visible()
            expect(wait).to_contain_text("You can try again in a few seconds")
            navigations: list[str] = []
            page.on("framenavigated", lambda frame: navigations.append(frame.url))
            # Counted down in the page (a final status is not polled), then enabled: no reload.
            expect(button).to_be_enabled(timeout=10_000)
            expect(wait).to_be_hidden()
            assert navigations == []
            assert STATUS not in requested
            button.click()
            expect(page.locator("#message")).to_have_text("queued")
            expect(page.locator("#cedula-status")).to_have_attribute("data-status", "pending")
        finally:
            browser.close()
    assert [job.user_id for job in recording_backend.jobs] == [user.pk]
