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
(:class:`~django_cedula.captcha.replica.ReplicaCaptchaSolver`, or ``replica.issue_token()``) are
accepted once each, within ``replica.token_max_age`` seconds (120), for the replica's site key;
``replica.captcha_counts()`` counts the verdicts.

From a shell: ``python -m django_cedula.testing.replica --port 8765``.
"""

from __future__ import annotations

from .constants import DEFAULT_SITE_KEY, DEFAULT_SLOW_SECONDS, DEFAULT_VALID_TOKEN
from .outcomes import (
    OUTCOMES,
    FaultMode,
    Novedad,
    Outcome,
    OutcomeKind,
    Place,
    derived_place,
    outcome_for,
    outcome_table_markdown,
)
from .server import Answer, Fault, Replica, RequestRecord

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
