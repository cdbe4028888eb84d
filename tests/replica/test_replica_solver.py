"""The replica's solver stand-in: its latency model, submit / poll, reports and options.

Time is a fake clock here (``solver.clock`` / ``solver.sleep``): the model's behaviour is checked,
never the machine's speed.
"""

from __future__ import annotations

import math
import statistics
import threading

import pytest

from django_cedula.captcha.base import CaptchaSolver
from django_cedula.conf import build
from django_cedula.exceptions import CaptchaError, ConfigurationError
from django_cedula.testing.captcha import P90_Z, ReplicaCaptchaSolver
from django_cedula.testing.replica.tokens import TokenCheck, TokenVerifier, check_token

SITE_KEY = "6LdReplicaLocalSiteKeyForTestsOnly000000"
URL = "http://127.0.0.1:8765/censo/consultar/"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def solver_with_fake_time(**options: object) -> tuple[ReplicaCaptchaSolver, FakeTime]:
    solver = ReplicaCaptchaSolver(**options)  # type: ignore[arg-type]
    fake = FakeTime()
    solver.clock = fake.clock
    solver.sleep = fake.sleep
    return solver, fake


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def test_the_same_seed_gives_the_same_draws() -> None:
    options = {"latency_median": 30.0, "latency_p90": 60.0}
    one = ReplicaCaptchaSolver(seed=5, **options)
    two = ReplicaCaptchaSolver(seed=5, **options)
    other = ReplicaCaptchaSolver(seed=6, **options)
    draws = [one.draw_latency() for _ in range(50)]
    assert draws == [two.draw_latency() for _ in range(50)]
    assert draws != [other.draw_latency() for _ in range(50)]
    assert one.latencies == draws
    assert ReplicaCaptchaSolver(**options).seed == 0, "seeded by default too"


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("median", "p90"), [(30.0, 60.0), (4.0, 5.0)])
def test_median_and_p90_of_the_draws(seed: int, median: float, p90: float) -> None:
    solver = ReplicaCaptchaSolver(latency_median=median, latency_p90=p90, seed=seed)
    assert solver.sigma == pytest.approx(math.log(p90 / median) / 1.2816, rel=1e-4)
    assert statistics.NormalDist().inv_cdf(0.9) == pytest.approx(P90_Z, rel=1e-9)
    draws = [solver.draw_latency() for _ in range(2000)]
    assert statistics.median(draws) == pytest.approx(median, rel=0.05)
    assert quantile(draws, 0.90) == pytest.approx(p90, rel=0.06)
    assert min(draws) > 0


def test_a_fixed_delay_is_slept_every_time() -> None:
    solver, fake = solver_with_fake_time(delay=4)
    tokens = [solver.solve_token(SITE_KEY, URL) for _ in range(3)]
    assert fake.slept == [4.0, 4.0, 4.0]
    assert [t.seconds for t in tokens] == [4.0, 4.0, 4.0]
    assert len({t.value for t in tokens}) == 3
    assert len({t.ref for t in tokens}) == 3
    assert all(t.ref for t in tokens)


def test_solve_sleeps_the_drawn_latency() -> None:
    solver, fake = solver_with_fake_time(latency_median=30, latency_p90=60, seed=3)
    token = solver.solve_token(SITE_KEY, URL, timeout=1000)
    assert fake.slept == solver.latencies == [token.seconds]
    assert check_token(token.value, SITE_KEY) is TokenCheck.ACCEPTED
    assert solver.solve(SITE_KEY, URL) != token.value
    assert solver.calls == [(SITE_KEY, URL), (SITE_KEY, URL)]


def test_solve_gives_up_at_the_timeout_when_the_draw_is_longer() -> None:
    solver, fake = solver_with_fake_time(delay=10)
    with pytest.raises(CaptchaError, match="within the 3 s"):
        solver.solve(SITE_KEY, URL, timeout=3)
    assert fake.slept == [3]
    assert solver.solve(SITE_KEY, URL, timeout=10), "a draw equal to the time left still makes it"


def test_a_fixed_token_is_sent_as_given() -> None:
    solver, _ = solver_with_fake_time(token="wrong")
    assert solver.solve(SITE_KEY, URL) == "wrong"
    polled = solver.poll(solver.submit(SITE_KEY, URL))
    assert polled is not None
    assert polled.value == "wrong"
    assert check_token("wrong", SITE_KEY) is TokenCheck.UNKNOWN, "the replica refuses it"


