"""BrowserOptions: from a browser source's options, the Chromium command line, the context options;
which Chromium the runtime launches; and which sources share a runtime."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_cedula.browser import (
    BASE_ARGS,
    BrowserError,
    BrowserOptions,
    BrowserUnavailable,
    find_browser_executable,
    get_browser_runtime,
    parse_proxy,
    reset_browser_runtime,
)
from django_cedula.browser.options import SYSTEM_BROWSER_NAMES, playwright_chromium_path
from django_cedula.conf import build
from django_cedula.exceptions import ConfigurationError
from django_cedula.scrapers.consultacenso import ConsultaCensoScraper
from django_cedula.scrapers.wsp import WspScraper

#: A browser source's options, every one given.
EVERY_OPTION: dict[str, Any] = {
    "browser": {
        "executable": "/opt/chrome",
        "headless": False,
        "args": ["--lang=es-CO"],
        "endpoint": "ws://browser:3000/abc",
        "endpoint_headers": {"Authorization": "Bearer t"},
        "idle_timeout": 42,
    },
    "proxy": "http://user:s%40cret@proxy.example:3128",
    "user_agent": "CedulaBot/1.0",
    "page_timeout": 7,
}
#: What they launch with (CEDULA_LOOKUP_TIMEOUT = 70).
EVERY_OPTION_READ = BrowserOptions(
    executable="/opt/chrome",
    headless=False,
    args=("--lang=es-CO",),
    proxy={"server": "http://proxy.example:3128", "username": "user", "password": "s@cret"},
    user_agent="CedulaBot/1.0",
    endpoint="ws://browser:3000/abc",
    endpoint_headers={"Authorization": "Bearer t"},
    idle_timeout=42.0,
    page_timeout=7.0,
    lookup_timeout=70.0,
)


def test_from_options_reads_every_browser_option(settings: Any) -> None:
    settings.CEDULA_LOOKUP_TIMEOUT = 70
    given = dict(EVERY_OPTION)
    options = BrowserOptions.from_options(given.pop("browser"), **given)
    assert options == EVERY_OPTION_READ


def test_a_browser_source_launches_with_its_options(settings: Any) -> None:
    settings.CEDULA_LOOKUP_TIMEOUT = 70
    scraper = WspScraper(**EVERY_OPTION)
    try:
        assert scraper.browser_options == EVERY_OPTION_READ
    finally:
        scraper.close()


def test_defaults(settings: Any) -> None:
    settings.CEDULA_LOOKUP_TIMEOUT = 70
    options = BrowserOptions.defaults(prewarm=False)
    assert options.executable is None
    assert options.headless is True
    assert options.endpoint is None
    assert options.idle_timeout == 300.0
    assert options.prewarm is False
    assert options.lookup_timeout == 70.0
    assert BrowserOptions.from_options() == BrowserOptions.from_options({}) == BrowserOptions.defaults()
    assert WspScraper().browser_options == BrowserOptions.defaults()


@pytest.mark.parametrize(
    ("browser", "words"),
    [
        ({"exectuable": "/opt/chrome"}, "browser has unknown keys ['exectuable']"),
        ({"headless": "no"}, 'browser["headless"] must be True or False'),
        ({"args": "--no-sandbox"}, 'browser["args"] must be a list of command-line flags'),
        ({"args": ["--a", 1]}, 'browser["args"] must be a list of command-line flags'),
        ({"executable": ""}, 'browser["executable"] must be a path to Chromium'),
        ({"endpoint": "localhost:9222"}, 'browser["endpoint"] must be a ws:// or http:// endpoint URL'),
        ({"endpoint_headers": {"Authorization": 1}}, 'browser["endpoint_headers"] must be a dict'),
        ({"idle_timeout": -1}, 'browser["idle_timeout"] must be seconds'),
        ({"idle_timeout": True}, 'browser["idle_timeout"] must be seconds'),
        (["headless"], "browser must be a dict"),
    ],
)
def test_a_wrong_browser_option_is_refused_by_its_key(browser: Any, words: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        WspScraper(browser=browser)
    assert str(refused.value).startswith(words)
    assert refused.value.hint
    # As a worker and manage.py check build the source: the entry named, then the key.
    with pytest.raises(ConfigurationError, match=re.escape(f"CEDULA_SOURCES[0]: {words}")):
        build(ConsultaCensoScraper, {"browser": browser}, "CEDULA_SOURCES[0]")


def test_no_secret_of_a_refused_browser_option_is_quoted() -> None:
    with pytest.raises(ConfigurationError) as refused:
        WspScraper(browser={"endpoint_headers": {"Authorization": "Bearer hunter2", "X": 1}})
    assert "hunter2" not in f"{refused.value} {refused.value.hint}"
    with pytest.raises(ConfigurationError) as refused:
        WspScraper(browser={"endpoint": "ftp://agent:hunter2@browser:21"})
    assert "hunter2" not in f"{refused.value} {refused.value.hint}"


@pytest.fixture
def no_shared_runtimes() -> Iterator[None]:
    reset_browser_runtime()
    yield
    reset_browser_runtime()


@pytest.mark.usefixtures("no_shared_runtimes")
def test_sources_with_equal_browser_options_share_one_runtime() -> None:
    wsp = WspScraper(browser={"args": ["--lang=es-CO"]}, page_timeout=4)
    censo = ConsultaCensoScraper(browser={"args": ("--lang=es-CO",)}, page_timeout=4.0)
    assert wsp.browser_options == censo.browser_options
    assert wsp.runtime is censo.runtime
    assert wsp.runtime is get_browser_runtime(censo.browser_options)
    assert wsp.runtime.options_given == wsp.browser_options
    # None of this starts a browser: the runtime launches on its first call.
    assert not wsp.runtime.is_browser_running()


@pytest.mark.usefixtures("no_shared_runtimes")
@pytest.mark.parametrize(
    "other",
    [
        {"browser": {"headless": False}},
        {"browser": {"args": ["--lang=en-US"]}},
        {"browser": {"idle_timeout": 60}},
        {"page_timeout": 5},
        {"proxy": "http://proxy.example:3128"},
        {"user_agent": "CedulaBot/2.0"},
    ],
)
def test_sources_with_different_browser_options_get_a_runtime_each(other: dict[str, Any]) -> None:
    first = WspScraper(page_timeout=4, browser={"args": ["--lang=es-CO"]})
    second = WspScraper(**{"page_timeout": 4, "browser": {"args": ["--lang=es-CO"]}, **other})
    assert first.browser_options != second.browser_options
    assert first.runtime is not second.runtime
    assert {id(first.runtime), id(second.runtime)} == {
        id(get_browser_runtime(first.browser_options)),
        id(get_browser_runtime(second.browser_options)),
    }
    assert get_browser_runtime() is get_browser_runtime(BrowserOptions.defaults())
    assert get_browser_runtime() not in (first.runtime, second.runtime)


@pytest.mark.usefixtures("no_shared_runtimes")
def test_reset_browser_runtime_forgets_every_shared_runtime() -> None:
    one = get_browser_runtime(BrowserOptions.defaults(headless=False))
    two = get_browser_runtime()
    reset_browser_runtime()
    assert get_browser_runtime(BrowserOptions.defaults(headless=False)) is not one
    assert get_browser_runtime() is not two


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("proxy.example:8080", {"server": "http://proxy.example:8080"}),
        ("socks5://10.0.0.1:1080", {"server": "socks5://10.0.0.1:1080"}),
        ("http://[::1]:3128", {"server": "http://[::1]:3128"}),
        (
            {"server": "http://p:1", "bypass": ".gov.co", "username": "u", "password": "p"},
            {"server": "http://p:1", "bypass": ".gov.co", "username": "u", "password": "p"},
        ),
    ],
)
def test_parse_proxy(value: Any, expected: Any) -> None:
    assert parse_proxy(value) == expected


@pytest.mark.parametrize("value", [{"bypass": "x"}, {"server": "http://p:1", "port": 1}, "http://"])
def test_parse_proxy_rejects_nonsense(value: Any) -> None:
    with pytest.raises(BrowserError):
        parse_proxy(value)


def test_launch_args_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    options = BrowserOptions(args=("--disable-gpu", "--window-size=800,600"))
    args = options.launch_args()
    assert args[: len(BASE_ARGS)] == list(BASE_ARGS)
    assert "--no-sandbox" in args
    assert args[-1] == "--window-size=800,600"
    assert args.count("--disable-gpu") == 1
    assert options.sandbox is False


def test_launch_args_as_a_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "--no-sandbox" not in BrowserOptions().launch_args()
    assert BrowserOptions().sandbox is True
    assert BrowserOptions(args=("--no-sandbox",)).sandbox is False
    for flag in ("--disable-background-networking", "--disable-component-update", "--disable-quic"):
        assert flag in BrowserOptions().launch_args()


def test_context_options() -> None:
    assert BrowserOptions().context_options() == {"locale": "es-CO", "timezone_id": "America/Bogota"}
    proxy = parse_proxy("http://p:1")
    assert BrowserOptions(user_agent="UA", proxy=proxy, timezone_id=None).context_options() == {
        "locale": "es-CO",
        "user_agent": "UA",
        "proxy": {"server": "http://p:1"},
    }


def test_the_repr_shows_no_credentials_tokens_or_header_values() -> None:
    options = BrowserOptions(
        proxy=parse_proxy("http://proxyman:hunter2@proxy.example:3128"),
        endpoint="wss://browser.example:3000/playwright?token=SECRET-TOKEN",
        endpoint_headers={"Authorization": "Bearer SECRET-HEADER"},
        args=("--proxy-server=http://proxyman:hunter2@other:1",),
    )
    shown = repr(options)
    for secret in ("hunter2", "proxyman", "SECRET-TOKEN", "SECRET-HEADER"):
        assert secret not in shown
    # What a reader needs stays: where the proxy and the endpoint are, which headers are sent.
    assert "'server': 'http://proxy.example:3128'" in shown
    assert "'username': '***'" in shown
    assert "endpoint='wss://browser.example:3000/playwright?***'" in shown
    assert "endpoint_headers={'Authorization': '***'}" in shown
    assert "--proxy-server=http://***@other:1" in shown
    assert str(options) == shown
    assert repr(BrowserOptions()).startswith(
        "BrowserOptions(executable=None, headless=True, args=(), proxy=None"
    )


@pytest.mark.parametrize("value", ["http://proxyman:hunter2@", "http://proxyman:hunter2@proxy:notaport"])
def test_a_bad_proxy_url_is_refused_without_quoting_its_password(value: str) -> None:
    with pytest.raises(BrowserError, match="not a proxy URL") as excinfo:
        parse_proxy(value)
    assert "hunter2" not in str(excinfo.value)
    assert excinfo.value.__cause__ is None


# -- which Chromium -------------------------------------------------------------------------------------


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
    monkeypatch.setattr("django_cedula.browser.options.SYSTEM_BROWSER_PATHS", ())
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
    with pytest.raises(BrowserUnavailable, match=r'browser\["executable"\] = .*does not exist'):
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
    monkeypatch.setattr(
        "django_cedula.browser.options.SYSTEM_BROWSER_PATHS", (str(tmp_path / "absent"), str(debian))
    )
    assert find_browser_executable(None, bundled=no_bundled) == str(debian)


def test_nothing_found_says_how_to_install(empty_system: Path) -> None:
    with pytest.raises(BrowserUnavailable) as info:
        find_browser_executable(None, bundled=no_bundled)
    assert "apt-get install chromium" in str(info.value)
    assert 'browser["executable"]' in str(info.value)


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
    bundled = playwright_chromium_path()
    assert bundled is not None
    if not os.path.exists(bundled):
        assert find_browser_executable(None) in (
            "/usr/bin/chromium",
            *(p for p in (shutil.which(n) for n in SYSTEM_BROWSER_NAMES) if p),
        )
