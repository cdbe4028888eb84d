"""Turn what the Registraduría answers into a :class:`~django_cedula.results.ScrapeResult`.

This package is the browser-free half of the scrapers: it never touches the network, a
browser or Django, and uses the standard library and lxml's HTML parser only (plus
:mod:`django_cedula.results` and the maskers of :mod:`django_cedula.privacy`), so every answer
shape can be tested with plain strings. Import its public names from here,
``django_cedula.scrapers.parsing``; the modules below are its inner layout.

Source A ("wsp" page)
    :func:`parse_wsp_response` reads the body of the page's AJAX answer (normally JSON
    whose ``data.message`` is an HTML fragment). When the site asks for a page reload
    (stale form token) it raises :class:`ReloadRequested` instead of returning: the
    scraper must load the page again and retry once, and can report
    :attr:`ReloadRequested.result` when it gives up. :func:`wsp_asks_for_reload` says the same
    from the JSON alone, without reading the HTML. :func:`parse_wsp_message` reads the
    HTML fragment alone (for instance the rendered ``#success`` container).

Source B ("consultacenso" app)
    :func:`parse_consultacenso_response` reads the JSON of ``POST /back/api/consulta``.

The election-season API (infovotantes)
    :func:`parse_elecciones_response` reads the JSON of ``POST /api/v1/citizen/get-information``.

Classification principles:

* Answer tables are read by header text or ``data-th``, never by column position.
* A table beats free text: the notices that follow a found answer may use words that
  would otherwise look like a novedad or a "not in census" sentence.
* F5 block pages are recognised by their structure (class/id attributes, a support ID
  number), never by words such as "blocked" in ordinary text.
* ``error`` texts are short, in English, and never carry a full cédula: digit runs that
  could be one are masked. ``raw_html`` holds the body as received (up to
  :data:`MAX_ANSWER_BYTES`); bounding what gets stored is the caller's business.
* Total: the public parse functions return a :class:`ScrapeResult` for any input (deep
  nesting, huge or binary bodies, NUL bytes, wrong types anywhere in the JSON, absurd
  markup); whatever cannot be read is ``parse_error`` with a short masked excerpt.
* Bounded: reading an answer takes time linear in its length and keeps memory in proportion to
  it, whatever its markup (unclosed comments, repeated attributes, deep nesting, entity floods). The one
  exception is deliberate: :func:`parse_wsp_response` raises :class:`ReloadRequested`.

Markup helpers plus one reader per source; each module imports only the public names of those
listed after it:

``wsp``
    Source A's reader, and :class:`ReloadRequested`.
``consultacenso``
    Source B's reader.
``elecciones``
    The election-season API's reader.
``markup``
    What any reader uses: the limits and the results for what cannot be read, the HTML reader on
    libxml2's parser, linear in the markup's length (visible text, tables, class/id tokens), block
    pages and HTTP refusals, and the lookup pages as an HTTP client gets them
    (:func:`read_form_page`).
``vocabulary``
    The sites' words (folding, table headers, novedades, "not in the census") and what a table
    row, JSON record or sentence means as a result, shared by both readers.
"""

from __future__ import annotations

from ...results import is_death_novedad
from .consultacenso import parse_consultacenso_response
from .elecciones import parse_elecciones_response
from .markup import (
    ERROR_EXCERPT_CHARS,
    MAX_ANSWER_BYTES,
    FormPage,
    html_to_text,
    is_block_page,
    oversized_answer,
    read_form_page,
)
from .wsp import ReloadRequested, parse_wsp_message, parse_wsp_response, wsp_asks_for_reload

__all__ = [
    "ERROR_EXCERPT_CHARS",
    "MAX_ANSWER_BYTES",
    "FormPage",
    "ReloadRequested",
    "html_to_text",
    "is_block_page",
    "is_death_novedad",
    "oversized_answer",
    "parse_consultacenso_response",
    "parse_elecciones_response",
    "parse_wsp_message",
    "parse_wsp_response",
    "read_form_page",
    "wsp_asks_for_reload",
]
