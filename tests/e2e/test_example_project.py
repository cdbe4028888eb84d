"""End to end: the example project, its worker and the replica as real processes, driven by Chromium.

Each registration's profile page must reach its final state by itself (the package's script polls
``/cedula/status/``), never by a reload. Screenshots of each outcome go to
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.utils import translation
from playwright.sync_api import Browser, Page, expect

from django_cedula.models import CedulaStatus
from django_cedula.testing.replica import Replica
from example_project.demo import ROOT, Stack, descendants, still_running

from ..log_privacy import GUARD
from .conftest import (
    PASSWORD,
    TEST_ENVIRONMENT,
    assert_not_reloaded,
    register,
    screenshot,
    wait_until_final,
    watch_for_reloads,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser]

NewPage = Callable[[str], Page]


@pytest.mark.parametrize(
    ("typed", "outcome", "status_text", "details"),
    [
        pytest.param(
            "1.000.000-001",
            "active",
            "Active",
            {
                "departamento": "BOGOTÁ D.C.",
                "municipio": "BOGOTÁ. D.C.",
                "puesto": "COLEGIO DISTRITAL JOSÉ MARTÍ - SEDE A",
                "direccion": "CALLE 26 SUR No. 14-60",
                "mesa": "12",
            },
            id="found",
        ),
        pytest.param("1000000010", "not_found", "Not in the census", {}, id="not-found"),
        pytest.param(
            "1000000020",
            "cancelled_deceased",
            "Cancelled (deceased)",
            {"novedad": "Cancelada por Muerte", "resolucion": "4512", "fecha_novedad": "15/03/2019"},
            id="cancelled",
        ),
    ],
)
def test_the_profile_follows_the_validation_to_its_final_state_without_a_reload(
    example_site: Stack,
    new_page: NewPage,
    replica: Replica,
    typed: str,
    outcome: str,
    status_text: str,
    details: dict[str, str],
) -> None:
    # Every page load of the replica takes a second, so the profile surely opens before the answer.
    replica.form_delay = 1.0
    page = new_page(example_site.url)
    register(page, typed)
    box = page.locator("#cedula-status")
    navigations = watch_for_reloads(page)
    assert box.get_attribute("data-final") == "false"
    expect(box).to_contain_text("This page updates by itself")

    assert wait_until_final(page) == outcome
    assert_not_reloaded(page, navigations)
    # Masked, and of the stored digits: "1.000.000-001" would show as "*********-001".
    expect(page.locator(".cedula-number")).to_have_text("******" + re.sub(r"\D", "", typed)[-4:])
    expect(box.locator(".status-name")).to_have_text(status_text)
    for field, value in details.items():
        expect(box.locator(f'[data-field="{field}"]')).to_have_text(value)
    if outcome == "not_found":
        expect(box).to_contain_text("not in the census for the current election")
    expect(page.locator("#retry-button")).not_to_be_visible()
    screenshot(page, outcome)


def test_a_failed_validation_can_be_tried_again(
    example_site: Stack, new_page: NewPage, replica: Replica
) -> None:
    # The replica answers this number with its block page until told otherwise; no retries here.
    replica.set_fault("block", cedula="1000000099")
    page = new_page(example_site.url)
    register(page, "1000000099")
    navigations = watch_for_reloads(page)
    assert wait_until_final(page) == "blocked"
    assert_not_reloaded(page, navigations)
    expect(page.locator(".status-name")).to_have_text("Blocked by the source")
    expect(page.locator("#retry-button")).to_be_visible()
    screenshot(page, "blocked")

    replica.clear_fault("block", cedula="1000000099")
    page.click("#retry-button")
    expect(page.locator(".messages")).to_contain_text("We are checking your cédula again.")
    assert wait_until_final(page) == "active"
    expect(page.locator("#retry-button")).not_to_be_visible()
    expect(page.locator('[data-field="mesa"]')).not_to_be_empty()
    screenshot(page, "retried_active")


@pytest.fixture(scope="module")
def cooldown_site(
    cedula_replica_server: Replica, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The example project with the real site's cooldown (an hour) and no retries: a failure is
    final at once, and "Try again" waits a minute from its end."""
    directory = tmp_path_factory.mktemp("example-site-cooldown")
    stack = Stack(
        database=directory / "db.sqlite3",
        log_dir=directory,
        web_port=0,
        replica_url=cedula_replica_server.wsp_url,
        extra_env={**TEST_ENVIRONMENT, "EXAMPLE_REFRESH_COOLDOWN": "3600"},
    )
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
        for log in sorted(directory.glob("*.log")):
            GUARD.scan(log.read_text(errors="replace"), f"example project [{log.name}]")


