"""cedula_revalidate, cedula_sweep and cedula_stats: output, filters, dry runs, progress bars, help."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError

from django_cedula.backends import ValidationJob
from django_cedula.models import CedulaInfo
from django_cedula.testing.backends import RecordingBackend

from .conftest import FakeTTY, ago, set_row

pytestmark = pytest.mark.django_db(transaction=True)
Status = CedulaInfo.Status
ROOT = Path(__file__).resolve().parents[2]
#: The documented ranges (docs/commands.rst): users per batch, rows per chunk, the longest --older-than.
MAX_BATCH_SIZE = 10_000
MAX_CHUNK_SIZE = 10_000
MAX_DURATION_DAYS = 36_500


def run(name: str, *args: str, stdout: io.StringIO | None = None) -> str:
    out = stdout if stdout is not None else io.StringIO()
    call_command(name, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def queued_users(recording_backend: type[RecordingBackend]) -> list[Any]:
    return sorted(job.user_id for job in recording_backend.jobs)


@pytest.fixture
def population(
    registered: Callable[..., Any], make_user: Callable[..., Any], settings: Any
) -> dict[str, Any]:
    """Users in every interesting state, none in the cooldown unless said so (a failure's
    cooldown counts from its end: its last change, ``updated_at``)."""
    settings.CEDULA_SWEEP = {"PENDING_AFTER": 600}
    users = {
        "active_old": registered(cedula="1000000001", username="ana"),
        "active_recent": registered(cedula="1000000002"),
        "error": registered(cedula="1000000003"),
        "timeout": registered(cedula="1000000004"),
        "processing": registered(cedula="1000000005"),
        "never": registered(cedula=""),
    }
    set_row(users["active_old"], status=Status.ACTIVE, fetched_at=ago(days=40), requested_at=ago(days=40))
    set_row(users["active_recent"], status=Status.ACTIVE, fetched_at=ago(days=2), requested_at=ago(days=2))
    set_row(
        users["error"],
        status=Status.ERROR,
        error_code="network_error",
        requested_at=ago(days=3),
        updated_at=ago(hours=2),  # ended within the last 24 hours (cedula_stats counts it)
    )
    set_row(
        users["timeout"],
        status=Status.TIMEOUT,
        error_code="timeout",
        requested_at=ago(days=40),
        updated_at=ago(hours=3),
    )
    set_row(users["processing"], status=Status.PROCESSING, requested_at=ago(days=40))
    # A user who registered without a cédula and got one by a path that sends no signal.
    type(users["never"]).objects.filter(pk=users["never"].pk).update(cedula="1000000006")
    return users


# cedula_revalidate


def test_revalidate_refuses_to_run_without_a_choice(population: dict[str, Any]) -> None:
    with pytest.raises(CommandError, match="--all"):
        run("cedula_revalidate")
    with pytest.raises(CommandError, match="leave out"):
        run("cedula_revalidate", "--all", "--status", "error")


def test_revalidate_by_status(population: dict[str, Any], recording_backend: type[RecordingBackend]) -> None:
    output = run("cedula_revalidate", "--status", "error", "--status", "timeout")
    assert output.startswith("Queued 2 of 2 users.")
    assert queued_users(recording_backend) == sorted([population["error"].pk, population["timeout"].pk])
    assert CedulaInfo.objects.get(user=population["error"]).status == Status.PENDING


def test_revalidate_older_than(population: dict[str, Any], recording_backend: type[RecordingBackend]) -> None:
    output = run("cedula_revalidate", "--older-than", "30d")
    # active_old (answered 40 days ago), timeout (never answered, asked 40 days ago); processing is under way.
    assert "Queued 2 of 3 users." in output
    assert "1 skipped: already under way" in output
    assert queued_users(recording_backend) == sorted([population["active_old"].pk, population["timeout"].pk])


def test_revalidate_filters_combine(
    population: dict[str, Any], recording_backend: type[RecordingBackend]
) -> None:
    run("cedula_revalidate", "--older-than", "30d", "--status", "active")
    assert queued_users(recording_backend) == [population["active_old"].pk]


def test_revalidate_by_id_or_username(
    population: dict[str, Any], recording_backend: type[RecordingBackend]
) -> None:
    output = run("cedula_revalidate", "--user", "ana", "--user", str(population["never"].pk))
    assert "Queued 2 of 2 users." in output
    assert queued_users(recording_backend) == sorted([population["active_old"].pk, population["never"].pk])
    with pytest.raises(CommandError, match="nobody"):
        run("cedula_revalidate", "--user", "nobody")


def _digits_in(script_zero: str, number: int) -> str:
    """``number`` written with the digits of another script (``"\uff10"``: full-width)."""
    return "".join(chr(ord(script_zero) + int(digit)) for digit in str(number))


@pytest.mark.parametrize(
    "written",
    [
        pytest.param(lambda pk: _digits_in("\uff10", pk), id="full-width"),
        pytest.param(lambda pk: _digits_in("\u0660", pk), id="arabic-indic"),
        pytest.param(lambda pk: f"+{pk}", id="plus-sign"),
        pytest.param(lambda pk: f" {pk}", id="leading-space"),
        pytest.param(lambda pk: f"0_{pk}", id="underscore"),
    ],
)
def test_revalidate_takes_ids_in_ascii_digits_only(
    population: dict[str, Any], recording_backend: type[RecordingBackend], written: Callable[[int], str]
) -> None:
    # int() reads each of these as the id (int("１") == 1, int("0_1") == 1); none is how an id is written.
    pk = population["active_old"].pk
    with pytest.raises(CommandError, match="No user has the id or username"):
        run("cedula_revalidate", "--user", written(pk))
    assert recording_backend.jobs == []
    run("cedula_revalidate", "--user", str(pk))  # the same id in ASCII digits
    assert queued_users(recording_backend) == [pk]


def test_revalidate_does_not_echo_a_long_user_back_whole(population: dict[str, Any]) -> None:
    with pytest.raises(CommandError) as excinfo:
        run("cedula_revalidate", "--user", "a" * 10_000)
    message = str(excinfo.value)
    assert message == "No user has the id or username 'aaaaaaaaaaaaaaaaaaaa'… (10000 characters)."


def test_revalidate_does_not_echo_a_long_duration_back_whole() -> None:
    with pytest.raises(CommandError) as excinfo:
        run("cedula_revalidate", "--older-than", "9" * 10_000)
    message = str(excinfo.value)
    assert "'99999999999999999999'… (10000 characters) is not a duration" in message
    assert len(message) < 200


def test_revalidate_respects_the_cooldown_unless_forced(
    population: dict[str, Any], recording_backend: type[RecordingBackend]
) -> None:
    set_row(population["active_recent"], requested_at=ago(minutes=5))
    output = run("cedula_revalidate", "--user", str(population["active_recent"].pk))
    assert "Queued 0 of 1 user." in output
    assert (
        "1 skipped: requested within CEDULA_REFRESH_COOLDOWN, or failed a moment ago (use --force)" in output
    )
    assert recording_backend.jobs == []

    output = run("cedula_revalidate", "--user", str(population["active_recent"].pk), "--force")
    assert "Queued 1 of 1 user." in output
    assert recording_backend.jobs == [ValidationJob(population["active_recent"].pk, 1)]


def test_revalidate_all_includes_users_never_validated(
    population: dict[str, Any], recording_backend: type[RecordingBackend], make_user: Callable[..., Any]
) -> None:
    make_user(cedula="")  # no cédula: not selected at all
    output = run("cedula_revalidate", "--all", "--batch-size", "2")
    assert "Queued 5 of 6 users." in output  # all but the one processing
    assert population["never"].pk in queued_users(recording_backend)
    assert CedulaInfo.objects.get(user=population["never"]).status == Status.PENDING


def test_revalidate_dry_run_changes_nothing(
    population: dict[str, Any], recording_backend: type[RecordingBackend]
) -> None:
    before = list(CedulaInfo.objects.order_by("pk").values())
    output = run("cedula_revalidate", "--all", "--dry-run", "--batch-size", "2")
    assert output.startswith("Dry run: would queue 5 of 6 users; nothing was changed.")
    assert "1 skipped: already under way" in output
    assert recording_backend.jobs == []
    assert list(CedulaInfo.objects.order_by("pk").values()) == before


def test_revalidate_dry_run_predicts_the_real_run(
    population: dict[str, Any], recording_backend: type[RecordingBackend]
) -> None:
    type(population["error"]).objects.filter(pk=population["error"].pk).update(cedula="12-AB")
    dry = run("cedula_revalidate", "--all", "--dry-run").splitlines()
    real = run("cedula_revalidate", "--all").splitlines()
    assert dry[0] == "Dry run: would queue 4 of 6 users; nothing was changed."
    assert real[0] == "Queued 4 of 6 users."
    assert dry[1:] == [line.replace("marked", "would be marked") for line in real[1:]]
    assert "1 marked invalid" in real[1]


def test_revalidate_rejects_a_bad_duration() -> None:
    with pytest.raises(CommandError, match="not a duration"):
        run("cedula_revalidate", "--older-than", "soon")


def test_revalidate_draws_a_bar_only_on_a_terminal(
    population: dict[str, Any], recording_backend: type[RecordingBackend]
) -> None:
    piped = run("cedula_revalidate", "--all", "--dry-run", "--batch-size", "2")
    assert "\r" not in piped
    terminal = run("cedula_revalidate", "--all", "--dry-run", "--batch-size", "2", stdout=FakeTTY())
    assert "\rusers [" in terminal
    assert "100% 6/6\n" in terminal
    assert "100% 6/6\nDry run: would queue 5 of 6 users; nothing was changed.\n" in terminal


def test_revalidate_never_prints_or_logs_numbers(
    population: dict[str, Any], recording_backend: type[RecordingBackend], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="django_cedula")
    output = run("cedula_revalidate", "--all")
    for number in ("1000000001", "1000000003", "1000000006"):
        assert number not in output
        assert number not in caplog.text


# cedula_sweep


def test_sweep_prints_counts_per_kind(
    population: dict[str, Any], recording_backend: type[RecordingBackend]
) -> None:
    set_row(population["processing"], updated_at=ago(hours=1))
    set_row(
        population["active_recent"], status=Status.PENDING, requested_at=ago(hours=1), updated_at=ago(hours=1)
    )

    dry = run("cedula_sweep", "--dry-run")
    assert dry.splitlines()[:4] == [
        "Would re-queue 2 validations (dry run: nothing changed).",
        "  pending:    1",
        "  retrying:   0",
        "  processing: 1",
    ]
    assert recording_backend.jobs == []
    assert CedulaInfo.objects.get(user=population["processing"]).status == Status.PROCESSING

    assert run("cedula_sweep").startswith("Re-queued 2 validations.\n")
    assert len(recording_backend.jobs) == 2
    assert json.loads(run("cedula_sweep", "--json"))["requeued"] == 0


def test_sweep_draws_a_bar_only_on_a_terminal(
    population: dict[str, Any], recording_backend: type[RecordingBackend]
) -> None:
    set_row(population["processing"], updated_at=ago(hours=1))
    assert "\r" not in run("cedula_sweep", "--dry-run")
    assert "\rrows [" in run("cedula_sweep", "--dry-run", stdout=FakeTTY())


# cedula_stats


def test_stats_json(population: dict[str, Any]) -> None:
    set_row(population["active_recent"], status=Status.PENDING, requested_at=ago(hours=2))
    set_row(population["timeout"], updated_at=ago(days=2))  # a failure, but not a recent one

    stats = json.loads(run("cedula_stats", "--json"))

    assert list(stats["statuses"]) == list(Status.values)
    assert stats["statuses"] == {
        **dict.fromkeys(Status.values, 0),
        "active": 1,
        "pending": 1,
        "error": 1,
        "timeout": 1,
        "processing": 1,
    }
    assert stats["total"] == CedulaInfo.objects.count()
    assert 7190 <= stats["oldest_pending"]["age_seconds"] <= 7300
    assert stats["last_24h"]["failed"] == {"error": 1, "timeout": 0, "blocked": 0}
    assert stats["last_24h"]["error_codes"] == {"network_error": 1}
    assert stats["last_24h"]["with_error_code"] == 1


def test_stats_text(population: dict[str, Any]) -> None:
    set_row(population["active_recent"], status=Status.PENDING, requested_at=ago(hours=2, minutes=5))
    output = run("cedula_stats")
    lines = output.splitlines()
    assert lines[0].split() == ["status", "rows"]
    for status in Status.values:
        assert any(line.split()[:1] == [status] for line in lines), status
    assert any(line.split()[:2] == ["blocked", "0"] for line in lines)
    assert "Oldest pending: 2h 5m" in output
    assert "  failed: 2 (error 1, timeout 1, blocked 0)" in output
    assert "  with an error kind: 2 (network_error 1, timeout 1)" in output


def test_stats_on_an_empty_table() -> None:
    stats = json.loads(run("cedula_stats", "--json"))
    assert stats["total"] == 0
    assert stats["oldest_pending"] is None
    assert "Oldest pending: none" in run("cedula_stats")


# Help


@pytest.mark.parametrize(
    ("name", "phrases"),
    [
        ("cedula_revalidate", ["--status", "--older-than", "--user", "--all", "--force", "--dry-run"]),
        ("cedula_sweep", ["--dry-run", 'CEDULA_SWEEP["PENDING_AFTER"]', 'CEDULA_SWEEP["SCHEDULE"]']),
        (
            "cedula_stats",
            ["--json", "last 24 hours", "last 7 days", "UTC", "price_per_1000", "CEDULA_SOURCES"],
        ),
    ],
)
def test_help(name: str, phrases: list[str]) -> None:
    text = load_command_class("django_cedula", name).create_parser("manage.py", name).format_help()
    for phrase in phrases:
        assert phrase in text


# Out-of-range arguments: refused by the parser (exit 2, usage and one line), never a traceback.

#: Every numeric or duration argument of the package's commands, with values out of its range.
OUT_OF_RANGE = [
    pytest.param(("cedula_revalidate", "--older-than", "99999999999d"), "--older-than", id="older-than-huge"),
    pytest.param(
        ("cedula_revalidate", "--older-than", "9" * 5000 + "d"), "--older-than", id="older-than-digits"
    ),
    pytest.param(("cedula_revalidate", "--older-than", "0d"), "--older-than", id="older-than-zero"),
    pytest.param(
        ("cedula_revalidate", "--all", "--batch-size", "999999999999999999999"),
        "--batch-size",
        id="batch-huge",
    ),
    pytest.param(("cedula_revalidate", "--all", "--batch-size", "0"), "--batch-size", id="batch-zero"),
    pytest.param(("cedula_revalidate", "--all", "--batch-size", "-5"), "--batch-size", id="batch-negative"),
    pytest.param(("cedula_revalidate", "--all", "--batch-size", "ten"), "--batch-size", id="batch-word"),
    pytest.param(("cedula_sweep", "--chunk-size", "-1"), "--chunk-size", id="chunk-negative"),
    pytest.param(("cedula_sweep", "--chunk-size", "0"), "--chunk-size", id="chunk-zero"),
    pytest.param(("cedula_sweep", "--chunk-size", "10" * 20), "--chunk-size", id="chunk-huge"),
]


@pytest.mark.parametrize(("argv", "option"), OUT_OF_RANGE)
def test_an_out_of_range_argument_exits_2_with_one_clear_line(argv: tuple[str, ...], option: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "django", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        timeout=60,
    )
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr
    last = completed.stderr.strip().splitlines()[-1]
    assert f"{argv[0]}: error: argument {option}: " in last, completed.stderr
    assert len(last) < 200, last  # a long value is not echoed whole
    assert completed.stdout == ""


@pytest.mark.parametrize(("argv", "option"), OUT_OF_RANGE)
def test_an_out_of_range_argument_is_refused_before_any_work(
    argv: tuple[str, ...], option: str, recording_backend: type[RecordingBackend]
) -> None:
    with pytest.raises(CommandError, match=f"argument {option}"):
        run(*argv)
    assert recording_backend.jobs == []


def test_the_ranges_edges_are_accepted(population: dict[str, Any]) -> None:
    assert "Dry run" in run("cedula_revalidate", "--all", "--dry-run", "--batch-size", str(MAX_BATCH_SIZE))
    assert "Dry run" in run("cedula_revalidate", "--older-than", f"{MAX_DURATION_DAYS}d", "--dry-run")
    assert "Would re-queue" in run("cedula_sweep", "--dry-run", "--chunk-size", "1")
    assert "Would re-queue" in run("cedula_sweep", "--dry-run", "--chunk-size", str(MAX_CHUNK_SIZE))


def test_the_ranges_are_the_documented_ones() -> None:
    from django_cedula.management.commands import cedula_revalidate, cedula_sweep
    from django_cedula.management.console import MAX_DURATION

    assert cedula_revalidate.MAX_BATCH_SIZE == MAX_BATCH_SIZE
    assert cedula_sweep.MAX_CHUNK_SIZE == MAX_CHUNK_SIZE
    assert MAX_DURATION.days == MAX_DURATION_DAYS
    docs = (ROOT / "docs" / "commands.rst").read_text(encoding="utf-8")
    assert f"users per query and per transaction, 1 to {MAX_BATCH_SIZE}" in docs
    assert f"rows read per query, 1 to {MAX_CHUNK_SIZE}" in docs.replace("\n", " ")
    assert f"at most ``{MAX_DURATION_DAYS}d``" in docs.replace("\n    ", " ")