def test_submit_and_poll_many_in_flight_without_threads() -> None:
    solver, fake = solver_with_fake_time(latency_median=30, latency_p90=60, seed=11)
    threads = threading.active_count()
    refs = [solver.submit(SITE_KEY, URL) for _ in range(200)]
    assert len(set(refs)) == 200
    assert solver.in_flight == 200
    assert threading.active_count() == threads
    assert fake.slept == [], "submit does not wait"
    latency = dict(zip(refs, solver.latencies, strict=True))
    assert all(solver.poll(ref) is None for ref in refs), "nothing is ready at once"

    delivered: dict[str, str] = {}
    for elapsed in (10.0, 30.0, 60.0, 1000.0):
        fake.now = 1000.0 + elapsed
        for ref in refs:
            if ref in delivered:
                continue
            token = solver.poll(ref)
            if token is not None:
                assert token.ref == ref
                assert token.seconds == latency[ref]
                delivered[ref] = token.value
        assert set(delivered) == {ref for ref in refs if latency[ref] <= elapsed}
    assert solver.in_flight == 0
    assert len(delivered) == 200
    verifier = TokenVerifier()
    assert {verifier.verify(value, SITE_KEY) for value in delivered.values()} == {TokenCheck.ACCEPTED}
    with pytest.raises(CaptchaError, match="no solve"):
        solver.poll(refs[0])  # delivered once, then gone


def test_a_failing_service_fails_at_poll_once_ready() -> None:
    solver, fake = solver_with_fake_time(delay=5, fail=True)
    ref = solver.submit(SITE_KEY, URL)
    assert solver.poll(ref) is None
    fake.now += 5
    with pytest.raises(CaptchaError, match="told to fail"):
        solver.poll(ref)
    assert solver.in_flight == 0
    with pytest.raises(CaptchaError, match="told to fail"):
        solver.solve(SITE_KEY, URL)
    assert fake.slept == [5], "the blocking solve fails after its latency, as a service would"


def test_reports_are_recorded() -> None:
    solver = ReplicaCaptchaSolver()
    good, bad = solver.solve_token(SITE_KEY, URL), solver.solve_token(SITE_KEY, URL)
    solver.report(good.ref, accepted=True)
    solver.report(bad.ref, accepted=False)
    assert solver.reports == [(good.ref, True), (bad.ref, False)]
    assert ReplicaCaptchaSolver.supports_reports is True
    assert ReplicaCaptchaSolver.supports_submit is True


def test_options() -> None:
    solver = ReplicaCaptchaSolver(latency_median=30, latency_p90=60, seed=2, poll_interval=0.5)
    assert isinstance(solver, CaptchaSolver)
    assert solver.options == {
        "token": None,
        "delay": 0,
        "latency_median": 30,
        "latency_p90": 60,
        "seed": 2,
        "fail": False,
        "poll_interval": 0.5,
    }
    assert solver.poll_interval == 0.5
    assert ReplicaCaptchaSolver().poll_interval == 0.25
    assert CaptchaSolver.poll_interval == 5.0, "the instance's value does not leak into the interface"
    # What it keeps builds it again; a misspelt option is refused by its name.
    assert ReplicaCaptchaSolver(**solver.options).options == solver.options
    with pytest.raises(TypeError, match="unknown options: 'latency_p50'"):
        ReplicaCaptchaSolver(latency_p50=30)
    with pytest.raises(ConfigurationError, match=r"CEDULA_CAPTCHA_SOLVER: .*'latency_p50'"):
        build(ReplicaCaptchaSolver, {"latency_p50": 30}, "CEDULA_CAPTCHA_SOLVER")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"delay": -1}, "negative"),
        ({"latency_median": 30}, "go together"),
        ({"latency_p90": 60}, "go together"),
        ({"latency_median": 60, "latency_p90": 30}, "at least"),
        ({"latency_median": 0, "latency_p90": 30}, "positive"),
        ({"delay": 2, "latency_median": 30, "latency_p90": 60}, "not both"),
        ({"poll_interval": 0}, "poll_interval"),
    ],
)
def test_bad_options(options: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReplicaCaptchaSolver(**options)  # type: ignore[arg-type]


def test_unknown_options_and_no_site_key() -> None:
    with pytest.raises(TypeError):
        ReplicaCaptchaSolver(tokn="typo")  # type: ignore[call-arg]
    with pytest.raises(CaptchaError, match="site key"):
        ReplicaCaptchaSolver().solve("", URL)
    with pytest.raises(CaptchaError, match="site key"):
        ReplicaCaptchaSolver().submit("", URL)
