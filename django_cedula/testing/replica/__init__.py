"""A local replica of the Registraduría's census lookup, for tests, demos and benchmarks.

Nothing here reaches the internet. The replica serves both public sources under one local
address, with a stand-in for Google's reCAPTCHA script, answers every cédula number from a
documented outcome table (:mod:`.outcomes`) and can be switched into the failures the real site
shows (:class:`FaultMode`). Stdlib and this package only::

    from django_cedula.testing.replica import Replica

    with Replica() as replica:
        replica.set_fault("get500", times=1)      # the next page GET answers 500, then all is well
        ...  # point a scraper at replica.wsp_url (replica.django_settings() gives the settings)

Captchas are checked as Google checks them: the tokens of the solver stand-in
(:class:`~django_cedula.testing.captcha.ReplicaCaptchaSolver`, or ``replica.issue_token()``) are
accepted once each, within ``replica.token_max_age`` seconds (120), for the replica's site key;
``replica.captcha_counts()`` counts the verdicts.

From a shell: ``python -m django_cedula.testing.replica --port 8765``.

What lives where (one job each; every name above is importable from this package):

* :mod:`.control`: :class:`Replica`, the control object: knobs and their defaults, start/stop,
  addresses and settings, and the front of the state below (faults, log, sessions, captcha
  verdicts), under one lock.
* :mod:`.faults`: :class:`FaultMode`, :class:`Fault` and the switch that hands faults out.
* :mod:`.records`: :class:`Answer`, :class:`RequestRecord` and the request log ``wait_for`` watches.
* :mod:`.sessions`: each source's sessions (``PHPSESSID``; Source A's single-use form token).
* :mod:`.tokens`: the reCAPTCHA stand-in's tokens, issued and checked as Google checks them.
* :mod:`.outcomes`: the outcome table (:data:`OUTCOMES`, :func:`outcome_for`), its types and the
  places of numbers outside it; :mod:`.outcome_text` renders it for the docs.
* :mod:`.http_server`: the threaded server, the handler's plumbing, the paths and the sources'
  names; :mod:`.routes` maps paths to the endpoints of :mod:`.wsp_endpoints` (Source A),
  :mod:`.censo_endpoints` (Source B) and its own (home page, reCAPTCHA stand-in), which share
  :mod:`.shared_steps`; :mod:`.vigencia_endpoints`, the deaths registry's vigencia service (the
  pre-check's, ``replica.vigencia_url``), also over HTTPS with a CA of its own (:mod:`.tls`,
  ``Replica(tls=True)``: ``replica.vigencia_url_tls``, ``replica.tls_ca_file``).
* The markup and JSON they answer with, as pure functions: :mod:`.wsp_pages`, :mod:`.censo_pages`,
  :mod:`.oversized`, :mod:`.site_pages`, and :mod:`.changed_pages` (the site after a change: the
  ``form_shape`` and ``new_markup`` faults).
* :mod:`.remote`: switching the faults of a replica in another process, through its loopback-only
  control endpoint (``/__replica__/``, :class:`~.routes.ControlEndpoints`).
* ``__main__``: the command line.

Nothing outside ``django_cedula.testing`` imports this package: production code does not depend on
its test tooling.
"""

from __future__ import annotations

from .control import DEFAULT_SITE_KEY, DEFAULT_SLOW_SECONDS, DEFAULT_VALID_TOKEN, Replica
from .faults import Fault, FaultMode
from .outcomes import (
    OUTCOMES,
    Novedad,
    Outcome,
    OutcomeKind,
    Place,
    derived_place,
    outcome_for,
    outcome_table_markdown,
)
from .records import Answer, RequestRecord

__all__ = [
    "DEFAULT_SITE_KEY",
    "DEFAULT_SLOW_SECONDS",
    "DEFAULT_VALID_TOKEN",
    "OUTCOMES",
    "Answer",
    "Fault",
    "FaultMode",
    "Novedad",
    "Outcome",
    "OutcomeKind",
    "Place",
    "Replica",
    "RequestRecord",
    "derived_place",
    "outcome_for",
    "outcome_table_markdown",
]
