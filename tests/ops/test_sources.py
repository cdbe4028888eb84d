"""What operators see and do about source health (#21): ``manage.py cedula_sources`` (the table,
``--json``, ``--sample``, ``--resume``, ``--probe``), the line of ``cedula_stats``, the admin's line,
and the mails to ``ADMINS``. The sources go out of service through real jobs (the inline backend and
the fake scraper answering what a changed page gives) or :func:`health.take_out`."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import django
import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from django_cedula import health
from django_cedula.models import SOURCE_OUT_OF_SERVICE, CedulaInfo, CedulaStatus
from django_cedula.results import ProbeResult, ScrapeResult, ScrapeStatus
from django_cedula.scrapers.base import BaseScraper
from django_cedula.testing.scrapers import FakeScraper

from ..admin.conftest import grant

pytestmark = pytest.mark.django_db
CEDULAS = ("1020304050", "1020304051", "1020304052")
CHAIN = [
    {"BACKEND": "django_cedula.testing.scrapers.FakeScraper"},
    {"BACKEND": "tests.ops.test_sources.ShapedScraper"},
]


class ShapedScraper(BaseScraper):
    """A second source whose form always has its shape (its probe is free and answers ok)."""

    source_name = "shaped"
    shape_ok = True

    def scrape_cedula(self, cedula: str) -> ScrapeResult:
        return ScrapeResult(status=ScrapeStatus.NOT_FOUND)

    def probe(self) -> ProbeResult:
        if self.shape_ok:
            return ProbeResult(ok=True, detail="form, site key and endpoint present")
        return ProbeResult(
            ok=False, status=ScrapeStatus.FORM_CHANGED, detail="no field nCedula", raw_html="<form></form>"
        )


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("cedula_sources", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def admins(settings: Any) -> None:
    # Django 6.0 takes addresses; 5.2 wants (name, address) pairs (deprecated from 6.0).
    settings.ADMINS = ["ops@example.com"] if django.VERSION >= (6, 0) else [("Ops", "ops@example.com")]


def unreadable(cedula: str) -> ScrapeResult:
    """What a changed page gives: an answer nobody can read, quoting the number, with a token in it."""
    return ScrapeResult(
        status=ScrapeStatus.PARSE_ERROR,
        error=f"no table in the answer for {cedula}",
        raw_html=f"<div class='nuevo'>Cédula {cedula} token {'A' * 60}</div>",
    )


@pytest.fixture
def changed_page(
    make_user: Callable[..., Any], django_capture_on_commit_callbacks: Any, admins: None
) -> list[CedulaInfo]:
    """Source ``fake`` taken out of service by three unreadable answers for three numbers, then
    three registrations: their real jobs (the inline backend) find no source left and wait."""
    for cedula in CEDULAS:
        health.report("fake", unreadable(cedula), cedula=cedula)
    for cedula in CEDULAS:
        with django_capture_on_commit_callbacks(execute=True):
            make_user(cedula=cedula)
    return list(CedulaInfo.objects.order_by("pk"))


def test_rows_wait_for_a_source_out_of_service_without_a_lookup(changed_page: list[CedulaInfo]) -> None:
    assert FakeScraper.calls == []
    assert not health.state("fake").in_service
    for row in changed_page:
        assert row.status in (CedulaStatus.PENDING, CedulaStatus.RETRYING)
        assert row.error_code == SOURCE_OUT_OF_SERVICE
        assert row.retry_count == 0
    assert CedulaInfo.objects.waiting_for_sources().count() == 3


def test_the_table_says_why_since_when_and_how_many_rows_wait(changed_page: list[CedulaInfo]) -> None:
    text = run()
    assert "fake: OUT OF SERVICE since " in text
    assert "why: answers that could not be read (no table in the answer for" in text
    assert "trial lookups: 0; next trial " in text
    assert "last probe: none" in text
    assert "3 rows wait for a source out of service." in text
    assert "1020304050" not in text


def test_json_has_stable_keys(changed_page: list[CedulaInfo], settings: Any) -> None:
    settings.CEDULA_SOURCES = CHAIN
    data = json.loads(run("--json"))
    assert data["rows_waiting"] == 3
    assert data["health_enabled"] is True
    assert [item["source"] for item in data["sources"]] == ["fake", "shaped"]
    fake, shaped = data["sources"]
    assert set(fake) == {
        "source", "in_service", "since", "reason", "reason_text", "detail", "streak", "run_since", "trials",
        "next_trial_at", "probed_at", "probe_ok", "probe_detail",
    }  # fmt: skip
    assert fake["in_service"] is False
    assert fake["reason"] == "parse_error"
    assert fake["reason_text"] == "answers that could not be read"
    assert fake["next_trial_at"] > fake["since"]
    assert shaped["in_service"] is True
    assert shaped["since"] is None
    assert shaped["reason_text"] == ""


def test_the_sample_is_masked_and_has_no_token(changed_page: list[CedulaInfo]) -> None:
    text = run("fake", "--sample")
    assert "Last unexpected answer of fake, kept " in text
    assert "status: parse_error" in text
    assert "<div class='nuevo'>Cédula " in text
    assert "A" * 40 not in text
    assert "1020304050" not in text


def test_no_sample_kept_says_so() -> None:
    assert run("fake", "--sample").strip() == "No sample kept for fake."


def test_resume_puts_the_source_back_queues_the_rows_and_mails_once(changed_page: list[CedulaInfo]) -> None:
    assert len(mail.outbox) == 1
    for cedula in CEDULAS:  # the site reads right again (the package upgraded)
        FakeScraper.set_outcome(cedula, "found")
    text = run("--resume", "fake")
    assert "Source fake is back in service; 3 waiting rows queued." in text
    assert health.state("fake").in_service
    assert set(CedulaInfo.objects.values_list("status", flat=True)) == {CedulaStatus.ACTIVE}
    assert CedulaInfo.objects.waiting_for_sources().count() == 0
    assert FakeScraper.calls == list(CEDULAS)  # oldest request first
    back = mail.outbox[1]
    assert back.subject.endswith("Cédula source fake is back in service")
    assert "answers again (operator)" in back.body
    assert "The 3 rows that waited for it are queued now" in back.body
    assert "was in service already" in run("--resume", "fake")
    assert len(mail.outbox) == 2


def test_the_mail_out_says_what_was_seen_how_many_wait_and_what_to_run(
    changed_page: list[CedulaInfo],
) -> None:
    out = mail.outbox[0]
    assert out.to == ["ops@example.com"]
    assert out.subject.endswith("Cédula source fake is out of service")
    assert "answers that could not be read, 3 in a row" in out.body
    assert "no table in the answer for ******4052" in out.body
    assert "manage.py cedula_sources fake --sample" in out.body
    assert "manage.py cedula_sources --resume fake" in out.body
    for cedula in CEDULAS:
        assert cedula not in out.body
        assert cedula not in out.subject


def test_take_out_mails_the_rows_waiting(admins: None, make_user: Callable[..., Any]) -> None:
    make_user(cedula=CEDULAS[0])
    CedulaInfo.objects.update(status=CedulaStatus.RETRYING, error_code=SOURCE_OUT_OF_SERVICE)
    assert health.take_out("fake", reason="token_refused", detail="site refused a fresh token")
    assert not health.take_out("fake", reason="token_refused", detail="again")
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "fresh captcha tokens refused by the site" in body
    assert "1 rows wait for it" in body
    assert CEDULAS[0] not in body


def test_an_unknown_source_names_the_configured_ones(settings: Any) -> None:
    settings.CEDULA_SOURCES = CHAIN
    for args in (("--resume", "wsp"), ("wsp", "--sample"), ("--probe", "wsp"), ("wsp",)):
        with pytest.raises(
            CommandError, match=r"'wsp' is not a configured source; the configured ones: fake, shaped"
        ) as raised:
            run(*args)
        assert raised.value.returncode == 2
    with pytest.raises(CommandError, match="--sample needs a SOURCE"):
        run("--sample")


def test_a_probe_with_the_form_s_shape_puts_a_source_back(settings: Any, admins: None) -> None:
    settings.CEDULA_SOURCES = CHAIN
    health.take_out("shaped", reason="form_changed", detail="no field nCedula")
    text = run("--probe", "shaped")
    assert "Probe of shaped: the form has its shape." in text
    assert "shaped: in service" in text
    assert "the form has its shape" in text.split("last probe: ")[1]
    assert health.state("shaped").in_service
    assert "answers again (probe)" in mail.outbox[-1].body


def test_a_failed_probe_exits_1_and_keeps_the_source_out(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CEDULA_SOURCES = CHAIN
    monkeypatch.setattr(ShapedScraper, "shape_ok", False)
    health.take_out("shaped", reason="form_changed", detail="no field nCedula")
    out = io.StringIO()
    with pytest.raises(CommandError, match="The probe of shaped failed") as raised:
        call_command("cedula_sources", "--probe", "shaped", stdout=out)
    assert raised.value.returncode == 1
    assert "Probe of shaped: form_changed: no field nCedula" in out.getvalue()
    assert "shaped: OUT OF SERVICE since" in out.getvalue()
    assert not health.state("shaped").in_service
    assert health.sample("shaped")["text"] == "<form></form>"


def test_stats_has_a_sources_line_and_json(changed_page: list[CedulaInfo], settings: Any) -> None:
    settings.CEDULA_SOURCES = CHAIN
    out = io.StringIO()
    call_command("cedula_stats", stdout=out)
    since = health.state("fake").since
    assert since is not None
    line = [text for text in out.getvalue().splitlines() if text.startswith("Sources:")]
    assert len(line) == 1
    assert "fake out of service since " in line[0]
    assert "(answers that could not be read), shaped in service; 3 rows waiting." in line[0]
    out = io.StringIO()
    call_command("cedula_stats", "--json", stdout=out)
    sources = json.loads(out.getvalue())["sources"]
    assert sources["available"] is True
    assert sources["rows_waiting"] == 3
    assert sources["sources"]["shaped"] == {
        "in_service": True,
        "since": None,
        "reason": "",
        "reason_text": "",
    }
    assert sources["sources"]["fake"]["reason"] == "parse_error"
    assert sources["sources"]["fake"]["since"].endswith("+00:00")


def test_stats_with_every_source_in_service() -> None:
    out = io.StringIO()
    call_command("cedula_stats", stdout=out)
    assert "Sources: fake in service; 0 rows waiting." in out.getvalue()


@pytest.fixture
def staff_client(client: Client, make_user: Callable[..., Any]) -> Client:
    staff = make_user(username="staff", is_staff=True)
    grant(staff, "view_cedulainfo")
    client.force_login(staff)
    return client


def test_the_admin_list_has_a_line_while_a_source_is_out(
    changed_page: list[CedulaInfo], staff_client: Client
) -> None:
    url = reverse("admin:django_cedula_cedulainfo_changelist")
    response = staff_client.get(url)
    notes = response.context["cedula_sources_out"]
    assert notes[0].startswith("Source fake is out of service since ")
    assert notes[0].endswith(": answers that could not be read.")
    assert notes[1] == "3 rows wait; none pays an attempt."
    assert "manage.py cedula_sources --resume fake" in notes[2]
    html = response.content.decode()
    assert 'id="cedula-sources-out"' in html
    assert "3 rows wait; none pays an attempt." in html
    health.put_back("fake")
    assert 'id="cedula-sources-out"' not in staff_client.get(url).content.decode()
