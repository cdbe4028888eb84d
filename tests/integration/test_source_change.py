"""The Registraduría changes its pages under a running cluster: two Django-Q2 worker processes on a
Redis broker, Redis as the shared cache that holds each source's health, the HTTP scrapers against
the replica, which is switched mid-run to a new answer markup, a new form shape or refusing every
token. What it must show: the spend stops within three lookups (eight solves), every row waits
without an attempt counted, the admins get one mail (from a worker, through the file e-mail
backend), and once the site is right again a resume (or, for the form, the probe) drains every row.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db.models import Sum

from django_cedula import health
from django_cedula.models import SOURCE_OUT_OF_SERVICE, CaptchaSpend, CedulaInfo
from django_cedula.scrapers.consultacenso_http import ConsultaCensoHttpScraper
from django_cedula.scrapers.wsp_http import WspHttpScraper
from django_cedula.testing.replica import Replica

from .conftest import Worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
Status = CedulaInfo.Status
WSP_HTTP = "django_cedula.scrapers.wsp_http.WspHttpScraper"
CENSO_HTTP = "django_cedula.scrapers.consultacenso_http.ConsultaCensoHttpScraper"
#: Numbers the replica finds (its outcome table: any number not listed there is found).
NUMBERS = [f"1000000{n:03d}" for n in range(401, 413)]
WORKERS = 2
WSP = WspHttpScraper.source_name
CENSO = ConsultaCensoHttpScraper.source_name


def counted_solves() -> int:
    """Solves requested across the cluster, as the workers counted them (``CaptchaSpend``)."""
    return int(CaptchaSpend.objects.aggregate(total=Sum("requested"))["total"] or 0)


def mails(directory: Path) -> list[str]:
    return [path.read_text(errors="replace") for path in sorted(directory.glob("*.log"))]


@pytest.fixture
def change_cluster(
    redis_cluster: Callable[..., dict[str, Any]],
    cedula_replica: Replica,
    start_worker: Callable[..., Worker],
    tmp_path: Path,
    settings: Any,
) -> Callable[..., tuple[dict[str, Any], list[Worker], Path]]:
    def start(*sources: str) -> tuple[dict[str, Any], list[Worker], Path]:
        outbox = tmp_path / "mail"
        outbox.mkdir()
        names = {WSP_HTTP: "wsp", CENSO_HTTP: "censo"}
        overrides = redis_cluster(
            {
                **cedula_replica.django_settings(),
                "CEDULA_SOURCES": [
                    {**cedula_replica.source(names[path]), "BACKEND": path} for path in sources
                ],
                # A second's solve: the measurement of the issue, made faster. The
                # solver takes its tokens from the replica, which counts every solve of the cluster.
                "CEDULA_CAPTCHA_SOLVER": cedula_replica.solver_settings(delay=1.0),
                "CEDULA_SOURCE_HEALTH": {"OUT_AFTER": 3, "TRIAL_AFTER": 3600, "PROBE_EVERY": 1},
                "ADMINS": [("Ops", "ops@example.com")],
            }
        )
        # Three retries at once (the cluster fixture turns them off; a delay would wait for
        # Django-Q2's scheduler, 30 s a tick).
        overrides["CEDULA_RETRY_DELAYS"] = settings.CEDULA_RETRY_DELAYS = [0, 0, 0]
        # The workers mail through files this test reads; this process keeps Django's outbox.
        worker_settings = {
            **overrides,
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(outbox),
        }
        workers = [start_worker(["qcluster"], worker_settings) for _ in range(WORKERS)]
        for worker in workers:
            worker.wait_running()
        return overrides, workers, outbox

    return start


def logs(workers: list[Worker]) -> str:
    return "\n".join(worker.log() for worker in workers)


def rows_now() -> list[tuple[Any, ...]]:
    return list(
        CedulaInfo.objects.values_list("user_id", "status", "error_code", "retry_count", "next_attempt_at")
    )


def settled() -> bool:
    """No row is being looked up, and none is waiting for its retry rather than for the source."""
    rows = CedulaInfo.objects.all()
    return not rows.filter(status=Status.PROCESSING).exists() and all(
        info.error_code == SOURCE_OUT_OF_SERVICE or info.status in CedulaInfo.FINAL_STATUSES for info in rows
    )


@pytest.mark.parametrize(
    ("fault", "sign"),
    [("new_markup", "parse_error"), ("refuse_tokens", "token_refused"), ("form_shape", "form_changed")],
)
def test_a_change_stops_the_spend_and_every_row_waits_until_the_resume(
    change_cluster: Callable[..., tuple[dict[str, Any], list[Worker], Path]],
    cedula_replica: Replica,
    make_user: Callable[..., Any],
    fault: str,
    sign: str,
) -> None:
    _, workers, outbox = change_cluster(WSP_HTTP)
    cedula_replica.set_fault(fault)
    users = [make_user(cedula=number) for number in NUMBERS]

    assert wait_until(lambda: not health.state(WSP).in_service, timeout=90), logs(workers)
    assert wait_until(settled, timeout=120), (rows_now(), logs(workers)[-6000:])
    state = health.state(WSP)
    assert state.reason == sign
    # The spend from the first sign on (the first lookup's answer, or the first form page): at most
    # three lookups posted and eight solves, the token supply on; a changed form is seen before any
    # solve, so it costs none at all.
    posted = len(cedula_replica.lookups(source="wsp"))
    answers = [record.time for record in cedula_replica.lookups(source="wsp")]
    first_sign = min(answers or [record.time for record in cedula_replica.requests(source="wsp")])
    after = [record for record in cedula_replica.lookups(source="wsp") if record.time > first_sign]
    assert len(after) <= 3, (posted, logs(workers))
    solves = cedula_replica.solves()
    solves_after = len([r for r in cedula_replica.requests(kind="captcha_token") if r.time > first_sign])
    if sign == "form_changed":
        assert solves == 0, logs(workers)
    assert solves_after <= 8, (solves, solves_after, logs(workers)[-3000:])
    assert counted_solves() == solves, "the package counts what it spends"
    # Nothing more is spent while it is out of service, however long the rows wait.
    assert not wait_until(lambda: len(cedula_replica.lookups(source="wsp")) > posted, timeout=8)
    assert cedula_replica.solves() == solves
    rows = list(CedulaInfo.objects.all())
    assert not [info for info in rows if info.status in CedulaInfo.FINAL_STATUSES], "no row ended"
    assert all(info.retry_count <= 2 for info in rows)
    waiting = [info for info in rows if info.error_code == SOURCE_OUT_OF_SERVICE]
    assert len(waiting) >= len(NUMBERS) - 3
    # One mail for the cluster, from the worker that saw the third sign, naming what to do.
    sent = mails(outbox)
    assert len(sent) == 1, sent
    assert f"{WSP} is out of service" in sent[0]
    assert f"cedula_sources --resume {WSP}" in sent[0]
    assert not any(number in sent[0] for number in NUMBERS)
    sample = health.sample(WSP)
    assert sample is not None
    assert not any(number in sample["text"] for number in NUMBERS)

    # The site is right again (a new release of the package would read the new pages): resume.
    cedula_replica.clear_faults()
    out = io.StringIO()
    call_command("cedula_sources", "--resume", WSP, stdout=out)
    assert health.state(WSP).in_service
    assert wait_until(
        lambda: CedulaInfo.objects.filter(status=Status.ACTIVE).count() == len(NUMBERS), timeout=120
    ), logs(workers)
    assert all(info.retry_count <= 2 for info in CedulaInfo.objects.filter(user__in=users))
    assert len(mail.outbox) == 1
    assert "back in service" in mail.outbox[0].subject


def test_a_changed_form_comes_back_through_the_probe(
    change_cluster: Callable[..., tuple[dict[str, Any], list[Worker], Path]],
    cedula_replica: Replica,
    make_user: Callable[..., Any],
) -> None:
    _, workers, _outbox = change_cluster(WSP_HTTP)
    cedula_replica.set_fault("form_shape")
    for number in NUMBERS[:6]:
        make_user(cedula=number)
    assert wait_until(lambda: not health.state(WSP).in_service, timeout=90), logs(workers)
    assert wait_until(settled, timeout=120), (rows_now(), logs(workers)[-6000:])
    cedula_replica.clear_faults()
    # The sweep (a schedule's, or cron's) probes the form for free and finds it whole again.
    assert wait_until(
        lambda: call_command("cedula_sweep", stdout=io.StringIO()) or health.state(WSP).in_service,
        timeout=10,
        interval=1.1,
    )
    assert wait_until(lambda: CedulaInfo.objects.filter(status=Status.ACTIVE).count() == 6, timeout=90), logs(
        workers
    )
    assert cedula_replica.solves() >= 6


def test_a_chain_answers_every_row_through_the_source_that_did_not_change(
    change_cluster: Callable[..., tuple[dict[str, Any], list[Worker], Path]],
    cedula_replica: Replica,
    make_user: Callable[..., Any],
) -> None:
    _, workers, outbox = change_cluster(WSP_HTTP, CENSO_HTTP)
    cedula_replica.set_fault("new_markup_wsp")
    users = [make_user(cedula=number) for number in NUMBERS]
    assert wait_until(
        lambda: CedulaInfo.objects.filter(status=Status.ACTIVE).count() == len(NUMBERS), timeout=150
    ), logs(workers)
    assert not health.state(WSP).in_service
    assert health.state(CENSO).in_service
    rows = CedulaInfo.objects.filter(user__in=users)
    assert rows.filter(source=CENSO).count() >= len(NUMBERS) - 2
    assert len(cedula_replica.lookups(source="wsp")) <= 3 + (WORKERS - 1)
    assert len(mails(outbox)) == 1
