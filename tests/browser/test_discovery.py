"""Which Chromium the runtime launches."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from django_cedula.browser import BrowserUnavailable, discovery, find_browser_executable


def make_executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def empty_system(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No browser on PATH or at the usual paths; returns the (empty) PATH directory."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(discovery, "SYSTEM_BROWSER_PATHS", ())
    return bin_dir


def no_bundled() -> str | None:
    return None


def test_an_explicit_path_wins(tmp_path: Path, empty_system: Path) -> None:
    chrome = make_executable(tmp_path / "opt" / "my-chrome")
    make_executable(empty_system / "chromium")
    assert find_browser_executable(str(chrome), bundled=no_bundled) == str(chrome)


def test_an_explicit_bare_name_is_looked_up_on_path(empty_system: Path) -> None:
    chrome = make_executable(empty_system / "my-chrome")
    assert find_browser_executable("my-chrome", bundled=no_bundled) == str(chrome)


def test_a_missing_explicit_path_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    with pytest.raises(BrowserUnavailable, match=r"CEDULA_BROWSER_EXECUTABLE = .*does not exist"):
        find_browser_executable(str(tmp_path / "nowhere" / "chrome"), bundled=no_bundled)


def test_an_explicit_path_must_be_executable(tmp_path: Path) -> None:
    plain = tmp_path / "chrome"
    plain.write_text("not a program")
    with pytest.raises(BrowserUnavailable, match="not an executable file"):
        find_browser_executable(str(plain), bundled=no_bundled)


def test_path_lookup_in_order(empty_system: Path) -> None:
    make_executable(empty_system / "google-chrome")
    assert find_browser_executable(None, bundled=no_bundled) == str(empty_system / "google-chrome")
    make_executable(empty_system / "chromium-browser")
    assert find_browser_executable(None, bundled=no_bundled) == str(empty_system / "chromium-browser")
    make_executable(empty_system / "chromium")
    assert find_browser_executable(None, bundled=no_bundled) == str(empty_system / "chromium")


def test_the_usual_paths_when_path_has_none(
    empty_system: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    debian = make_executable(tmp_path / "usr" / "bin" / "chromium")
    monkeypatch.setattr(discovery, "SYSTEM_BROWSER_PATHS", (str(tmp_path / "absent"), str(debian)))
    assert find_browser_executable(None, bundled=no_bundled) == str(debian)


def test_nothing_found_says_how_to_install(empty_system: Path) -> None:
    with pytest.raises(BrowserUnavailable) as info:
        find_browser_executable(None, bundled=no_bundled)
    assert "apt-get install chromium" in str(info.value)
    assert "CEDULA_BROWSER_EXECUTABLE" in str(info.value)


def fake_playwright_install(root: Path, *, full: bool, shell: bool) -> str:
    """A Playwright browser cache like ``~/.cache/ms-playwright``; returns the full Chromium's path."""
    chrome = root / "chromium-1255" / "chrome-linux64" / "chrome"
    if full:
        make_executable(chrome)
    if shell:
        make_executable(
            root / "chromium_headless_shell-1255" / "chrome-headless-shell-linux64" / "chrome-headless-shell"
        )
    return str(chrome)


def test_playwrights_own_chromium_comes_before_the_system_one(empty_system: Path, tmp_path: Path) -> None:
    make_executable(empty_system / "chromium")
    chrome = fake_playwright_install(tmp_path / "ms-playwright", full=True, shell=True)
    # None: launch without executable_path, so Playwright picks its headless shell itself.
    assert find_browser_executable(None, bundled=lambda: chrome) is None
    assert find_browser_executable(None, headless=False, bundled=lambda: chrome) is None


def test_playwrights_full_chromium_is_named_when_its_headless_shell_is_missing(
    empty_system: Path, tmp_path: Path
) -> None:
    chrome = fake_playwright_install(tmp_path / "ms-playwright", full=True, shell=False)
    assert find_browser_executable(None, bundled=lambda: chrome) == chrome


def test_playwrights_headless_shell_alone_serves_headless_runs_only(
    empty_system: Path, tmp_path: Path
) -> None:
    chrome = fake_playwright_install(tmp_path / "ms-playwright", full=False, shell=True)
    assert find_browser_executable(None, bundled=lambda: chrome) is None
    with pytest.raises(BrowserUnavailable):
        find_browser_executable(None, headless=False, bundled=lambda: chrome)


def test_a_playwright_chromium_that_is_not_installed_is_skipped(empty_system: Path, tmp_path: Path) -> None:
    system = make_executable(empty_system / "chromium")
    chrome = fake_playwright_install(tmp_path / "ms-playwright", full=False, shell=False)
    assert find_browser_executable(None, bundled=lambda: chrome) == str(system)


@pytest.mark.browser
@pytest.mark.skipif(not os.access("/usr/bin/chromium", os.X_OK), reason="Debian's chromium is not installed")
def test_this_machine_finds_debians_chromium() -> None:
    """Asks the real Playwright driver where its own Chromium would be (not installed here)."""
    bundled = discovery.playwright_chromium_path()
    assert bundled is not None
    if not os.path.exists(bundled):
        assert find_browser_executable(None) in (
            "/usr/bin/chromium",
            *(p for p in (shutil.which(n) for n in discovery.SYSTEM_BROWSER_NAMES) if p),
        )
