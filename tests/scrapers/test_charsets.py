"""An answer's bytes read in the charset it declares: its ``Content-Type``'s, else its
``<meta charset>`` or ``http-equiv``'s, else UTF-8 (a byte-order mark above all), as a browser reads
them; a label that names no web encoding is UTF-8."""

from __future__ import annotations

import pytest

from django_cedula.scrapers.solving import decode_answer

MEDELLIN_LATIN1 = "MEDELLÍN".encode("iso-8859-1")


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=ISO-8859-1",
        "application/json;charset=iso-8859-1",
        'text/html; charset="latin1"',
        "text/html; Charset=windows-1252; foo=bar",
    ],
)
def test_the_content_types_charset(content_type: str) -> None:
    assert decode_answer(MEDELLIN_LATIN1, content_type) == "MEDELLÍN"


def test_utf_8_without_a_declaration() -> None:
    assert decode_answer("MEDELLÍN".encode(), "application/json") == "MEDELLÍN"
    assert decode_answer("MEDELLÍN".encode(), None) == "MEDELLÍN"
    assert decode_answer(MEDELLIN_LATIN1, "") == "MEDELL\ufffdN"  # undeclared Latin-1: as a browser shows it


@pytest.mark.parametrize(
    "meta",
    [
        b'<meta charset="iso-8859-1">',
        b"<META CHARSET=ISO-8859-1>",
        b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">',
    ],
)
def test_the_documents_meta_charset(meta: bytes) -> None:
    body = b"<html><head>" + meta + b"</head><body>" + MEDELLIN_LATIN1 + b"</body></html>"
    assert "MEDELLÍN" in decode_answer(body, "text/html")


def test_the_header_wins_over_the_meta() -> None:
    body = b'<meta charset="iso-8859-1">' + "MEDELLÍN".encode()
    assert decode_answer(body, "text/html; charset=utf-8").endswith("MEDELLÍN")


def test_a_meta_past_the_first_1024_bytes_is_not_read() -> None:
    body = b" " * 1024 + b'<meta charset="iso-8859-1">' + MEDELLIN_LATIN1
    assert decode_answer(body, "text/html").endswith("MEDELL\ufffdN")


def test_a_byte_order_mark_wins() -> None:
    assert decode_answer(b"\xef\xbb\xbf" + "MEDELLÍN".encode(), "text/html; charset=iso-8859-1") == "MEDELLÍN"
    assert decode_answer(b"\xff\xfe" + "MEDELLÍN".encode("utf-16-le"), "") == "MEDELLÍN"


def test_iso_8859_1_is_windows_1252_as_browsers_read_it() -> None:
    # The bytes 0x80-0x9F: Windows-1252's characters (the euro sign), a C1 control where it has none.
    assert decode_answer(b"\x80 \x81", "text/plain; charset=iso-8859-1") == "\u20ac \x81"


@pytest.mark.parametrize(
    "label", ["unicode_escape", "raw_unicode_escape", "base64", "rot13", "undefined", "idna", "nonsense", ""]
)
def test_a_label_that_is_no_web_encoding_is_utf_8(label: str) -> None:
    # Python knows some of these as codecs that would turn "\\ud800" into a lone surrogate, or raise.
    body = "\\ud800 MEDELLÍN".encode()
    assert decode_answer(body, f"text/html; charset={label}") == "\\ud800 MEDELLÍN"
    assert decode_answer(b'<meta charset="' + label.encode() + b'">' + body, "").endswith("\\ud800 MEDELLÍN")


def test_utf_16_in_a_meta_is_utf_8() -> None:
    # A document that could be read to find its meta is not UTF-16 (HTML's rule).
    assert decode_answer(b'<meta charset="utf-16">' + "Í".encode(), "").endswith("Í")
