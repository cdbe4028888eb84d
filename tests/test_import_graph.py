"""scripts/check_imports.py: the package has no import cycle and production code never imports test
tooling; and the checker itself finds both when they are there."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import grimp

ROOT = Path(__file__).resolve().parents[1]


def checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_imports", ROOT / "scripts" / "check_imports.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_package_has_no_cycle_and_no_import_of_testing() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/check_imports.py"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "import cycles: 0" in done.stdout
    assert "production modules importing django_cedula.testing: 0" in done.stdout


def test_the_checker_finds_a_cycle_through_three_modules_and_an_import_of_testing() -> None:
    check = checker()
    graph = grimp.ImportGraph()
    for importer, imported in [
        ("django_cedula.a", "django_cedula.b"),
        ("django_cedula.b", "django_cedula.c"),
        ("django_cedula.c", "django_cedula.a"),
        ("django_cedula.d", "django_cedula.a"),
        ("django_cedula.captcha", "django_cedula.testing.replica"),
        ("django_cedula.testing.replica", "django_cedula.d"),
    ]:
        graph.add_import(importer=importer, imported=imported)
    modules = sorted(graph.modules)
    assert check.cycles(graph, modules) == [["django_cedula.a", "django_cedula.b", "django_cedula.c"]]
    assert check.imports_of_testing(graph, modules) == [
        ("django_cedula.captcha", "django_cedula.testing.replica")
    ]
