"""The pages' own scripts and the reCAPTCHA stand-in, in a real headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from django_cedula.testing.replica import Replica

from ..conftest import CHROMIUM

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright import sync_api

    with sync_api.sync_playwright() as playwright:
        # The Chromium the suite drives (tests/conftest.py: CEDULA_TEST_CHROMIUM, else the system's).
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    yield page
    context.close()
    assert errors == [], "the replica's pages raised in the browser"


def test_wsp_page_in_a_browser(page: Any, replica: Replica) -> None:
    page.goto(replica.wsp_url)
    page.wait_for_selector("textarea#g-recaptcha-response", state="attached")
    assert page.evaluate("grecaptcha.getResponse()") == ""

    # Submitting without a captcha shows the site's error in #success.
    page.fill("#nuip", "1000000001")
    page.click("#enviar")
    page.wait_for_selector("#success .alert")
    assert page.inner_text("#success").startswith("Marque el cuadro")

    # The used token makes the script reload the page; then a solver-style injection works.
    with page.expect_navigation():
        page.click("#enviar")
    page.wait_for_selector("textarea#g-recaptcha-response", state="attached")
    page.fill("#nuip", "1000000020")
    token = replica.issue_token()
    page.evaluate("token => { document.getElementById('g-recaptcha-response').value = token; }", token)
    page.click("#enviar")
    page.wait_for_selector("#success table#consulta")
    assert "Cancelada por Muerte" in page.inner_text("#success td[data-th=NOVEDAD]")
    assert (replica.lookups()[-1].captcha, replica.lookups()[-1].captcha_check) == (token, "accepted")


def test_checkbox_click_solves_and_block_page_shows(page: Any, replica: Replica) -> None:
    page.goto(replica.wsp_url)
    page.click("#recaptcha-anchor")
    page.wait_for_function("grecaptcha.getResponse() !== ''")
    assert page.get_attribute("#recaptcha-anchor", "aria-checked") == "true"
    page.fill("#nuip", "1000000050")
    page.click("#enviar")
    page.wait_for_selector("#success .blocked")
    assert "support ID" in page.inner_text("#success .authenticate")


def test_each_checkbox_click_issues_a_fresh_token_used_once(page: Any, replica: Replica) -> None:
    page.goto(replica.wsp_url)
    page.click("#recaptcha-anchor")
    page.wait_for_function("grecaptcha.getResponse() !== ''")
    first = page.evaluate("grecaptcha.getResponse()")
    page.fill("#nuip", "1000000001")
    page.click("#enviar")
    page.wait_for_selector("#success table#consulta")

    page.reload()  # the form token is single use: a new visit of the page
    page.click("#recaptcha-anchor")
    page.wait_for_function("grecaptcha.getResponse() !== ''")
    assert page.evaluate("grecaptcha.getResponse()") != first
    # Replaying the first token, as a solver that handed it out twice would: the captcha answer.
    page.evaluate("token => { document.getElementById('g-recaptcha-response').value = token; }", first)
    page.fill("#nuip", "1000000001")
    page.click("#enviar")
    page.wait_for_selector("#success .alert")
    assert page.inner_text("#success").startswith("Marque el cuadro")
    assert [r.captcha_check for r in replica.lookups()] == ["accepted", "reused"]
    assert replica.captcha_counts()["reused"] == 1


def test_censo_app_in_a_browser(page: Any, replica: Replica) -> None:
    page.goto(replica.censo_url)
    page.wait_for_selector("#eleccion option", state="attached")
    assert page.eval_on_selector_all("#eleccion option", "os => os.map(o => o.value)")[0] == "0"
    page.fill("#documento", "1000000002")
    page.evaluate("grecaptcha.replicaSolve()")
    page.wait_for_function("grecaptcha.getResponse() !== ''")
    page.click("#submitBtn")
    page.wait_for_selector("#tablaResultado")
    assert "MEDELLÍN" in page.inner_text("#resultado")
    (record,) = replica.lookups(source="censo")
    assert (record.cedula, record.election, record.answer) == ("1000000002", "0", "found")
