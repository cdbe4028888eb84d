"""The example project running for real (a qcluster and runserver, as demo.py runs them), driven by
Playwright's sync API.

The replica runs in this process (``cedula_replica_server``) so that tests can switch its faults;
the project's processes reach it over HTTP. Nothing here touches the ORM: Playwright's sync API
keeps an event loop in this thread, and the state is read from the pages instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, Playwright, expect, sync_playwright

from django_cedula.testing.replica import Replica
from example_project.demo import ROOT, Stack

from ..conftest import CHROMIUM  # missing: skipped, or failed when CI is set (require_chromium)
from ..log_privacy import GUARD

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PASSWORD = "correct-Horse-battery-9"
#: How long a registration may take to reach a final state (a lookup takes seconds on the replica).
FINAL_TIMEOUT_MS = 60_000
HERE = Path(__file__).resolve().parent

#: The example project's settings for these tests: no retries (a failure is final at once), no
#: cooldown before "Try again", and a fast password hasher.
TEST_ENVIRONMENT = {
    "EXAMPLE_RETRY_DELAYS": "",
    "EXAMPLE_REFRESH_COOLDOWN": "0",
    "EXAMPLE_FAST_PASSWORD_HASHER": "1",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The example project runs on SQLite whatever the tests' database is: tox runs these once,
    # in integration-sqlite, by this marker.
    for item in items:
        if Path(str(item.path)).is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
def example_site(cedula_replica_server: Replica, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The example project: migrated SQLite database, a qcluster and runserver on a free port."""
    directory = tmp_path_factory.mktemp("example-site")
    stack = Stack(
        database=directory / "db.sqlite3",
        log_dir=directory,
        web_port=0,
        replica_url=cedula_replica_server.wsp_url,
        extra_env=TEST_ENVIRONMENT,
    )
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
        for log in sorted(directory.glob("*.log")):
            GUARD.scan(log.read_text(errors="replace"), f"example project [{log.name}]")


@pytest.fixture
def replica(cedula_replica_server: Replica) -> Iterator[Replica]:
    """The running replica, with its faults and knobs put back after the test.

    (Not ``cedula_replica``: that one also forgets sessions, which the workers' browsers hold.)
    """
    yield cedula_replica_server
    cedula_replica_server.clear_faults()
    cedula_replica_server.form_delay = 0.0


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM)
    yield browser
    browser.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[str], Page]]:
    """``new_page(base_url)``: a page in a fresh browser context (its own cookies, so its own session)."""
    contexts = []

    def make(base_url: str) -> Page:
        context = browser.new_context(base_url=base_url, locale="en-US")
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


_usernames = iter(range(1, 10**6))


def register(page: Page, cedula: str, *, username: str | None = None, password: str = PASSWORD) -> str:
    """Register through the form and land on the profile page; returns the username."""
    username = username or f"voter{next(_usernames)}"
    page.goto("/register/")
    page.fill("#id_username", username)
    page.fill("#id_password1", password)
    page.fill("#id_password2", password)
    page.fill("#id_cedula", cedula)
    page.check("#id_cedula_consent")  # the holder's authorization: no lookup without it
    page.click("#register-button")
    expect(page).to_have_url(re.compile(r"/profile/$"))
    return username


def watch_for_reloads(page: Page) -> list[str]:
    """Mark the page's window and count main-frame navigations from now on (the returned list)."""
    navigations: list[str] = []
    page.on(
        "framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None
    )
    page.evaluate("() => { window.e2eNotReloaded = true; }")
    return navigations


def assert_not_reloaded(page: Page, navigations: list[str]) -> None:
    assert navigations == [], f"the page navigated: {navigations}"
    assert page.evaluate("() => window.e2eNotReloaded === true"), "the page was reloaded"


def wait_until_final(page: Page) -> str:
    """Wait for the profile's status to become final (the page's script polls); returns the status."""
    box = page.locator("#cedula-status")
    expect(box).to_have_attribute("data-final", "true", timeout=FINAL_TIMEOUT_MS)
    return box.get_attribute("data-status") or ""


def screenshot(page: Page, name: str, element: Locator | None = None) -> Path:
    """Save the full page (or just ``element``) to ``test-artifacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if element is not None:
        element.screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=True)
    return path
