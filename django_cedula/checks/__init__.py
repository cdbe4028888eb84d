"""System checks for every ``CEDULA_*`` setting, so that ``manage.py check`` fails before a worker does.

Ids are stable: ``django_cedula.E0xx`` errors and ``django_cedula.W0xx`` warnings.

=====  ==================================================================
E001   ``CEDULA_TASK_BACKEND`` cannot be imported or is not a task backend
E002   ``CEDULA_TASK_BACKEND_OPTIONS`` is not a dict, or the backend refuses it
E003   the backend's app is missing from ``INSTALLED_APPS``
E004   ``CEDULA_SCRAPER`` (or an entry of a list) cannot be imported or has no ``scrape_cedula``
E005   ``CEDULA_SCRAPER_OPTIONS`` (or a list entry's options) is not a dict, or does not fit the scraper
E006   ``CEDULA_RETRY_DELAYS`` is not a list of non-negative numbers
E007   ``CEDULA_USER_FIELD`` is not a field of ``AUTH_USER_MODEL``
E008   ``CEDULA_CAPTCHA_SOLVER`` cannot be imported or is not a solver
E009   another setting has a wrong type or value
E010   ``CEDULA_BROWSER_EXECUTABLE`` does not exist or cannot be run
E011   ``CEDULA_CACHE_ALIAS`` is not one of ``CACHES``
E012   ``CEDULA_CAPTCHA_SOLVER_OPTIONS`` has an option the solver does not take, or lacks one it needs
E013   ``TwoCaptchaSolver``'s ``api_key`` is ``None`` or empty (an unset environment variable)
E014   ``CEDULA_SCRAPER`` names an HTTP-only scraper but ``curl_cffi`` (the ``http`` extra) is missing
W001   Django-Q2's job timeout: missing, not above the longest a job may run, or not below ``retry``
W002   Django-Q2 uses its Redis broker, which has no delivery receipts
W003   Django-Q2 runs jobs synchronously (``sync=True``) with ``DEBUG`` off
W004   retries are configured but the backend cannot defer jobs
W005   no captcha solver: every lookup of the browser scrapers fails
W006   ``CEDULA_RATE_LIMIT`` is set but the cache is not shared between processes
W007   ``CEDULA_RATE_LIMIT`` is set but the backend cannot defer jobs
W008   ``CEDULA_SWEEP_PROCESSING_AFTER`` is shorter than the longest a job may run
W009   no cache shared between processes: no token supply, no cluster-wide rate limit
=====  ==================================================================

E002, E005 and E012 read the options against the ``__init__`` signatures of the class they
configure (:func:`~django_cedula.loading.option_problems`); the hint names the options it takes.

What lives where (one module per setting, or group of settings, that a check reads):

- :mod:`.backend`: ``CEDULA_TASK_BACKEND`` and its options (E001 to E003, W004; the backend's
  own ``check_environment`` adds W001 to W003), and :func:`~.backend.load_backend`, which the
  other checks use to ask what the backend can do.
- :mod:`.scraper`: ``CEDULA_SCRAPER``, ``CEDULA_CAPTCHA_SOLVER`` and their options (E004, E005,
  E008, E012, W005).
- :mod:`.captcha`: the value of ``TwoCaptchaSolver``'s API key (E013; never shown).
- :mod:`.http`: the HTTP-only scrapers' library, ``curl_cffi`` (E014).
- :mod:`.values`: the type and range of each plain setting (E006, E009, E010).
- :mod:`.user_field`: ``CEDULA_USER_FIELD`` against ``AUTH_USER_MODEL`` (E007).
- :mod:`.throttle`: the cache behind the rate limit and the token supply (E011, W006, W007, W009).
- :mod:`.sweep`: ``CEDULA_SWEEP_PROCESSING_AFTER`` against the longest job (W008).
- :mod:`.messages`: what they share: a setting's raw value, messages with their ids, and loading
  a dotted path or its options without raising.

The checks are registered here, in one place, when the app's ``ready()`` imports this package;
each ``check_*`` function is importable from here (``checks.check_values()``) and can be called
alone, as the tests do.
"""

from __future__ import annotations

from django.core.checks import register

from .backend import check_task_backend
from .captcha import check_captcha
from .http import check_http_scraper
from .messages import ID
from .scraper import check_scraper
from .sweep import check_sweep
from .throttle import check_throttle
from .user_field import check_user_field
from .values import check_retry_delays, check_values

__all__ = [
    "ID",
    "check_captcha",
    "check_http_scraper",
    "check_retry_delays",
    "check_scraper",
    "check_sweep",
    "check_task_backend",
    "check_throttle",
    "check_user_field",
    "check_values",
]

# Registered here, not by a decorator in each module, so that this list is the one place that says
# what `manage.py check` runs. No tags: they run with every other check, as they always have.
for _check in (
    check_task_backend,
    check_scraper,
    check_captcha,
    check_http_scraper,
    check_retry_delays,
    check_user_field,
    check_values,
    check_throttle,
    check_sweep,
):
    register(_check)
del _check
