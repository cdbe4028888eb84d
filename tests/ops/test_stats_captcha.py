"""cedula_stats' captcha section: the spend by period, solves per final validation, the estimated
cost and the token supply's live status, in text and JSON; on a real database and a real Redis."""

from __future__ import annotations

import datetime
import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.core.cache import caches
from django.core.management import call_command
from django.utils import timezone, translation

from django_cedula.captcha import spend, supply, supply_store
from django_cedula.captcha.base import SolvedToken
from django_cedula.management.commands.cedula_stats import estimated_cost, start_of_day
from django_cedula.models import CaptchaSpend, CedulaInfo

from .conftest import set_row

pytestmark = pytest.mark.django_db
Status = CedulaInfo.Status

#: A cache alias on a port nothing listens on (port 1 refuses at once), with short timeouts in
#: case a firewall drops instead of refusing.
DEAD_REDIS = {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": "redis://127.0.0.1:1/0",
    "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
}


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("cedula_stats", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def captcha_json() -> dict[str, Any]:
    captcha: dict[str, Any] = json.loads(run("--json"))["captcha"]
    return captcha


def row_cells(output: str, label: str) -> list[str]:
    """The cells of the captcha table's row ``label`` (the label itself left out)."""
    for line in output.splitlines():
        if line.startswith(f"  {label}  "):
            return line[len(label) + 2 :].split()
    raise AssertionError(f"no row {label!r} in:\n{output}")


def utc_today() -> datetime.date:
    return timezone.now().astimezone(datetime.timezone.utc).date()


@pytest.fixture
def spend_rows() -> None:
    """Three day rows: today (UTC), three days ago (in the last 7 days), thirty days ago."""
    today = utc_today()
    CaptchaSpend.objects.create(day=today, requested=10, delivered=9, used=7, expired=1, refused=1, failed=1)
    CaptchaSpend.objects.create(
        day=today - datetime.timedelta(days=3), requested=150, delivered=140, used=120, expired=15, refused=4
    )
    CaptchaSpend.objects.create(
        day=today - datetime.timedelta(days=30), requested=1000, delivered=990, used=950, expired=30
    )


@pytest.fixture
def validations(registered: Callable[..., Any]) -> None:
    """Final validations: 4 today, 1 a second before today's UTC midnight, 1 forty days ago; and
    rows that are not final (pending, retrying), which never count."""
    now = timezone.now()
    midnight = start_of_day(utc_today())
    changed = {
        "today_active": (Status.ACTIVE, now),
        "today_active_2": (Status.ACTIVE, midnight),  # the first instant of the UTC day counts as today
        "today_not_found": (Status.NOT_FOUND, now),
        "today_error": (Status.ERROR, now),
        "yesterday": (Status.CANCELLED_DECEASED, midnight - datetime.timedelta(seconds=1)),
        "long_ago": (Status.TIMEOUT, now - datetime.timedelta(days=40)),
        "pending": (Status.PENDING, now),
        "retrying": (Status.RETRYING, now),
    }
    for number, (name, (status, updated_at)) in enumerate(changed.items(), start=1_000_000_001):
        set_row(registered(cedula=str(number), username=name), status=status, updated_at=updated_at)


def test_json_figures_per_period(twocaptcha: Any, spend_rows: None, validations: None) -> None:
    stats = json.loads(run("--json"))
    # The existing keys are still there, unchanged.
    assert {"generated_at", "total", "statuses", "oldest_pending", "last_24h"} <= set(stats)
    captcha = stats["captcha"]
    today = utc_today()

    assert captcha["price_per_1000"] == 3.0
    assert captcha["days"] == "UTC"
    assert captcha["today"] == {
        "since": today.isoformat(),
        "requested": 10,
        "delivered": 9,
        "used": 7,
        "expired": 1,
        "refused": 1,
        "failed": 1,
        "final_validations": 4,
        "solves_per_final_validation": 2.5,
        "expired_share": 0.1,
        "estimated_cost": 0.03,
    }
    week = captcha["last_7_days"]
    assert week["since"] == (today - datetime.timedelta(days=6)).isoformat()
    assert (week["requested"], week["used"], week["expired"], week["refused"]) == (160, 127, 16, 5)
    assert week["final_validations"] == 5
    assert week["solves_per_final_validation"] == 32.0
    assert week["expired_share"] == 0.1
    assert week["estimated_cost"] == 0.48
    always = captcha["all_time"]
    assert always["since"] is None
    assert (always["requested"], always["delivered"], always["expired"]) == (1160, 1139, 46)
    assert always["final_validations"] == 6
    assert always["solves_per_final_validation"] == 193.33
    assert always["expired_share"] == 0.0397
    assert always["estimated_cost"] == 3.48


def test_text_table(twocaptcha: Any, spend_rows: None, validations: None) -> None:
    output = run()
    section = output[output.index("Captcha solves (days in UTC; today since 00:00 UTC):") :]
    header = section.splitlines()[1].split()
    assert header == ["today", "last", "7", "days", "all", "time"]
    assert row_cells(section, "solves requested") == ["10", "160", "1160"]
    assert row_cells(section, "tokens delivered") == ["9", "149", "1139"]
    assert row_cells(section, "tokens used") == ["7", "127", "1077"]
    assert row_cells(section, "tokens expired unused") == ["1", "16", "46"]
    assert row_cells(section, "tokens refused by the site") == ["1", "5", "5"]
    assert row_cells(section, "solves failed") == ["1", "1", "1"]
    assert row_cells(section, "final validations") == ["4", "5", "6"]
    assert row_cells(section, "solves per final validation") == ["2.50", "32.00", "193.33"]
    assert row_cells(section, "expired share of solves") == ["10.0", "%", "10.0", "%", "4.0", "%"]
    assert row_cells(section, "estimated cost") == ["0.03", "0.48", "3.48"]
    assert (
        "  Estimated cost today: 0.03 at CEDULA_CAPTCHA_SOLVER price_per_1000 = 3.0 "
        "(in that price's currency)." in section
    )
    assert "Token supply: off: each lookup solves for itself; 0 tokens ready, 0 solves in flight" in section


def test_the_solver_s_price_and_rounding_to_cents(settings: Any, twocaptcha: dict[str, Any]) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = {
        **twocaptcha,
        "OPTIONS": {**twocaptcha["OPTIONS"], "price_per_1000": 15.0},
    }
    CaptchaSpend.objects.create(day=utc_today(), requested=1)

    captcha = captcha_json()
    # 1 x 15 / 1000 = 0.015: half up to 0.02 (a float's round() gives 0.01).
    assert captcha["price_per_1000"] == 15.0
    assert captcha["today"]["estimated_cost"] == 0.02
    assert "Estimated cost today: 0.02 at CEDULA_CAPTCHA_SOLVER price_per_1000 = 15.0" in run()
    assert estimated_cost(2345, 2.99) == 7.01  # 7.01155
    assert estimated_cost(0, 3.0) == 0.0


@pytest.mark.parametrize(
    "solver",
    [None, {"BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver"}],
    ids=["no solver", "the replica's solver"],
)
def test_solves_cost_nothing_without_a_priced_solver(
    settings: Any, spend_rows: None, solver: dict[str, Any] | None
) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = solver
    captcha = captcha_json()
    assert captcha["price_per_1000"] == 0.0
    assert [captcha[period]["estimated_cost"] for period in ("today", "last_7_days", "all_time")] == [0.0] * 3
    assert captcha["all_time"]["requested"] == 1160, "the solves are counted all the same"
    assert "Estimated cost today: 0.00 at CEDULA_CAPTCHA_SOLVER price_per_1000 = 0.0" in run()


def test_counts_not_yet_written_by_this_process_are_included() -> None:
    spend.count("requested", 2)
    try:
        assert captcha_json()["today"]["requested"] == 2
    finally:
        spend.flush()  # written to this test's database, rolled back with it
    assert CaptchaSpend.objects.get(day=utc_today()).requested == 2


def test_an_empty_database() -> None:
    captcha = captcha_json()
    for period in ("today", "last_7_days", "all_time"):
        figures = captcha[period]
        assert {event: figures[event] for event in spend.EVENTS} == dict.fromkeys(spend.EVENTS, 0)
        assert figures["final_validations"] == 0
        assert figures["solves_per_final_validation"] is None
        assert figures["expired_share"] is None
        assert figures["estimated_cost"] == 0.0
    output = run()
    assert row_cells(output, "solves per final validation") == ["-", "-", "-"]
    assert row_cells(output, "expired share of solves") == ["-", "-", "-"]
    assert row_cells(output, "estimated cost") == ["0.00", "0.00", "0.00"]


def test_final_validations_without_any_solve(validations: None) -> None:
    captcha = captcha_json()
    assert captcha["today"]["final_validations"] == 4
    assert captcha["today"]["solves_per_final_validation"] == 0.0
    assert captcha["today"]["expired_share"] is None


def test_a_dead_cache_leaves_the_supply_unavailable(settings: Any, spend_rows: None) -> None:
    settings.CACHES = {**settings.CACHES, "dead": DEAD_REDIS}
    settings.CEDULA_CACHE_ALIAS = "dead"
    with pytest.raises(redis.exceptions.ConnectionError):  # the cache really is down
        supply.supply_status()

    started = time.monotonic()
    captcha = captcha_json()
    output = run()

    assert time.monotonic() - started < 5
    assert captcha["supply"] == {"available": False, "error": "ConnectionError"}
    assert captcha["today"]["requested"] == 10  # the rest of the report is there
    assert "Token supply: unavailable (ConnectionError: the cache could not be read)." in output
    assert row_cells(output, "solves requested") == ["10", "160", "1160"]
    assert "Oldest pending: none" in output


@pytest.fixture
def redis_supply(settings: Any) -> Iterator[Any]:
    """The supply on the real Redis, under a key prefix of this test's own, turned on (a solver
    named, a backend that runs jobs in workers)."""
    settings.CACHES = {
        **settings.CACHES,
        "shared": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/0",
            "KEY_PREFIX": f"h_spend_stats_{uuid.uuid4().hex}",
        },
    }
    settings.CEDULA_CACHE_ALIAS = "shared"
    settings.CEDULA_CAPTCHA_SOLVER = {"BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver"}
    settings.CEDULA_TASKS = {"BACKEND": "django_cedula.backends.django_q.DjangoQBackend"}
    cache = caches["shared"]
    target = supply_store.Target("site-key", "https://example.org/form")
    store = supply_store.TokenStore(cache, target, max_age=100)
    yield store
    cache.delete_many(
        [supply.TARGETS_KEY, supply.STATUS_KEY, supply.LATENCY_KEY, store._index_key, store._lock_key]
    )


