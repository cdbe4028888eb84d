"""The one cleaner of error texts: URL secrets out, cédulas masked (django_cedula.privacy)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from django_cedula import privacy
from django_cedula.privacy import mask_numbers, redact, redact_urls


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ws://browser:3000/?token=SECRET", "ws://browser:3000/?***"),
        ("wss://browser:3000/playwright?token=SECRET&x=1", "wss://browser:3000/playwright?***"),
        ("http://user:s%40cret@proxy.example:3128", "http://***@proxy.example:3128"),
        ("socks5://user@10.0.0.1:1080/", "socks5://***@10.0.0.1:1080/"),
        ("https://site.example/page#access_token=abc", "https://site.example/page#***"),
        ("HTTPS://u:p@h/a?b=c#d", "HTTPS://***@h/a?***#***"),
        # Quoted in a repr or a message: the quote ends the URL, the text after it stays.
        ("not 'ws://h:1/?token=SECRET' (bad)", "not 'ws://h:1/?***' (bad)"),
        ('connect "http://u:p@h:1" refused', 'connect "http://***@h:1" refused'),
        # A source's "proxy" option may be given without a scheme.
        ("proxy user:secret@proxy.example:3128 failed", "proxy ***@proxy.example:3128 failed"),
        # Nothing secret: unchanged.
        ("net::ERR_CONNECTION_REFUSED at http://127.0.0.1:8000/censo/", None),
        ("write to ana@example.com", None),
        ("ftp://browser:21", None),
        ("a ratio 3:2 and a time 12:30", None),
    ],
)
def test_redact_urls(text: str, expected: str | None) -> None:
    assert redact_urls(text) == (text if expected is None else expected)


def test_several_urls_in_one_text() -> None:
    text = (
        "BrowserType.connect: connect ECONNREFUSED\nCall log:\n"
        "  - <ws connecting> ws://127.0.0.1:9/?token=SECRET\n"
        "  - proxy http://user:hunter2@proxy:3128 refused"
    )
    cleaned = redact_urls(text)
    assert "SECRET" not in cleaned
    assert "hunter2" not in cleaned
    assert "ws://127.0.0.1:9/?***" in cleaned
    assert "http://***@proxy:3128" in cleaned


@pytest.mark.parametrize(
    "written",
    ["1020304050", "1.020.304.050", "1,020,304,050", "1 020 304 050", "1020-304-050", "1.020.304-050"],
)
def test_cedulas_are_masked_however_they_are_written(written: str) -> None:
    cleaned = redact(f"no answer for {written}.")
    assert cleaned == "no answer for ******4050."


@pytest.mark.parametrize("written", ["79 123-456", "1020 - 304 050", "79123 456", "12 34"])
def test_the_looked_up_number_is_masked_in_any_written_form(written: str) -> None:
    digits = "".join(char for char in written if char.isdigit())
    cleaned = redact(f"lookup of {written} failed", cedula=digits)
    assert written not in cleaned
    assert cleaned == f"lookup of {privacy.mask_cedula(digits)} failed"


@pytest.mark.parametrize(
    "text",
    [
        "15008 milliseconds",
        "on 2024-01-15 at 12 34",  # a date and small numbers a space or a dash apart stay apart
        "connect ECONNREFUSED 127.0.0.1:9222",  # an IPv4 address is not a cédula
        "proxy 192.168.100.200:3128",
        "attempt 3 of 4, 1 020 items",
    ],
)
def test_ordinary_figures_stay_readable(text: str) -> None:
    assert redact(text) == text


def test_a_dotted_cedula_is_masked_even_where_it_could_be_an_address() -> None:
    # One digit and three groups of three is how a cédula is printed, whatever else it could be.
    assert redact("1.200.204.250") == "******4250"


def test_redact_does_both_and_takes_any_object() -> None:
    exc = RuntimeError("GET http://user:pw@api.example/c/1020304050?cedula=1020304050 failed")
    assert redact(exc) == "GET http://***@api.example/c/******4050?*** failed"
    assert redact(None) == ""
    assert mask_numbers("ids 1234567 and 12") == "ids ****567 and 12"


@pytest.mark.parametrize(
    "filler",
    [
        "a" * 1_000_000,
        "a:" * 500_000,
        "http://" * 150_000,
        "1 " * 500_000,
        " " * 1_000_000,
        "1 -" * 330_000,
        ":@" * 500_000,
    ],
)
def test_a_megabyte_of_awkward_text_is_cleaned_whole(filler: str) -> None:
    # No timing here: the patterns are built without nested quantifiers (see privacy.py). This shows
    # that such a text is read to its end: the secret and the number after the filler are caught.
    cleaned = redact(filler + " ws://h/?token=SECRET 1020304050", cedula="1020304050")
    assert cleaned.endswith(" ws://h/?*** ******4050")
    assert "SECRET" not in cleaned


def test_the_module_imports_no_django() -> None:
    # The browser layer and the parsers use it outside Django's settings.
    tree = ast.parse(Path(privacy.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "django" not in imported
