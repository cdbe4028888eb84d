"""The token supply: the store on real shared caches (Redis, the database), its sizing rule, the filler
with a solver stand-in, and when there is no supply at all."""

from __future__ import annotations

import concurrent.futures
import datetime
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from django_cedula.captcha import spend, supply
from django_cedula.captcha.base import CaptchaSolver, SolvedToken
from django_cedula.captcha.supply import Filler, get_token_supply, plan_solves
from django_cedula.captcha.supply_store import Target, TokenStore
from django_cedula.conf import app_settings
from django_cedula.exceptions import CaptchaUnreachable
from django_cedula.models import CaptchaSpend, CedulaInfo

Status = CedulaInfo.Status
TARGET = Target("6LdSiteKeyForTheSupplyTests0000000000000", "http://127.0.0.1:1/censo/consultar/")


def shared_caches(request: pytest.FixtureRequest) -> dict[str, Any]:
    prefix = f"supply-{uuid.uuid4().hex[:8]}"
    return {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "redis": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/3",
            "KEY_PREFIX": prefix,
        },
        "db": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cedula_supply_cache"},
    }


@pytest.fixture(params=["redis", "db"])
def shared_cache(request: pytest.FixtureRequest, settings: Any, transactional_db: None) -> Iterator[str]:
    """A cache shared between processes: Redis, or Django's database cache (its table created)."""
    settings.CACHES = shared_caches(request)
    settings.CEDULA_CACHE_ALIAS = request.param
    if request.param == "db":
        call_command("createcachetable", "cedula_supply_cache", verbosity=0)
    yield request.param
    if request.param == "db":
        caches[request.param].clear()
    # Never clear Redis: RedisCache.clear() flushes the whole database, other runs' keys too; this
    # test's keys sit under a prefix of its own and expire by themselves.


def token(n: int = 0, ref: str = "") -> SolvedToken:
    return SolvedToken(value=f"token-{n}-{uuid.uuid4().hex}", ref=ref or f"ref-{n}", seconds=1.0)


# --------------------------------------------------------------------------- the store


def test_a_token_is_taken_once_and_the_oldest_good_one_first(shared_cache: str) -> None:
    """Oldest first: a standing stock taken freshest-first lets its oldest tokens expire unused."""
    store = TokenStore(caches[shared_cache], TARGET, max_age=100)
    now = time.time()
    older, fresher = token(1), token(2)
    store.put(older, solved_at=now - 50)
    store.put(fresher, solved_at=now - 5)
    assert store.stock(now) == 2

    first = store.take(now)
    assert first is not None
    assert first.value == older.value
    assert first.ref == "ref-1"
    second = store.take(now)
    assert second is not None
    assert second.value == fresher.value
    assert store.take(now) is None
    assert store.stock(now) == 0


def test_an_expired_token_is_never_handed_out_and_is_counted_once(shared_cache: str) -> None:
    store = TokenStore(caches[shared_cache], TARGET, max_age=100)
    now = time.time()
    store.put(token(1), solved_at=now - 99)
    later = now + 2  # now 101 s old
    assert store.stock(later) == 0
    assert store.take(later) is None
    assert store.prune(later) == 1
    assert store.prune(later) == 0, "counted once"


def test_an_expired_token_is_passed_over_for_a_good_one(shared_cache: str) -> None:
    store = TokenStore(caches[shared_cache], TARGET, max_age=100)
    now = time.time()
    good = token(2)
    store.put(token(1), solved_at=now - 150)
    store.put(good, solved_at=now - 10)
    taken = store.take(now)
    assert taken is not None
    assert taken.value == good.value


def test_tokens_are_bound_to_their_target(shared_cache: str) -> None:
    TokenStore(caches[shared_cache], TARGET, max_age=100).put(token(1))
    other = Target(TARGET.site_key, "http://127.0.0.1:1/consultacenso/")
    assert TokenStore(caches[shared_cache], other, max_age=100).take() is None


