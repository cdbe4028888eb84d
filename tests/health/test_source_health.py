"""Source health in one process: what takes a source out of service, what it costs while out (nothing),
the rows that wait uncounted, the trial, the probe, the operator's resume, the mail and the signals.
The real-worker version is tests/integration/test_source_change.py."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core import mail
from django.core.cache import caches

from django_cedula import health
from django_cedula.job import validate_user_cedula
from django_cedula.models import SOURCE_OUT_OF_SERVICE, CedulaInfo
from django_cedula.results import ProbeResult, ScrapeResult, ScrapeStatus
from django_cedula.scrapers.base import probe
from django_cedula.signals import source_back_in_service, source_out_of_service
from django_cedula.testing.backends import RecordingBackend
from django_cedula.testing.scrapers import FakeScraper

from ..chain import scrapers as chain_scrapers
from ..chain.conftest import FIRST, SECOND, sources

pytestmark = pytest.mark.django_db(transaction=True)
Status = CedulaInfo.Status
SOURCE = "fake"  # FakeScraper's source name
NUMBERS = ["1020304051", "1020304052", "1020304053", "1020304054", "1020304055", "1020304056"]


@pytest.fixture(autouse=True)
def _fresh_plan() -> Iterator[None]:
    chain_scrapers.reset()
    yield
    chain_scrapers.reset()


@pytest.fixture
def queued(settings: Any, recording_backend: type[RecordingBackend]) -> type[RecordingBackend]:
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.CEDULA_RETRY_DELAYS = [60, 300, 900]
    return recording_backend


@pytest.fixture
def signals_seen() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    seen: list[tuple[str, dict[str, Any]]] = []

    def out(**kwargs: Any) -> None:
        seen.append(("out", kwargs))

    def back(**kwargs: Any) -> None:
        seen.append(("back", kwargs))

    source_out_of_service.connect(out, dispatch_uid="test.out")
    source_back_in_service.connect(back, dispatch_uid="test.back")
    yield seen
    source_out_of_service.disconnect(dispatch_uid="test.out")
    source_back_in_service.disconnect(dispatch_uid="test.back")


def register(make_user: Callable[..., Any], backend: type[RecordingBackend], *numbers: str) -> list[Any]:
    """Register a user per number and run each one's first job, as a worker would (retries and
    deferred jobs stay queued)."""
    users = [make_user(cedula=number) for number in numbers]
    for user in users:
        job = next(job for job in backend.jobs if job.user_id == user.pk and job.attempt == 1)
        backend.jobs.remove(job)
        validate_user_cedula(job.user_id, job.attempt)
    return users


def row(user: Any) -> CedulaInfo:
    return CedulaInfo.objects.get(user=user)


def test_three_unreadable_answers_of_different_numbers_take_the_source_out(
    queued: type[RecordingBackend], make_user: Callable[..., Any], signals_seen: list[Any]
) -> None:
    for number in NUMBERS[:3]:
        FakeScraper.set_outcome(number, "parse_error")
    first, second, third = register(make_user, queued, *NUMBERS[:3])
    # The first two paid an attempt each (a lone unreadable answer may be the number's own page).
    assert (row(first).status, row(first).retry_count) == (Status.RETRYING, 1)
    assert (row(second).status, row(second).retry_count) == (Status.RETRYING, 1)
    # The third confirmed the change: its row waits, uncounted, saying why.
    third_row = row(third)
    assert (third_row.status, third_row.retry_count, third_row.error_code) == (
        Status.PENDING,
        0,
        SOURCE_OUT_OF_SERVICE,
    )
    assert "out of service" in third_row.error_message
    current = health.state(SOURCE)
    assert (current.in_service, current.reason) == (False, "parse_error")
    assert [kind for kind, _ in signals_seen] == ["out"]
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert "fake is out of service" in message.subject
    assert "cedula_sources --resume fake" in message.body
    assert "cedula_sources fake --sample" in message.body
    assert not any(number in message.body for number in NUMBERS)


def test_out_of_service_nothing_is_asked_and_no_attempt_counted(
    queued: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    health.take_out(SOURCE, reason="parse_error", detail="the answer has no table")
    calls = len(FakeScraper.calls)
    (user,) = register(make_user, queued, NUMBERS[0])
    assert len(FakeScraper.calls) == calls
    info = row(user)
    assert (info.status, info.retry_count, info.error_code) == (Status.PENDING, 0, SOURCE_OUT_OF_SERVICE)
    assert info.next_attempt_at is not None
    # The job came back for itself at the trial's time (900 s by default), not sooner.
    (deferred,) = queued.jobs
    assert (deferred.attempt, deferred.delay) == (1, pytest.approx(900, abs=5))


def test_the_same_number_failing_again_is_not_a_new_sign(
    queued: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    """One number failing alone is its own page: the source stays in service and the row ends as any
    failure would, after its attempts (no wait, no extra lookup)."""
    FakeScraper.set_outcome(NUMBERS[0], "parse_error")
    (user,) = register(make_user, queued, NUMBERS[0])
    for _ in range(3):
        queued.run_next()  # its retries
    assert health.state(SOURCE).in_service
    info = row(user)
    assert (info.status, info.retry_count, info.error_code) == (Status.ERROR, 3, "parse_error")
    assert len(FakeScraper.calls) == 4
    assert queued.jobs == []


def test_a_last_attempt_waits_for_a_run_of_two_numbers_still_undecided(
    settings: Any,
    queued: type[RecordingBackend],
    make_user: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a higher OUT_AFTER, a run of two numbers may be open when a row's last attempt meets a
    sign: the row waits, uncounted, for the decision; an hour later it ends as any failure would."""
    settings.CEDULA_SOURCE_HEALTH = {"OUT_AFTER": 5}
    settings.CEDULA_RETRY_DELAYS = []
    FakeScraper.set_outcome(NUMBERS[0], "parse_error")
    FakeScraper.set_outcome(NUMBERS[1], "parse_error")
    first, second = register(make_user, queued, NUMBERS[0], NUMBERS[1])
    # The first was alone in the run: it ended. The second had company: it waits.
    assert row(first).status == Status.ERROR
    info = row(second)
    assert (info.status, info.retry_count, info.error_code) == (Status.PENDING, 0, SOURCE_OUT_OF_SERVICE)
    assert health.state(SOURCE).in_service
    monkeypatch.setattr(health, "RUN_PATIENCE", 0.0)
    queued.jobs.clear()
    validate_user_cedula(second.pk, 1)
    assert row(second).status == Status.ERROR