def test_the_live_supply_on_redis(redis_supply: supply_store.TokenStore) -> None:
    supply.note_target(redis_supply.target)
    redis_supply.put(SolvedToken(value="token-a"))
    redis_supply.put(SolvedToken(value="token-b"))
    supply.record_latency(20.0)
    supply.record_latency(30.0)

    captcha = captcha_json()

    assert captcha["supply"] == {
        "available": True,
        "enabled": True,
        "stock": 2,
        "in_flight": 0,
        "latency_estimate": 25.0,
        "targets": 1,
    }
    assert (
        "Token supply: on; 2 tokens ready, 0 solves in flight, solve latency about 25.0 s, 1 target." in run()
    )
    assert redis_supply.take() is not None
    assert captcha_json()["supply"]["stock"] == 1


def test_the_section_in_spanish(twocaptcha: Any, spend_rows: None, validations: None) -> None:
    with translation.override("es"):
        output = run()
    assert "Resoluciones de captcha (días en UTC; hoy desde las 00:00 UTC):" in output
    assert row_cells(output, "resoluciones solicitadas") == ["10", "160", "1160"]
    assert row_cells(output, "resoluciones por validación terminada") == ["2.50", "32.00", "193.33"]
    assert "Costo estimado hoy: 0.03 a CEDULA_CAPTCHA_SOLVER price_per_1000 = 3.0" in output
    assert "Reserva de tokens: inactiva: cada consulta resuelve el suyo; 0 tokens listos" in output
    # JSON keys are never translated.
    with translation.override("es"):
        assert "solves_per_final_validation" in json.loads(run("--json"))["captcha"]["today"]
