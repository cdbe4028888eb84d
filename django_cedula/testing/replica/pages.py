"""The markup and JSON the replica answers with: one import for all the page modules.

Each source's pages live apart, as pure functions (no state, no I/O):

* :mod:`.wsp_pages`: Source A, the "wsp" page (the form, ``data.message`` tables, PHP-style JSON);
* :mod:`.censo_pages`: Source B, the "consultacenso" app (the page, the API's JSON answers);
* :mod:`.oversized`: the huge, gzip-bomb and deep-JSON answers of both;
* :mod:`.site_pages`: the block page, the 500 and 404 pages, the replica's home page.

This module re-exports their names, so ``from django_cedula.testing.replica.pages import ...``
keeps working.
"""

from __future__ import annotations

from .censo_pages import (
    CENSO_BAD_REQUEST_TEXT,
    CENSO_CAPTCHA_TEXT,
    CENSO_GARBAGE,
    CENSO_INVALID_TEXT,
    CENSO_RELOAD_TEXT,
    censo_curl_error,
    censo_elections,
    censo_error,
    censo_found,
    censo_json,
    censo_message,
    censo_not_found,
    censo_novedad,
    censo_page,
    censo_updating,
)
from .markup import JsonObject
from .outcomes import CURL_ERROR_TEXT, NOT_FOUND_TEXT, UPDATING_TEXT
from .oversized import (
    censo_deep_json,
    censo_huge_answer,
    gzip_bomb,
    nested_json,
    wsp_deep_json,
    wsp_huge_answer,
)
from .site_pages import block_page, error_500_page, index_page, not_found_page
from .wsp_pages import (
    CAPTCHA_TEXT,
    FOUND_NOTICE,
    INVALID_NUIP_TEXT,
    WSP_RELOAD,
    wsp_answer,
    wsp_form_page,
    wsp_found_message,
    wsp_garbage_message,
    wsp_json,
    wsp_not_found_message,
    wsp_novedad_message,
)

__all__ = [
    "CAPTCHA_TEXT",
    "CENSO_BAD_REQUEST_TEXT",
    "CENSO_CAPTCHA_TEXT",
    "CENSO_GARBAGE",
    "CENSO_INVALID_TEXT",
    "CENSO_RELOAD_TEXT",
    "CURL_ERROR_TEXT",
    "FOUND_NOTICE",
    "INVALID_NUIP_TEXT",
    "NOT_FOUND_TEXT",
    "UPDATING_TEXT",
    "WSP_RELOAD",
    "JsonObject",
    "block_page",
    "censo_curl_error",
    "censo_deep_json",
    "censo_elections",
    "censo_error",
    "censo_found",
    "censo_huge_answer",
    "censo_json",
    "censo_message",
    "censo_not_found",
    "censo_novedad",
    "censo_page",
    "censo_updating",
    "error_500_page",
    "gzip_bomb",
    "index_page",
    "nested_json",
    "not_found_page",
    "wsp_answer",
    "wsp_deep_json",
    "wsp_form_page",
    "wsp_found_message",
    "wsp_garbage_message",
    "wsp_huge_answer",
    "wsp_json",
    "wsp_not_found_message",
    "wsp_novedad_message",
]
