"""Django settings for the benchmarks that run a project: registration, revalidate, cluster, memory.

Based on ``tests/settings.py``, cut to what a host project that validates cédulas needs: the
tests' custom user model (``tests.testapp.User``, which has a ``cedula`` field), Django-Q2 on its
ORM broker as ``docs/installation.rst`` configures it, and the package's default task backend.

The environment chooses the database and overrides settings, so that every process of one
benchmark (the driver, ``manage.py`` commands, ``qcluster``) shares them:

- ``CEDULA_BENCH_DATABASE``: ``sqlite`` (default) or ``postgres`` (127.0.0.1:5432, trust auth);
- ``CEDULA_BENCH_DATABASE_NAME``: the SQLite file, or the PostgreSQL database;
- ``CEDULA_BENCH_SETTINGS``: a JSON object of settings to override (the replica's URL, workers...).
"""

from __future__ import annotations

import json
import os
from typing import Any

SECRET_KEY = "django-cedula-benchmarks-not-secret"
DEBUG = False  # DEBUG keeps every query in memory: the bulk benchmark would measure that instead.
USE_TZ = True
TIME_ZONE = "America/Bogota"
LANGUAGE_CODE = "en"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF: list[Any] = []  # no URLs: nothing here serves pages

VENDOR = os.environ.get("CEDULA_BENCH_DATABASE", "sqlite")
_NAME = os.environ.get("CEDULA_BENCH_DATABASE_NAME", "")

DATABASES: dict[str, dict[str, Any]]
if VENDOR == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "NAME": _NAME or "bench_django_cedula",
        }
    }
elif VENDOR == "sqlite":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            # A file, never memory: commits cost what they cost on a real site, and the cluster's
            # processes see one another's writes.
            "NAME": _NAME or "/tmp/django-cedula-bench.sqlite3",
            "OPTIONS": {"timeout": 30},
        }
    }
else:
    raise RuntimeError(f"CEDULA_BENCH_DATABASE must be sqlite or postgres, not {VENDOR!r}")
# Django's default is 0 (a connection per request); "none" keeps connections open (persistent).
_max_age = os.environ.get("CEDULA_BENCH_CONN_MAX_AGE", "0")
DATABASES["default"]["CONN_MAX_AGE"] = None if _max_age.lower() == "none" else int(_max_age)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django_q",
    "django_cedula",
    "tests.testapp",
]
AUTH_USER_MODEL = "testapp.User"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Django-Q2 on its ORM broker, as docs/installation.rst sets it up; the benchmarks add workers,
# and the memory benchmark a recycle count above its number of jobs.
Q_CLUSTER: dict[str, Any] = {
    "name": "django-cedula-bench",
    "orm": "default",
    "workers": 2,
    "timeout": 240,
    "retry": 300,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    # Django-Q2 logs every job it queues at INFO: the benchmarks measure the queue, not a log handler.
    "log_level": "WARNING",
}

CEDULA_TASKS = {"BACKEND": "django_cedula.backends.django_q.DjangoQBackend"}
# The package's default is 5 s between one worker's lookups, for politeness to the real site; the
# replica needs none, and the throughput benchmark measures the machine, not the pause.
CEDULA_MIN_LOOKUP_INTERVAL = 0
# The benchmarks register users in code, as an import would: their authorizations are not the point.
CEDULA_PRIVACY = {"REQUIRE_CONSENT": False}
CEDULA_RATE_LIMIT = None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_cedula": {"handlers": ["console"], "level": "WARNING"}},
}

if os.environ.get("CEDULA_BENCH_SETTINGS"):
    for _name, _value in json.loads(os.environ["CEDULA_BENCH_SETTINGS"]).items():
        globals()[_name] = _value
