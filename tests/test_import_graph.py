"""The import contracts of ``[tool.importlinter]`` (pyproject.toml), checked by ``lint-imports`` as the
lint environment runs it: the layers hold, production code never imports test tooling, and no
package or module takes part in an import cycle; and each contract breaks when its rule is broken."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` run in ``cwd`` (the project's root or a copy), which it puts first on the path."""
    command = [
        sys.executable,
        "-c",
        "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())",
    ]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def test_the_package_keeps_every_contract() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 3 kept, 0 broken." in done.stdout


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The package and its contracts, copied where a test may break them."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    shutil.copytree(
        ROOT / "django_cedula", tmp_path / "django_cedula", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # The state machine must not reach up into the job that uses it.
        ("models.py", "from . import job", "Layers:"),
        # Production code must never import the replica or the fakes.
        ("scrapers/base.py", "from ..testing import scrapers", "Test tooling stays out of production code"),
        # A parser reaching back into the scrapers that use it makes a cycle inside scrapers/.
        ("scrapers/parsing/markup.py", "from .. import solving", "No import cycles"),
    ],
)
def test_each_contract_breaks_when_its_rule_does(copy: Path, module: str, line: str, broken: str) -> None:
    path = copy / "django_cedula" / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    done = lint_imports(copy)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{broken}" in done.stdout.split("Broken contracts", 1)[1]
