"""The Spanish catalogue against the code: every string makemessages extracts is in the shipped
``django.po``, translated and not fuzzy, nothing else is, and ``django.mo`` is that ``.po`` compiled.

The extraction runs makemessages (GNU ``xgettext``) on a copy of the package in a temporary
directory, and the compilation ``msgfmt`` into one: the source tree is never written. Without GNU
gettext (``apt-get install gettext``) these tests are skipped, or fail when ``CI`` is set.
"""

from __future__ import annotations

import gettext
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

import django_cedula

PACKAGE = Path(django_cedula.__file__).parent
CATALOGUE = PACKAGE / "locale" / "es" / "LC_MESSAGES"

Key = tuple[str | None, str, str | None]


def require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        reason = f"no {program}: install GNU gettext (apt-get install gettext)"
        if os.environ.get("CI"):
            pytest.fail(
                f"{reason}; CI is set, so the catalogue tests fail instead of skipping", pytrace=False
            )
        pytest.skip(reason)
    return path


def read_po(path: Path) -> list[dict[str, Any]]:
    """The entries of a .po file, the header first: ``msgctxt``, ``msgid``, ``msgid_plural``,
    ``msgstr`` (a list), ``fuzzy`` and ``obsolete``."""
    entries: list[dict[str, Any]] = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        entry: dict[str, Any] = {
            "msgctxt": None,
            "msgid_plural": None,
            "msgstr": [],
            "fuzzy": False,
            "obsolete": False,
        }
        key: str | None = None
        for line in block.splitlines():
            if line.startswith("#~"):
                entry["obsolete"] = True
                continue
            if line.startswith("#,"):
                entry["fuzzy"] = entry["fuzzy"] or "fuzzy" in line
                continue
            if line.startswith("#"):
                continue
            match = re.fullmatch(r'(msgctxt|msgid|msgid_plural|msgstr(?:\[\d\])?) "(.*)"', line)
            text = match.group(2) if match else line.strip()[1:-1]
            if match:
                key = match.group(1)
                if key.startswith("msgstr"):
                    entry["msgstr"].append("")
                else:
                    entry[key] = ""
            text = text.replace('\\"', '"').replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")
            assert key is not None, line
            if key.startswith("msgstr"):
                entry["msgstr"][-1] += text
            else:
                entry[key] += text
        entries.append(entry)
    return entries


def key_of(entry: dict[str, Any]) -> Key:
    return (entry["msgctxt"], entry["msgid"], entry["msgid_plural"])


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> set[Key]:
    """What makemessages extracts from the package today, from a copy of it (no locale of its own)."""
    require("xgettext")
    require("msgmerge")
    copy = tmp_path_factory.mktemp("catalogue") / "django_cedula"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "locale", "*.pyc"))
    (copy / "locale").mkdir()
    before = os.getcwd()
    os.chdir(copy)  # makemessages run inside an app writes to its ./locale
    try:
        call_command("makemessages", locale=["es"], no_obsolete=True, verbosity=0)
    finally:
        os.chdir(before)
    _header, *entries = read_po(copy / "locale" / "es" / "LC_MESSAGES" / "django.po")
    return {key_of(entry) for entry in entries}


def shipped() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    header, *entries = read_po(CATALOGUE / "django.po")
    return header, entries


def test_the_catalogue_has_every_extracted_message_and_no_other(extracted: set[Key]) -> None:
    _header, entries = shipped()
    assert not [entry for entry in entries if entry["obsolete"]], "obsolete entries: run with --no-obsolete"
    keys = {key_of(entry) for entry in entries}
    assert extracted, "makemessages extracted nothing"
    missing = sorted(extracted - keys, key=str)
    assert not missing, f"not in django.po (run makemessages -l es --no-obsolete): {missing}"
    extra = sorted(keys - extracted, key=str)
    assert not extra, f"in django.po but no longer in the code: {extra}"


def test_the_reasons_of_a_refused_number_are_extracted(extracted: set[Key]) -> None:
    # numbers.py once called gettext under an alias that makemessages does not know.
    assert (None, "a cédula number does not start with 0", None) in extracted
    assert (None, "Re-queued %(count)d validation.", "Re-queued %(count)d validations.") in extracted


def test_every_message_is_translated() -> None:
    header, entries = shipped()
    assert not header["fuzzy"]
    plural_forms = re.search(r"nplurals=(\d+)", header["msgstr"][0])
    assert plural_forms is not None
    forms = int(plural_forms.group(1))
    assert entries
    for entry in entries:
        assert not entry["fuzzy"], entry["msgid"]
        assert all(entry["msgstr"]), entry["msgid"]
        assert len(entry["msgstr"]) == (forms if entry["msgid_plural"] else 1), entry["msgid"]


def test_the_compiled_catalogue_is_the_po_compiled(tmp_path: Path) -> None:
    msgfmt = require("msgfmt")
    fresh = tmp_path / "django.mo"
    subprocess.run(
        [msgfmt, "--check-format", "-o", str(fresh), str(CATALOGUE / "django.po")], check=True, timeout=60
    )

    def messages(path: Path) -> dict[Any, str]:
        with path.open("rb") as file:
            return dict(gettext.GNUTranslations(file)._catalog)  # type: ignore[attr-defined]

    # The same messages and translations (the bytes may differ between gettext versions).
    assert messages(CATALOGUE / "django.mo") == messages(fresh)


def test_the_compiled_catalogue_translates_each_entry() -> None:
    with (CATALOGUE / "django.mo").open("rb") as file:
        compiled = gettext.GNUTranslations(file)
    _header, entries = shipped()
    for entry in entries:
        if entry["msgctxt"] is not None:
            continue  # pgettext: covered by the comparison of the two compilations
        if entry["msgid_plural"]:
            assert compiled.ngettext(entry["msgid"], entry["msgid_plural"], 1) == entry["msgstr"][0]
            assert compiled.ngettext(entry["msgid"], entry["msgid_plural"], 5) == entry["msgstr"][2]
        else:
            assert compiled.gettext(entry["msgid"]) == entry["msgstr"][0]
