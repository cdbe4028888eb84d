"""Registration overhead: what the package adds to creating one user, on SQLite and PostgreSQL.

    .venv/bin/python -m benchmarks.registration [--quick]

Each user is created in its own transaction, as a registration view's ``atomic`` block would, and
timed from the start of the block to the end of its on-commit callbacks (where the package hands
the job to the queue). The same process, database and user model take turns in every round:

- ``baseline``: the package's receivers disconnected, i.e. the project without the package acting;
- ``off``: the package installed with ``CEDULA_AUTO_VALIDATE = False``;
- ``recording``: the package's row work only (jobs kept in memory, no queue);
- ``django_q``: the package as configured by default, Django-Q2 on its ORM broker, with Django's
  default ``CONN_MAX_AGE = 0`` (the headline figure);
- ``django_q_persistent``: the same with persistent connections (``CONN_MAX_AGE = None``).
"""

from __future__ import annotations

import itertools
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from .common import (
    VENDORS,
    Figure,
    child_parser,
    database,
    failed_figure,
    median,
    module_main,
    progress,
    project_environment,
    run_child,
    write_result,
)

TITLE = "Registration overhead (ms per user creation, median)"
GOAL_MS = 2.0
MODES = ("baseline", "off", "recording", "django_q", "django_q_persistent")
RECORDING = "django_cedula.testing.backends.RecordingBackend"
DJANGO_Q = "django_cedula.backends.django_q.DjangoQBackend"


def run(quick: bool) -> list[Figure]:
    """Measure on both databases, each in a fresh database and a fresh process."""
    rounds, users = (2, 50) if quick else (5, 200)
    figures: list[Figure] = []
    for vendor, label in VENDORS.items():
        benchmark = f"registration, {label}"
        progress(f"{benchmark}: {rounds} rounds x {users} users x {len(MODES)} modes")
        try:
            with database(vendor, "bench_registration") as database_env:
                result = run_child(
                    "benchmarks.registration",
                    ["--rounds", str(rounds), "--users", str(users)],
                    project_environment(database_env),
                    timeout=3600,
                )
        except Exception as exc:
            figures.append(failed_figure(benchmark, exc))
            continue
        figures += figures_for(benchmark, result)
    return figures


def figures_for(benchmark: str, result: dict[str, Any]) -> list[Figure]:
    """The table rows of one database: the headline against the goal, then what it is made of."""
    ms = {mode: result["modes"][mode]["median_ms"] for mode in MODES}
    base = ms["baseline"]

    def ratio(mode: str) -> str:
        return f"{ms[mode] / base:.2f}x, {ms[mode] - base:+.2f} ms"

    added = ms["django_q"] - base
    reference = f"{base:.2f} ms without the package"
    rows = [
        Figure(
            benchmark,
            "package + Django-Q2 ORM broker",
            f"{ms['django_q']:.2f} ms",
            reference,
            ratio("django_q"),
            f"<= +{GOAL_MS:.0f} ms",
            added <= GOAL_MS,
            result,
        ),
        Figure(
            benchmark,
            "  same, CONN_MAX_AGE=None",
            f"{ms['django_q_persistent']:.2f} ms",
            reference,
            ratio("django_q_persistent"),
        ),
        Figure(
            benchmark,
            "  package's row only, no queue",
            f"{ms['recording']:.2f} ms",
            reference,
            ratio("recording"),
        ),
        Figure(benchmark, "  CEDULA_AUTO_VALIDATE=False", f"{ms['off']:.2f} ms", reference, ratio("off")),
    ]
    return rows


# -- The child process: Django set up on benchmarks.settings, one fresh database ---------------------


def child(argv: list[str]) -> int:
    parser = child_parser()
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--users", type=int, required=True)
    options = parser.parse_args(argv)

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.db.models.signals import post_save
    from django.test.utils import override_settings
    from django_q.models import OrmQ

    from django_cedula import services as receivers
    from django_cedula.conf import reset_all
    from django_cedula.models import CedulaInfo

    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    serial = itertools.count()

    def disconnect() -> None:
        post_save.disconnect(sender=user_model, dispatch_uid=receivers.DISPATCH_UID)
        post_save.disconnect(sender=user_model, dispatch_uid=receivers.CHANGE_DISPATCH_UID)

    def persistent(on: bool) -> None:
        # Django reads CONN_MAX_AGE when it connects: change it, then start a new connection.
        connection.close()
        connection.settings_dict["CONN_MAX_AGE"] = None if on else 0

    setups: dict[str, tuple[Callable[[], None], dict[str, Any], bool]] = {
        "baseline": (disconnect, {}, False),
        "off": (receivers.connect_receivers, {"CEDULA_AUTO_VALIDATE": False}, False),
        "recording": (receivers.connect_receivers, {"CEDULA_TASKS": {"BACKEND": RECORDING}}, False),
        "django_q": (receivers.connect_receivers, {"CEDULA_TASKS": {"BACKEND": DJANGO_Q}}, False),
        "django_q_persistent": (receivers.connect_receivers, {"CEDULA_TASKS": {"BACKEND": DJANGO_Q}}, True),
    }

    def create_users(mode: str, count: int) -> Iterator[float]:
        connect, overrides, keep_connection = setups[mode]
        connect()
        if keep_connection:
            persistent(True)
        with override_settings(**overrides):
            reset_all()  # the backend is cached: build the one this mode names
            try:
                for _ in range(count):
                    index = next(serial)
                    started = time.perf_counter()
                    # What a registration view does: the user in its own transaction, whose on-commit
                    # callbacks (the package's job hand-off) run before the block returns.
                    with transaction.atomic():
                        user_model.objects.create(
                            username=f"bench{index}", password="!", cedula=str(70_000_000 + index)
                        )
                    yield time.perf_counter() - started
            finally:
                reset_all()
                if keep_connection:
                    persistent(False)

    # Warm up every mode once (imports on first use, Django-Q2's broker, the first queries' plans).
    for mode in MODES:
        for _ in create_users(mode, 20):
            pass

    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    round_means: dict[str, list[float]] = {mode: [] for mode in MODES}
    queued_before = OrmQ.objects.count()
    for number in range(options.rounds):
        # A different order each round, so that no mode always follows the same one.
        order = MODES[number % len(MODES) :] + MODES[: number % len(MODES)]
        for mode in order:
            durations = list(create_users(mode, options.users))
            times[mode] += durations
            round_means[mode].append(statistics.fmean(durations))
    queued = OrmQ.objects.count() - queued_before
    expected = 2 * options.rounds * options.users  # the two Django-Q2 modes
    if queued != expected:
        raise RuntimeError(f"{queued} jobs reached Django-Q2's queue; expected {expected}")

    result = {
        "vendor": connection.vendor,
        "rounds": options.rounds,
        "users_per_round": options.users,
        "jobs_queued": queued,
        "rows": CedulaInfo.objects.count(),
        "modes": {
            mode: {
                "median_ms": median(times[mode]) * 1000,
                "mean_ms": statistics.fmean(times[mode]) * 1000,
                "p90_ms": statistics.quantiles(times[mode], n=10)[-1] * 1000,
                "median_of_round_means_ms": median(round_means[mode]) * 1000,
                "creations": len(times[mode]),
            }
            for mode in MODES
        },
    }
    return write_result(options.out, result)


def main(argv: list[str] | None = None) -> int:
    return module_main(TITLE, run, child, argv)


if __name__ == "__main__":
    sys.exit(main())