def test_an_answer_ends_the_run_and_failures_of_other_kinds_never_count(
    queued: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    FakeScraper.set_outcome(NUMBERS[0], "parse_error")
    FakeScraper.set_outcome(NUMBERS[1], "parse_error")
    for number, status in zip(
        NUMBERS[2:], ["timeout", "network_error", "blocked", "captcha_failed"], strict=False
    ):
        FakeScraper.set_outcome(number, status)
    register(make_user, queued, NUMBERS[0], NUMBERS[1])
    assert health.state(SOURCE).streak == 2
    register(make_user, queued, *NUMBERS[2:])
    assert health.state(SOURCE).streak == 2  # neither counted nor ended by a failure of another kind
    register(make_user, queued, "1020304099")  # found
    assert health.state(SOURCE).streak == 0
    assert health.state(SOURCE).in_service


@pytest.mark.parametrize("status", ["token_refused", "form_changed"])
def test_refused_tokens_and_a_changed_form_count_as_well(
    queued: type[RecordingBackend], make_user: Callable[..., Any], status: str
) -> None:
    for number in NUMBERS[:3]:
        FakeScraper.set_outcome(number, status)
    register(make_user, queued, *NUMBERS[:3])
    current = health.state(SOURCE)
    assert (current.in_service, current.reason) == (False, status)


def test_during_a_run_only_the_lookups_that_could_decide_it_may_start(settings: Any) -> None:
    settings.CEDULA_SOURCE_HEALTH = {"OUT_AFTER": 3}
    health.report(SOURCE, ScrapeResult(status=ScrapeStatus.PARSE_ERROR), cedula=NUMBERS[0])
    admitted = [health.admit(SOURCE) for _ in range(3)]
    assert [a.allowed for a in admitted] == [True, True, False]
    assert admitted[2].reason == "deciding"
    # One finishes (whatever it found): its place is free again.
    health.report(SOURCE, ScrapeResult(status=ScrapeStatus.TIMEOUT), counted=True)
    assert health.admit(SOURCE).allowed


def test_the_trial_that_answers_puts_the_source_back_and_queues_the_waiting_rows(
    settings: Any, queued: type[RecordingBackend], make_user: Callable[..., Any], signals_seen: list[Any]
) -> None:
    settings.CEDULA_SOURCE_HEALTH = {"TRIAL_AFTER": 0.2}
    health.take_out(SOURCE, reason="parse_error", detail="unreadable")
    waiting = register(make_user, queued, NUMBERS[0], NUMBERS[1])
    assert [row(user).error_code for user in waiting] == [SOURCE_OUT_OF_SERVICE] * 2
    queued.reset()
    time.sleep(0.3)
    mail.outbox.clear()
    (trial_user,) = register(make_user, queued, NUMBERS[2])  # the trial: the source answers
    assert row(trial_user).status == Status.ACTIVE
    assert health.state(SOURCE).in_service
    assert [kind for kind, _ in signals_seen][-1] == "back"
    assert signals_seen[-1][1]["by"] == "trial"
    # The waiting rows were queued at once, oldest first, and answer now.
    queued_users = [job.user_id for job in queued.jobs]
    assert queued_users == [user.pk for user in waiting]
    while queued.jobs:
        queued.run_next()
    assert [row(user).status for user in waiting] == [Status.ACTIVE, Status.ACTIVE]
    assert [row(user).retry_count for user in waiting] == [0, 0]
    assert len(mail.outbox) == 1
    assert "back in service" in mail.outbox[0].subject


def test_a_trial_that_fails_the_same_way_doubles_the_back_off_and_costs_the_row_nothing(
    settings: Any, queued: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    settings.CEDULA_SOURCE_HEALTH = {"TRIAL_AFTER": 0.2, "TRIAL_MAX": 100}
    health.take_out(SOURCE, reason="parse_error", detail="unreadable")
    time.sleep(0.3)
    FakeScraper.set_outcome(NUMBERS[0], "parse_error")
    (user,) = register(make_user, queued, NUMBERS[0])
    assert FakeScraper.calls == [NUMBERS[0]]  # the trial was asked
    info = row(user)
    assert (info.status, info.retry_count, info.error_code) == (Status.PENDING, 0, SOURCE_OUT_OF_SERVICE)
    current = health.state(SOURCE)
    assert (current.in_service, current.trials) == (False, 1)
    assert current.next_trial_at - time.time() == pytest.approx(0.4, abs=0.15)
    # The next job before the back-off is not a trial: not asked.
    register(make_user, queued, NUMBERS[1])
    assert FakeScraper.calls == [NUMBERS[0]]


def test_a_probe_that_finds_the_form_whole_puts_back_a_source_out_for_its_form() -> None:
    health.take_out(SOURCE, reason="form_changed", detail="the form page has no nuip field")
    assert not health.record_probe(
        SOURCE, ProbeResult(ok=False, status=ScrapeStatus.FORM_CHANGED, detail="no nuip")
    )
    assert health.state(SOURCE).probe_ok is False
    assert health.record_probe(SOURCE, ProbeResult(ok=True))
    assert health.state(SOURCE).in_service


def test_a_probe_alone_never_puts_back_a_source_whose_answers_changed() -> None:
    health.take_out(SOURCE, reason="parse_error", detail="unreadable")
    assert not health.record_probe(SOURCE, ProbeResult(ok=True))
    current = health.state(SOURCE)
    assert (current.in_service, current.probe_ok) == (False, True)


def test_a_scraper_that_cannot_be_probed_is_recorded_so() -> None:
    health.take_out(SOURCE, reason="form_changed", detail="x")
    found = probe(FakeScraper(), SOURCE)
    assert not found.ok
    assert health.state(SOURCE).probe_detail == "this source cannot be probed"
    assert not health.state(SOURCE).in_service


def test_the_operator_puts_a_source_back_and_the_rows_go(
    queued: type[RecordingBackend], make_user: Callable[..., Any], signals_seen: list[Any]
) -> None:
    health.take_out(SOURCE, reason="token_refused", detail="the site refused the token")
    waiting = register(make_user, queued, NUMBERS[0])
    queued.reset()
    assert health.put_back(SOURCE)
    assert not health.put_back(SOURCE)  # once
    assert [job.user_id for job in queued.jobs] == [waiting[0].pk]
    assert [kind for kind, _ in signals_seen] == ["out", "back"]
    assert signals_seen[-1][1]["by"] == "operator"


def test_the_kept_sample_masks_the_number_and_drops_tokens() -> None:
    token = "03AFcWeA" + "x" * 400
    page = f"<html><p>Documento {NUMBERS[0]}</p><input value='{token}'><div id='new-layout'>?</div></html>"
    health.report(
        SOURCE,
        ScrapeResult(status=ScrapeStatus.PARSE_ERROR, error="no table", raw_html=page),
        cedula=NUMBERS[0],
    )
    kept = health.sample(SOURCE)
    assert kept is not None
    assert kept["status"] == "parse_error"
    assert NUMBERS[0] not in kept["text"]
    assert "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" not in kept["text"]
    assert "new-layout" in kept["text"]
    huge = ScrapeResult(status=ScrapeStatus.PARSE_ERROR, raw_html="<p>" + "a b " * 100_000)
    health.report(SOURCE, huge, cedula=NUMBERS[1])
    assert len(health.sample(SOURCE)["text"]) <= health.SAMPLE_LENGTH  # type: ignore[index]


def test_the_supply_leaves_a_changing_sources_page_alone() -> None:
    page = "https://wsp.registraduria.gov.co/censo/consultar/"
    assert not health.holds_page(page)
    health.report(SOURCE, ScrapeResult(status=ScrapeStatus.PARSE_ERROR), cedula=NUMBERS[0], page_url=page)
    assert health.holds_page(page)
    health.report(SOURCE, ScrapeResult(status=ScrapeStatus.NOT_FOUND), cedula=NUMBERS[1], page_url=page)
    assert not health.holds_page(page)


def test_a_chain_skips_the_changed_source_and_the_other_answers_every_row(
    settings: Any, queued: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    settings.CEDULA_SOURCES = sources(FIRST, SECOND)
    chain_scrapers.plan("first", "parse_error")
    users = register(make_user, queued, *NUMBERS)
    assert not health.state("first").in_service
    # The first two rows met the change before it was known (a parse_error stops a chain); every
    # later one, the one that confirmed it included, was answered by the second source.
    statuses = [(row(user).status, row(user).source) for user in users]
    assert [status for status, _ in statuses[:2]] == [Status.RETRYING] * 2
    assert statuses[2:] == [(Status.ACTIVE, "second")] * 4
    assert chain_scrapers.asked().count("first") == 3


def test_every_source_of_a_chain_out_of_service_defers_without_a_slot(
    settings: Any, queued: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    settings.CEDULA_SOURCES = sources(FIRST, SECOND)
    health.take_out("first", reason="parse_error", detail="x")
    health.take_out("second", reason="form_changed", detail="y")
    (user,) = register(make_user, queued, NUMBERS[0])
    assert chain_scrapers.asked() == []
    assert row(user).error_code == SOURCE_OUT_OF_SERVICE


def test_a_cache_that_fails_lets_lookups_go(
    settings: Any, queued: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "broken": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    settings.CEDULA_CACHE_ALIAS = "broken"
    assert health.admit(SOURCE).allowed
    assert health.report(SOURCE, ScrapeResult(status=ScrapeStatus.PARSE_ERROR), cedula=NUMBERS[0]) is None
    assert health.out_of_service([SOURCE]) == []
    assert not health.holds_page("https://example.org/")


def test_out_after_zero_turns_health_off(
    settings: Any, queued: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    settings.CEDULA_SOURCE_HEALTH = {"OUT_AFTER": 0}
    for number in NUMBERS[:4]:
        FakeScraper.set_outcome(number, "parse_error")
    users = register(make_user, queued, *NUMBERS[:4])
    assert [row(user).retry_count for user in users] == [1, 1, 1, 1]
    assert health.state(SOURCE).in_service
    assert caches["default"].get(health._key(SOURCE, "streak")) is None


def test_the_sweep_probes_a_source_out_for_its_form_and_puts_it_back(
    settings: Any,
    queued: type[RecordingBackend],
    make_user: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.core.management import call_command

    settings.CEDULA_SOURCE_HEALTH = {"PROBE_EVERY": 1}
    looks: list[bool] = []
    form_whole = False

    def look(self: FakeScraper) -> ProbeResult:
        looks.append(form_whole)
        return ProbeResult(ok=form_whole, status=None if form_whole else ScrapeStatus.FORM_CHANGED)

    monkeypatch.setattr(FakeScraper, "probe", look, raising=False)
    health.take_out(SOURCE, reason="form_changed", detail="the form page has no nuip field")
    # The job does not probe before the probe is due: it waits for it, asking nothing.
    waiting = register(make_user, queued, NUMBERS[0])
    assert (looks, FakeScraper.calls) == ([], [])
    time.sleep(1.1)
    call_command("cedula_sweep", stdout=io.StringIO())  # the form is still changed
    assert looks == [False]
    assert not health.state(SOURCE).in_service
    queued.reset()
    form_whole = True
    time.sleep(1.1)
    out = io.StringIO()
    call_command("cedula_sweep", stdout=out)
    assert looks == [False, True]
    assert "probed: fake; back in service: fake" in out.getvalue()
    assert health.state(SOURCE).in_service
    assert [job.user_id for job in queued.jobs] == [waiting[0].pk]
    # The next sweep has nothing to probe.
    call_command("cedula_sweep", stdout=io.StringIO())
    assert looks == [False, True]


def test_a_probe_runs_once_per_interval_for_the_cluster(settings: Any) -> None:
    settings.CEDULA_SOURCE_HEALTH = {"PROBE_EVERY": 300}
    health.take_out(SOURCE, reason="parse_error", detail="x")
    assert health.probe_due(SOURCE)
    assert not health.probe_due(SOURCE)  # another worker asking at the same time
    health.record_probe(SOURCE, ProbeResult(ok=True))
    caches["default"].delete(health._key(SOURCE, "probing"))
    assert not health.probe_due(SOURCE)  # probed a moment ago


def test_a_moved_page_is_a_sign_too(queued: type[RecordingBackend], make_user: Callable[..., Any]) -> None:
    """HTTP 404 or 410 for the page or its lookup: how the older pages went away."""
    for number in NUMBERS[:3]:
        FakeScraper.set_outcome(number, "page_moved")
    register(make_user, queued, *NUMBERS[:3])
    assert health.state(SOURCE).reason == "page_moved"


def test_an_answer_from_a_lookup_admitted_before_the_outage_does_not_put_the_source_back() -> None:
    """Only a trial, a probe or an operator does: when only some answers changed, a source must not
    flap in and out (a mail each time, three paid lookups each time)."""
    health.take_out(SOURCE, reason="parse_error", detail="x")
    assert health.report(SOURCE, ScrapeResult(status=ScrapeStatus.NOT_FOUND), cedula=NUMBERS[0]) is None
    assert not health.state(SOURCE).in_service


def test_a_source_out_again_soon_goes_on_with_the_longer_back_off(settings: Any) -> None:
    settings.CEDULA_SOURCE_HEALTH = {"TRIAL_AFTER": 100, "TRIAL_MAX": 10_000}
    health.take_out(SOURCE, reason="parse_error", detail="x")
    assert health.state(SOURCE).next_trial_at - time.time() == pytest.approx(100, abs=2)  # type: ignore[operator]
    health._come_back(SOURCE, by="trial")  # a trial answered, but only some answers are readable
    health.take_out(SOURCE, reason="parse_error", detail="x")
    assert health.state(SOURCE).next_trial_at - time.time() == pytest.approx(200, abs=2)  # type: ignore[operator]
    health.put_back(SOURCE)  # an operator's resume forgets it (a new release reads the pages)
    health.take_out(SOURCE, reason="parse_error", detail="x")
    assert health.state(SOURCE).next_trial_at - time.time() == pytest.approx(100, abs=2)  # type: ignore[operator]


def test_a_trial_that_gets_no_answer_costs_its_row_nothing(
    settings: Any, queued: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    settings.CEDULA_SOURCE_HEALTH = {"TRIAL_AFTER": 0.2}
    health.take_out(SOURCE, reason="parse_error", detail="x")
    time.sleep(0.3)
    FakeScraper.set_outcome(NUMBERS[0], "timeout")
    (user,) = register(make_user, queued, NUMBERS[0])
    assert FakeScraper.calls == [NUMBERS[0]]
    info = row(user)
    assert (info.status, info.retry_count, info.error_code) == (Status.PENDING, 0, SOURCE_OUT_OF_SERVICE)
    current = health.state(SOURCE)
    assert (current.in_service, current.trials) == (False, 0)  # not doubled: it said nothing


def test_the_counts_keep_their_lifetime_on_a_cache_whose_incr_rewrites_the_value(
    settings: Any, tmp_path: Any
) -> None:
    """Django's generic ``incr`` (the database and file caches) writes the value back with the
    cache's default timeout: a run whose signs come further apart than that must still add up."""
    settings.CACHES = {
        **settings.CACHES,
        "files": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
            "TIMEOUT": 1,
        },
    }
    settings.CEDULA_CACHE_ALIAS = "files"
    for number in NUMBERS[:2]:
        health.report(SOURCE, ScrapeResult(status=ScrapeStatus.PARSE_ERROR), cedula=number)
        time.sleep(1.2)
    assert health.state(SOURCE).streak == 2
    health.report(SOURCE, ScrapeResult(status=ScrapeStatus.PARSE_ERROR), cedula=NUMBERS[2])
    assert not health.state(SOURCE).in_service
