"""Print the package's import cycles and the production modules that import test tooling; exit 1 if any.

    python scripts/check_imports.py

The import graph comes from grimp (the library behind import-linter), which reads every import
statement of the package, those inside functions too: a cycle hidden in a function is still a
cycle of dependencies. Imports only under ``if TYPE_CHECKING:`` are left out (they never run).
Modules of a cycle are found as strongly connected components (Tarjan's algorithm).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import grimp

# The package of this checkout, not whichever one the environment has installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PACKAGE = "django_cedula"
#: Test tooling: only modules inside it may import it.
TESTING = f"{PACKAGE}.testing"


def cycles(graph: grimp.ImportGraph, modules: Iterable[str]) -> list[list[str]]:
    """Groups of modules that import each other, directly or through others (sizes 2 and up)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(module: str) -> None:
        nonlocal counter
        # Iterative deepening would be longer; the package is a few hundred modules at most.
        index[module] = low[module] = counter
        counter += 1
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if not imported.startswith(PACKAGE):
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return found


def imports_of_testing(graph: grimp.ImportGraph, modules: Iterable[str]) -> list[tuple[str, str]]:
    """``(importer, imported)`` for every production module importing from ``django_cedula.testing``."""
    bad = []
    for module in sorted(modules):
        if module == TESTING or module.startswith(TESTING + "."):
            continue
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported == TESTING or imported.startswith(TESTING + "."):
                bad.append((module, imported))
    return bad


def main() -> int:
    graph = grimp.build_graph(PACKAGE, exclude_type_checking_imports=True)
    modules = [module for module in graph.modules if module.startswith(PACKAGE)]
    found = cycles(graph, modules)
    bad = imports_of_testing(graph, modules)
    print(f"{len(modules)} modules of {PACKAGE}")
    print(f"import cycles: {len(found)}")
    for component in found:
        print("  " + " <-> ".join(component))
    print(f"production modules importing {TESTING}: {len(bad)}")
    for importer, imported in bad:
        print(f"  {importer} imports {imported}")
    return 1 if found or bad else 0


if __name__ == "__main__":
    sys.exit(main())
