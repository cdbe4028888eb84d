"""Browser tests without Chromium: skipped on a developer's machine, failed in CI (``require_chromium``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Browser-marked tests of several suites, each needing Chromium from its first fixture on.
SUITES = ["tests/browser/test_options.py", "tests/e2e", "tests/integration/test_qcluster_browser.py"]


def run_without_chromium(tmp_path: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env.update(
        CEDULA_TEST_CHROMIUM=str(tmp_path / "no-chromium-here"),
        CEDULA_TEST_SQLITE_DIR=str(tmp_path),
        **environment,
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rsE", "-m", "browser", *SUITES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_without_chromium_browser_tests_are_skipped_with_the_reason(tmp_path: Path) -> None:
    done = run_without_chromium(tmp_path)
    assert done.returncode == pytest.ExitCode.OK, done.stdout + done.stderr
    assert " skipped" in done.stdout
    assert " passed" not in done.stdout
    assert " error" not in done.stdout
    assert "install Debian's chromium (apt-get install -y chromium)" in done.stdout


def test_without_chromium_browser_tests_fail_in_ci(tmp_path: Path) -> None:
    done = run_without_chromium(tmp_path, CI="true")
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    assert " skipped" not in done.stdout
    # Every one of them, in each suite, says what to install.
    lines = [line for line in done.stdout.splitlines() if line.startswith("ERROR tests/")]
    assert {line.split("::")[0].removeprefix("ERROR ") for line in lines} == {
        "tests/browser/test_options.py",
        "tests/e2e/test_example_project.py",
        "tests/e2e/test_first_hour.py",
        "tests/e2e/test_startproject.py",
        "tests/integration/test_qcluster_browser.py",
    }
    assert all("install Debian's chromium" in line and "CI is set" in line for line in lines), lines