def test_after_a_failure_the_card_says_when_to_try_again(
    cooldown_site: Stack, new_page: NewPage, replica: Replica
) -> None:
    replica.set_fault("block", cedula="1000000098")
    page = new_page(cooldown_site.url)
    register(page, "1000000098")
    assert wait_until_final(page) == "blocked"
    button = page.locator("#retry-button")
    wait = page.locator("[data-cedula-retry-wait]")
    expect(button).to_be_disabled()
    expect(wait).to_contain_text(re.compile(r"You can try again in (about a minute|less than a minute)"))
    expect(wait.locator("time")).to_have_text(re.compile(r"\d\d:\d\d:\d\d UTC-05:00"))
    screenshot(page, "cooldown")

    status = page.request.get("/cedula/status/").json()
    assert status["retry"]["refusal"] == "cooldown"
    assert status["retry_allowed_at"] == status["retry"]["wait"]["at"]
    # A click from a page left open elsewhere: the view reads the service's refusal, and says why.
    page.evaluate("() => document.querySelector('form.cedula-retry').submit()")
    expect(page.locator(".messages .warning")).to_contain_text(re.compile(r"try again in \d+ seconds"))
    expect(page.locator(".status-name")).to_have_text("Blocked by the source")
    expect(button).to_be_disabled()


def test_the_site_speaks_spanish(example_site: Stack, new_page: NewPage) -> None:
    page = new_page(example_site.url)
    register(page, "1000000002")
    assert wait_until_final(page) == "active"
    page.click('.languages button[value="es"]')
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page).to_have_url(re.compile(r"/profile/$"))
    box = page.locator("#cedula-status")
    with translation.override("es"):  # the package's own catalogue names the status
        active = str(CedulaStatus.ACTIVE.label)
    assert active != "Active"
    expect(box.locator(".status-name")).to_have_text(active)
    expect(box).to_contain_text("Puesto de votación")
    expect(page.locator("#logout-button")).to_have_text("Cerrar sesión")
    screenshot(page, "active_es")

    page.click('.languages button[value="en"]')
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(box.locator(".status-name")).to_have_text("Active")