def test_racing_takers_never_share_a_token(shared_cache: str) -> None:
    """Eight threads take from 20 tokens at once: each token goes to exactly one of them."""
    store = TokenStore(caches[shared_cache], TARGET, max_age=100)
    for n in range(20):
        store.put(token(n))
    taken: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def take_all() -> None:
        mine = TokenStore(caches[shared_cache], TARGET, max_age=100)
        barrier.wait()
        try:
            while (got := mine.take()) is not None:
                with lock:
                    taken.append(got.value)
        finally:
            connection.close()  # the database cache's connection of this thread

    threads = [threading.Thread(target=take_all) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(taken) == 20
    assert len(set(taken)) == 20


# --------------------------------------------------------------------------- the sizing rule


def test_an_idle_site_starts_no_solve() -> None:
    assert plan_solves(due=0, arrivals=0, stock=0, in_flight=0, latency=30, interval=5, min_tokens=0) == 0


def test_a_standing_stock_is_kept_when_asked_for() -> None:
    assert plan_solves(due=0, arrivals=0, stock=0, in_flight=0, latency=30, interval=5, min_tokens=1) == 1
    assert plan_solves(due=0, arrivals=0, stock=1, in_flight=0, latency=30, interval=5, min_tokens=1) == 0


def test_a_backlog_is_capped_by_what_politeness_lets_run_while_a_solve_runs() -> None:
    """1,000 rows due, one lookup per 5 s, 30 s solves: lead 40 s, so 8 tokens are worth having."""
    assert plan_solves(due=1000, arrivals=0, stock=0, in_flight=0, latency=30, interval=5, min_tokens=0) == 8
    assert plan_solves(due=1000, arrivals=0, stock=3, in_flight=5, latency=30, interval=5, min_tokens=0) == 0
    slow = plan_solves(due=1000, arrivals=0, stock=0, in_flight=0, latency=90, interval=5, min_tokens=0)
    assert slow == 20, "in flight follows the solve latency (Little's law)"


def test_arrivals_keep_tokens_ready_in_proportion_to_their_rate() -> None:
    """Six registrations in the last 120 s (one per 20 s), 30 s solves: 2 tokens in the pipeline."""
    assert plan_solves(due=0, arrivals=6, stock=0, in_flight=0, latency=30, interval=5, min_tokens=0) == 2


def test_never_more_in_flight_than_the_cap() -> None:
    assert (
        plan_solves(
            due=10_000,
            arrivals=0,
            stock=0,
            in_flight=supply.MAX_IN_FLIGHT,
            latency=900,
            interval=1,
            min_tokens=0,
        )
        == 0
    )


# --------------------------------------------------------------------------- the filler


class CountingSolver(CaptchaSolver):
    """Solves at once when polled, through submit/poll; counts what it was asked."""

    supports_submit = True
    poll_interval = 0.0
    submitted: ClassVar[list[str]] = []

    def solve(self, site_key: str, page_url: str, *, timeout: float | None = None) -> str:
        raise AssertionError("the filler submits, it does not block")

    def submit(self, site_key: str, page_url: str) -> str:
        ref = f"job-{len(self.submitted)}"
        self.submitted.append(ref)
        return ref

    def poll(self, ref: str) -> SolvedToken | None:
        return SolvedToken(value=f"tok-{ref}-{uuid.uuid4().hex}", ref=ref, seconds=2.0)


@pytest.fixture
def filler(settings: Any, shared_cache: str) -> Iterator[Filler]:
    settings.CEDULA_CAPTCHA_SOLVER = {"BACKEND": f"{__name__}.CountingSolver"}
    settings.CEDULA_TASKS = {"BACKEND": "django_cedula.testing.backends.RecordingBackend"}
    settings.CEDULA_RATE_LIMIT = "1/5s"
    CountingSolver.submitted = []
    supply.note_target(TARGET)
    made = Filler()
    yield made
    made.close()


def add_rows(make_user: Callable[..., Any], count: int, **fields: Any) -> list[Any]:
    users = [make_user(cedula=str(1_000_000_100 + n)) for n in range(count)]
    if fields:
        CedulaInfo.objects.filter(user__in=users).update(**fields)
    return users


def test_an_idle_site_spends_nothing_once_arrivals_are_a_lifetime_old(
    filler: Filler, make_user: Callable[..., Any]
) -> None:
    long_ago = timezone.now() - datetime.timedelta(seconds=app_settings.TOKEN_MAX_AGE + 10)
    add_rows(make_user, 3, status=Status.ACTIVE, requested_at=long_ago)
    for _ in range(5):
        assert filler.tick() == 0
    assert CountingSolver.submitted == []


def test_a_supply_setting_without_every_key_takes_the_others_defaults(filler: Filler, settings: Any) -> None:
    """Only ``MIN_TOKENS`` given: the supply stays on, tokens live 100 s, and an idle site keeps
    its standing stock."""
    settings.CEDULA_TOKEN_SUPPLY = {"MIN_TOKENS": 2}
    assert (app_settings.TOKEN_SUPPLY_ENABLED, app_settings.TOKEN_MAX_AGE) == (True, 100.0)
    assert get_token_supply() is not None
    assert filler.tick() == 2
    assert len(CountingSolver.submitted) == 2
    del settings.CEDULA_TOKEN_SUPPLY  # not set at all: every default, no standing stock
    assert (app_settings.TOKEN_SUPPLY_ENABLED, app_settings.TOKEN_MAX_AGE, app_settings.TOKEN_MIN_STOCK) == (
        True,
        100.0,
        0,
    )


def test_due_rows_start_solves_and_their_tokens_reach_the_store(
    filler: Filler, make_user: Callable[..., Any], shared_cache: str
) -> None:
    add_rows(make_user, 30)  # PENDING, just registered: due now
    started = filler.tick()
    # 30 due, but in a 40 s window at one lookup per 5 s only 8 are worth having.
    assert started == 8
    assert len(filler.in_flight) == 8
    filler.tick()  # collects the ready ones
    store = TokenStore(caches[shared_cache], TARGET, max_age=100)
    assert store.stock() == 8
    assert filler.tick() == 0, "stock + in flight already cover the window"
    spend.flush()
    row = CaptchaSpend.objects.get()
    assert (row.requested, row.delivered) == (8, 8)


class SecondPollSolver(CountingSolver):
    """Ready on a solve's second poll, not its first."""

    polled: ClassVar[set[str]] = set()

    def poll(self, ref: str) -> SolvedToken | None:
        if ref not in self.polled:
            self.polled.add(ref)
            return None
        return super().poll(ref)


class UnansweredPollSolver(SecondPollSolver):
    """ "Not ready" on a solve's first poll; then the service does not answer twice; then ready."""

    unanswered: ClassVar[dict[str, int]] = {}

    def poll(self, ref: str) -> SolvedToken | None:
        if ref in self.polled and self.unanswered.get(ref, 0) < 2:
            self.unanswered[ref] = self.unanswered.get(ref, 0) + 1
            raise CaptchaUnreachable("the service did not answer")
        return super().poll(ref)


class BlockingSolver(CaptchaSolver):
    """A blocking solve (no submit/poll), finished at once."""

    def solve(self, site_key: str, page_url: str, *, timeout: float | None = None) -> str:
        return f"blocking-{uuid.uuid4().hex}"


def test_a_polled_token_s_age_counts_from_its_last_not_ready_poll_not_from_its_collection(
    filler: Filler, make_user: Callable[..., Any], settings: Any, shared_cache: str
) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = {"BACKEND": f"{__name__}.SecondPollSolver"}
    SecondPollSolver.polled = set()
    add_rows(make_user, 2)
    start = time.time()
    assert filler.tick(now=start) > 0
    filler.tick(now=start + 1)  # first polls: not ready
    filler.tick(now=start + 3)  # ready: solved between start + 1 and start + 3
    got = TokenStore(caches[shared_cache], TARGET, max_age=100).take()
    assert got is not None
    assert got.solved_at == start + 1, "the oldest it can be, not the round that collected it"


def test_an_unanswered_poll_is_not_taken_for_not_ready(
    filler: Filler, make_user: Callable[..., Any], settings: Any, shared_cache: str
) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = {"BACKEND": f"{__name__}.UnansweredPollSolver"}
    SecondPollSolver.polled, UnansweredPollSolver.unanswered = set(), {}
    add_rows(make_user, 2)
    start = time.time()
    assert filler.tick(now=start) > 0
    filler.tick(now=start + 1)  # not ready
    filler.tick(now=start + 2)  # no answer: the token may be ready by now
    filler.tick(now=start + 3)  # no answer
    assert filler.in_flight, "an unanswered poll keeps the paid solve"
    filler.tick(now=start + 4)  # ready
    got = TokenStore(caches[shared_cache], TARGET, max_age=100).take()
    assert got is not None
    assert got.solved_at == start + 1, "counted from the last answer that said not ready"
    spend.flush()
    assert CaptchaSpend.objects.get().failed == 0


def test_a_blocking_solve_s_token_counts_from_when_it_finished(
    filler: Filler, make_user: Callable[..., Any], settings: Any, shared_cache: str
) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = {"BACKEND": f"{__name__}.BlockingSolver"}
    add_rows(make_user, 2)
    started = time.time()
    assert filler.tick(now=started) > 0
    flying = [solve.future for solve in filler.in_flight]
    concurrent.futures.wait([future for future in flying if future is not None], timeout=10)
    finished = time.time()
    time.sleep(0.3)  # collected a while after the solve came back (a round is up to a second)
    filler.tick()
    got = TokenStore(caches[shared_cache], TARGET, max_age=100).take()
    assert got is not None
    assert started <= got.solved_at <= finished


def test_a_process_that_does_not_lead_still_writes_its_counts(
    filler: Filler, make_user: Callable[..., Any]
) -> None:
    add_rows(make_user, 2)
    other = Filler()
    try:
        assert filler.tick() > 0  # the lead is filler's
        before = CaptchaSpend.objects.get().delivered
        spend.count("delivered")  # say, a lookup's own solve, donated after its job ended
        assert other.tick() == 0
        assert CaptchaSpend.objects.get().delivered == before + 1, "written by the follower's round"
    finally:
        other.close()


def test_only_one_process_leads_the_filling(filler: Filler, make_user: Callable[..., Any]) -> None:
    add_rows(make_user, 5)
    other = Filler()
    try:
        assert filler.tick() > 0
        assert other.tick() == 0, "the lease is held"
        assert not other.lead()
    finally:
        other.close()


def test_the_supply_serves_a_lookup_and_counts_it_used(
    filler: Filler, make_user: Callable[..., Any], settings: Any
) -> None:
    add_rows(make_user, 2)
    filler.tick()
    filler.tick()
    served = get_token_supply()
    assert served is not None
    got = served.take(TARGET.site_key, TARGET.page_url)
    assert got is not None
    assert got.ref.startswith("job-")
    assert spend.pending().get("used") == 1


# --------------------------------------------------------------------------- no supply


def test_no_supply_with_a_process_local_cache(settings: Any) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = {"BACKEND": f"{__name__}.CountingSolver"}
    settings.CEDULA_TASKS = {"BACKEND": "django_cedula.testing.backends.RecordingBackend"}
    assert get_token_supply() is None


def test_no_supply_with_the_inline_backend_or_when_turned_off(
    settings: Any, request: pytest.FixtureRequest
) -> None:
    settings.CACHES = shared_caches(request)
    settings.CEDULA_CACHE_ALIAS = "redis"
    settings.CEDULA_CAPTCHA_SOLVER = {"BACKEND": f"{__name__}.CountingSolver"}
    settings.CEDULA_TASKS = {"BACKEND": "django_cedula.backends.inline.InlineBackend"}
    assert get_token_supply() is None
    settings.CEDULA_TASKS = {"BACKEND": "django_cedula.testing.backends.RecordingBackend"}
    assert get_token_supply() is not None
    settings.CEDULA_TOKEN_SUPPLY = {"ENABLED": False}
    assert get_token_supply() is None


def test_a_standing_stock_is_replaced_before_its_token_expires() -> None:
    """One token in stock, but it will be too old by the time a solve started now is back: a
    replacement starts now, so the stock is never empty for a solve's time after each expiry."""
    kwargs: dict[str, Any] = {"due": 0, "arrivals": 0, "in_flight": 0, "latency": 30, "interval": 5}
    assert plan_solves(stock=1, lasting=0, min_tokens=1, **kwargs) == 1
    assert plan_solves(stock=1, lasting=1, min_tokens=1, **kwargs) == 0
    assert plan_solves(stock=1, lasting=0, min_tokens=0, **kwargs) == 0, "no stock asked for: no spend"


def test_planning_uses_the_tail_of_recent_solve_times(shared_cache: str) -> None:
    for seconds in [10, 12, 15, 20, 25, 30, 40, 60, 90, 120]:
        supply.record_latency(seconds)
    assert supply.latency_estimate() == pytest.approx(42.2)
    assert supply.planning_latency() == 90, "the 80th percentile: a pipeline sized for the mean runs dry"


class SlowSolver(CaptchaSolver):
    """Takes 2 s a solve (a real service's tail, shortened)."""

    def solve(self, site_key: str, page_url: str, *, timeout: float | None = None) -> str:
        time.sleep(2)
        return f"own-{uuid.uuid4().hex}"


def test_a_lookup_waiting_for_its_own_solve_takes_a_supply_token_that_arrives_meanwhile(
    settings: Any, shared_cache: str
) -> None:
    """The supply was empty when the lookup posted; 0.3 s later the filler stocks a token. The lookup
    sends that one instead of sitting out its own 2 s solve, and its own token goes to the supply."""
    import asyncio
    import concurrent.futures

    from django_cedula.scrapers.solving import CaptchaSolve

    settings.CEDULA_CAPTCHA_SOLVER = {"BACKEND": f"{__name__}.SlowSolver"}
    settings.CEDULA_TASKS = {"BACKEND": "django_cedula.testing.backends.RecordingBackend"}
    served = get_token_supply()
    assert served is not None
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    solve = CaptchaSolve(SlowSolver(), executor, supply=served)
    solve.start(TARGET.site_key, TARGET.page_url)
    stocked = token(7)
    store = TokenStore(caches[shared_cache], TARGET, max_age=100)
    threading.Timer(0.3, store.put, args=(stocked,)).start()

    value = asyncio.run(solve.token())
    assert value == stocked.value, "it sent the stocked token, not its own (which came 1.7 s later)"
    assert solve.used == [stocked.ref]
    executor.shutdown(wait=True)  # the own solve finishes...
    donated = store.take()
    assert donated is not None, "...and its token went to the supply"
    assert donated.value.startswith("own-")


# ---------------------------------------------------------------------- a cache that fails or holds garbage


def test_a_failing_cache_is_no_supply_logged_once_until_it_answers_again(
    settings: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: the cache's error escaped take() and available(), and the lookup ended network_error."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "dead": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9"},
    }
    settings.CEDULA_CACHE_ALIAS = "dead"
    settings.CEDULA_CAPTCHA_SOLVER = {"BACKEND": f"{__name__}.CountingSolver"}
    settings.CEDULA_TASKS = {"BACKEND": "django_cedula.testing.backends.RecordingBackend"}
    served = get_token_supply()
    assert served is not None
    monkeypatch.setattr(supply, "OUTAGE_RETRY", 0.0)  # ask the cache each time: each fails
    with caplog.at_level(logging.WARNING, logger="django_cedula"):
        for _ in range(3):
            assert served.take(TARGET.site_key, TARGET.page_url) is None
            assert served.available(TARGET.site_key, TARGET.page_url) == 0
            served.donate(TARGET.site_key, TARGET.page_url, token(1))
    assert served.failing
    failures = [r for r in caplog.records if "The token supply's cache ('dead') failed" in r.getMessage()]
    assert len(failures) == 1, "logged once, not per lookup"

    monkeypatch.setattr(supply, "OUTAGE_RETRY", 60.0)
    served.take(TARGET.site_key, TARGET.page_url)  # fails, and rests a minute
    asked: list[str] = []
    monkeypatch.setattr(supply, "shared_cache", lambda: asked.append("cache") or caches["default"])
    assert served.take(TARGET.site_key, TARGET.page_url) is None
    assert asked == [], "while it rests, a lookup does not ask the cache at all"

    monkeypatch.setattr(served, "_resting_until", 0.0)  # the minute is over; the cache works now
    with caplog.at_level(logging.WARNING, logger="django_cedula"):
        assert served.available(TARGET.site_key, TARGET.page_url) == 0
    assert not served.failing
    assert "The token supply's cache answers again" in caplog.text


def test_garbage_in_the_index_is_left_out_and_repaired(
    shared_cache: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_cedula import throttle

    monkeypatch.setattr(throttle, "_garbage_logged", {})
    cache = caches[shared_cache]
    store = TokenStore(cache, TARGET, max_age=100)
    good = token(1)
    store.put(good, solved_at=time.time() - 5)
    index = cache.get(TARGET.key + ":index")
    cache.set(TARGET.key + ":index", {**index, "not-an-id": 1.0, "0" * 16: "when?", "1" * 16: math.inf})
    assert store.stock() == 1
    taken = store.take()
    assert taken is not None
    assert taken.value == good.value
    assert set(cache.get(TARGET.key + ":index")) == set(index), "the garbage entries are gone"

    for garbage in ("garbage", ["a", "list"], None):
        cache.set(TARGET.key + ":index", garbage)
        assert store.take() is None
        assert store.prune() == 0
        assert cache.get(TARGET.key + ":index") in (None, {})


def test_a_stored_token_that_is_no_token_is_never_handed_out(shared_cache: str) -> None:
    cache = caches[shared_cache]
    store = TokenStore(cache, TARGET, max_age=100)
    store.put(token(1))
    (token_id,) = cache.get(TARGET.key + ":index")
    cache.set(f"{TARGET.key}:token:{token_id}", {"value": "x" * 9000, "ref": "r"})
    assert store.take() is None
    assert cache.get(f"{TARGET.key}:token:{token_id}") is None


class OversizedSolver(CountingSolver):
    """Its service answers with 9,000 characters: more than any token."""

    def poll(self, ref: str) -> SolvedToken | None:
        return SolvedToken(value="x" * 9000, ref=ref, seconds=2.0)


def test_the_filler_never_stocks_a_token_that_is_no_token(
    filler: Filler, make_user: Callable[..., Any], shared_cache: str, settings: Any
) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = {"BACKEND": f"{__name__}.OversizedSolver"}
    add_rows(make_user, 2)
    assert filler.tick() > 0
    filler.tick()
    assert TokenStore(caches[shared_cache], TARGET, max_age=100).stock() == 0
    spend.flush()
    row = CaptchaSpend.objects.get()
    assert row.delivered == 0
    assert row.failed >= 1, "refused solves count as failed"
