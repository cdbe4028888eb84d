"""The parser's helpers, and its promise to stay free of Django and of third-party code but lxml."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from django_cedula.scrapers import parsing
from django_cedula.scrapers.parsing import html_to_text, is_block_page, is_death_novedad

from . import samples


@pytest.mark.parametrize(
    "novedad",
    [
        "Cancelada por Muerte",
        "CANCELADA POR MUERTE",
        "cancelada  por muerte",
        "Cédula cancelada por fallecimiento",
        "FALLECIDO",
        "Cancelada por Defunción",
        "CANCELADA POR DEFUNCION",
    ],
)
def test_death_novedades(novedad: str) -> None:
    assert is_death_novedad(novedad)


@pytest.mark.parametrize(
    "novedad",
    ["", "Cancelada por Doble Cedulación", "Baja por trashumancia", "Cancelada por Suplantación", "Vigente"],
)
def test_other_novedades(novedad: str) -> None:
    assert not is_death_novedad(novedad)


def test_html_to_text_keeps_blocks_apart_and_inline_markup_together() -> None:
    html = (
        "<div>Mesa <b>1</b><b>2</b></div><script>var blocked = true;</script>"
        "<p>CALLE&nbsp;80   No.\n 69 - 45 &amp; #2</p>"
    )
    assert html_to_text(html) == "Mesa 12\nCALLE 80 No. 69 - 45 & #2"


@pytest.mark.parametrize("page", [samples.F5_BLOCK_PAGE, samples.F5_PLAIN_BLOCK_PAGE])
def test_block_pages_are_recognised(page: str) -> None:
    assert is_block_page(page)


@pytest.mark.parametrize(
    "page",
    [
        samples.CHATTY_PAGE,
        samples.CHATTY_NOT_FOUND_MESSAGE,
        samples.FORM_PAGE,
        samples.FOUND_MESSAGE,
        # The words only appear in a stylesheet and a script, never as structure.
        "<style>.blocked{}</style><script>document.body.className='authenticate'</script><p>Hola</p>",
        '<p data-state="blocked">Hola</p>',
        "",
    ],
)
def test_ordinary_pages_are_not_block_pages(page: str) -> None:
    assert not is_block_page(page)


def test_parser_imports_only_the_standard_library_lxml_the_result_type_and_the_masker() -> None:
    # Not html.parser: it is quadratic on unclosed comments (tests/hostile/test_markup.py).
    allowed = {"__future__", "collections.abc", "contextlib", "dataclasses", "functools", "json", "re"}
    allowed |= {"typing", "unicodedata", "lxml"}
    # The parser is a package: its modules may also import one another (level 1).
    package = Path(parsing.__file__).parent
    modules = sorted(package.glob("*.py"))
    siblings = {module.stem for module in modules} - {"__init__"}
    assert siblings  # the walk below must read something
    for module in modules:
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                assert {alias.name for alias in node.names} <= allowed, module.name
            elif isinstance(node, ast.ImportFrom):
                if node.level == 1:
                    assert node.module in siblings, module.name
                elif node.level:
                    assert (node.level, node.module) in {(3, "results"), (3, "privacy")}, module.name
                else:
                    assert node.module in allowed, module.name
    # The masker the parser borrows is plain Python too: the standard library only.
    privacy = package.parents[1] / "privacy.py"
    for node in ast.walk(ast.parse(privacy.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            assert all(alias.name.split(".")[0] in sys.stdlib_module_names for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert not node.level
            assert (node.module or "").split(".")[0] in sys.stdlib_module_names


def test_the_parser_borrows_the_masker_and_keeps_no_copy_of_it() -> None:
    # The maskers live once, in django_cedula.privacy: a second copy would drift from it.
    for module in sorted(Path(parsing.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert "mask" not in node.name.lower(), f"{module.name} defines {node.name}"


def test_the_parser_modules_import_only_one_anothers_public_names() -> None:
    # Markup helpers plus one reader per source: a module leaning on another's private names would
    # make the split no boundary at all.
    for module in sorted(Path(parsing.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                private = [alias.name for alias in node.names if alias.name.startswith("_")]
                assert not private, f"{module.name} imports {private} from {node.module}"