def test_registration_login_and_logout(example_site: Stack, new_page: NewPage, browser: Browser) -> None:
    page = new_page(example_site.url)
    page.goto("/register/")
    for number, reason in [
        ("0123456", "does not start with 0"),
        ("12", "3 to 10 digits"),
        ("12a45", "digits"),
    ]:
        page.fill("#id_username", "formcheck")
        page.fill("#id_password1", PASSWORD)
        page.fill("#id_password2", PASSWORD)
        page.fill("#id_cedula", number)
        page.check("#id_cedula_consent")
        page.click("#register-button")
        expect(page.locator(".errorlist")).to_contain_text("Enter a valid cédula number")
        expect(page.locator(".errorlist")).to_contain_text(reason)
    # No account, and so no lookup, without the holder's authorization.
    page.fill("#id_cedula", "1000000003")
    page.uncheck("#id_cedula_consent")
    page.click("#register-button")
    expect(page).to_have_url(re.compile(r"/register/$"))
    expect(page.locator("#id_cedula_consent_error")).to_contain_text(
        "Your authorization is needed to check your cédula with the Registraduría."
    )

    username = register(page, "1000000003")
    page.click("#logout-button")
    expect(page).to_have_url(re.compile(r"/$"))
    page.goto("/profile/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/profile/$"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-button")
    expect(page).to_have_url(re.compile(r"/profile/$"))
    assert wait_until_final(page) == "active"
    expect(page.locator('[data-field="municipio"]')).to_have_text("SANTIAGO DE CALI")

    anonymous = browser.new_context(base_url=example_site.url)
    try:
        response = anonymous.request.get("/cedula/status/")
        assert response.status == 401
    finally:
        anonymous.close()


# -- demo.py ----------------------------------------------------------------------------------------


class Demo:
    """``example_project/demo.py`` in a subprocess, its output collected by a thread."""

    def __init__(self, tmp_path: Path) -> None:
        env = {
            **os.environ,
            "EXAMPLE_DATABASE": str(tmp_path / "demo.sqlite3"),
            "EXAMPLE_RETRY_DELAYS": "",
            "EXAMPLE_FAST_PASSWORD_HASHER": "1",
        }
        env.pop("CEDULA_REAL_SITE", None)
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "example_project" / "demo.py"), "--port", "0", "--replica-port", "0"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # as a terminal would: the signal reaches demo.py alone
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 90) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.output)
            if match:
                return match
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"demo.py never printed {pattern!r}:\n{self.output}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    running = Demo(tmp_path)
    try:
        yield running
    finally:
        running.kill()


@pytest.mark.parametrize(
    "stop_signal",
    [pytest.param(signal.SIGINT, id="ctrl-c"), pytest.param(signal.SIGTERM, id="sigterm")],
)
def test_demo_prints_its_table_and_stops_every_process_it_started(
    demo: Demo, browser: Browser, stop_signal: signal.Signals
) -> None:
    url = demo.wait_for(r"The example site is running at (http://\S+/)").group(1)
    password = demo.wait_for(r"Admin: \S+ +user admin +password (\S+)").group(1)
    demo.wait_for(r"Press Ctrl-C to stop")
    for expected in [
        r"1000000001 +found ",
        r"1000000010 +not found ",
        r"1000000020 +cancelled \(deceased\) ",
    ]:
        assert re.search(expected, demo.output), demo.output

    context = browser.new_context(base_url=url)
    try:
        page = context.new_page()
        # Blocked at once (no retries here): "Try again" waits a minute from the failure (not the
        # hour of the default cooldown), and the card says so.
        username = register(page, "1000000050")
        assert wait_until_final(page) == "blocked"
        expect(page.locator("#retry-button")).to_be_disabled()
        expect(page.locator("[data-cedula-retry-wait]")).to_contain_text(
            re.compile(r"You can try again in (about a minute|less than a minute)")
        )
        expect(page.locator(".status-name")).to_have_text("Blocked by the source")
        screenshot(page, "demo-cooldown")

        # The admin shows the validation inline on the user's page.
        page.click("#logout-button")
        page.goto("/admin/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.goto(f"/admin/accounts/user/?q={username}")
        page.get_by_role("link", name=username, exact=True).click()
        inline = page.locator("#cedula_info-group")
        expect(inline).to_contain_text("Blocked by the source")
        expect(inline).to_contain_text("1000000050")
        screenshot(page, "admin_inline", inline)
    finally:
        context.close()

    started = descendants(demo.process.pid)
    names = {_comm(pid) for pid in started}
    assert any("chrom" in name for name in names), f"the worker's Chromium should be running: {names}"
    if stop_signal is signal.SIGINT:
        os.killpg(demo.process.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
    else:
        demo.process.send_signal(signal.SIGTERM)
    assert demo.process.wait(60) == 0, demo.output
    assert demo.output.rstrip().endswith("Stopped."), demo.output
    left = {pid: _comm(pid) for pid in still_running(started)}
    assert not left, f"processes outlived demo.py: {left}"


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""
