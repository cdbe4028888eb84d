"""Settings for the package's own tests.

``CEDULA_TEST_DATABASE`` chooses the database: ``sqlite`` (default) or ``postgres``
(127.0.0.1:5432, trust auth). Worker processes started by integration tests reuse this
module and are pointed at the test database with ``CEDULA_TEST_DATABASE_NAME``.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "django-cedula-tests-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "America/Bogota"
LANGUAGE_CODE = "en"
ROOT_URLCONF = "tests.urls"
STATIC_URL = "static/"
ALLOWED_HOSTS = ["*"]

DATABASE_VENDOR = os.environ.get("CEDULA_TEST_DATABASE", "sqlite")
_override_name = os.environ.get("CEDULA_TEST_DATABASE_NAME")

DATABASES: dict[str, dict[str, Any]]
if DATABASE_VENDOR == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "NAME": _override_name or os.environ.get("PGDATABASE", "test"),
            # One test database per tox environment, so that environments can run side by side.
            "TEST": {"NAME": os.environ.get("CEDULA_TEST_PG_NAME", "test_django_cedula")},
        }
    }
elif DATABASE_VENDOR == "sqlite":
    _sqlite_dir = Path(os.environ.get("CEDULA_TEST_SQLITE_DIR", "/tmp"))
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _override_name or str(_sqlite_dir / f"django-cedula-{os.getpid()}.sqlite3"),
            # A file, not memory, so that worker processes see what the tests commit.
            "TEST": {"NAME": str(_sqlite_dir / f"django-cedula-test-{os.getpid()}.sqlite3")},
            "OPTIONS": {"timeout": 30},
        }
    }
else:
    raise RuntimeError(f"CEDULA_TEST_DATABASE must be sqlite or postgres, not {DATABASE_VENDOR!r}")

# A second database of the same kind, for the tests of a primary/replica router (tests/job/). Only
# created for the tests that ask for it.
DATABASES["replica"] = {
    **DATABASES["default"],
    "TEST": {
        "NAME": (
            f"{DATABASES['default']['TEST']['NAME']}_replica"
            if DATABASE_VENDOR == "postgres"
            else str(_sqlite_dir / f"django-cedula-test-replica-{os.getpid()}.sqlite3")
        )
    },
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_q",
    "django_tasks_db",
    "django_cedula",
    "tests.testapp",
]
AUTH_USER_MODEL = "testapp.User"

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

Q_CLUSTER = {
    "name": "django-cedula-tests",
    "orm": "default",
    "workers": 2,
    "timeout": 60,
    "retry": 90,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "poll": 0.1,
    "save_limit": 0,
}

# Django's tasks framework, for DjangoTasksBackend; its worker is `manage.py db_worker`.
TASKS = {
    "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "cedula"]},
    "immediate": {
        "BACKEND": (
            "django.tasks.backends.immediate.ImmediateBackend"
            if find_spec("django.tasks")
            else "django_tasks.backends.immediate.ImmediateBackend"
        )
    },
}

# Celery, for CeleryBackend, on the local Redis (database 5, away from other users of it).
CELERY_BROKER_URL = os.environ.get("CEDULA_TEST_CELERY_BROKER", "redis://127.0.0.1:6379/5")
CELERY_TASK_IGNORE_RESULT = True

# Unit tests run jobs in-process with the fake scraper; integration tests override these.
CEDULA_TASKS = {"BACKEND": "django_cedula.backends.inline.InlineBackend"}
CEDULA_SOURCES = [{"BACKEND": "django_cedula.testing.scrapers.FakeScraper"}]
CEDULA_MIN_LOOKUP_INTERVAL = 0
# Most tests validate users without recording the holder's authorization first; the habeas data
# tests (tests/privacy/) turn the requirement on, as it is by default.
CEDULA_PRIVACY = {"REQUIRE_CONSENT": False}
# No cluster-wide rate limit unless a test sets one (the default, one lookup per 5 s with a shared
# cache, would slow every real-process test down to the real site's pace).
CEDULA_RATE_LIMIT = None
# Unit tests want retries at once with the inline backend; the chain tests record the delays instead.
SILENCED_SYSTEM_CHECKS = ["django_cedula.W004"]
# Browser tests run against the local replica: a short limit keeps fault tests fast (each source's
# page_timeout is given where the replica is: REPLICA_SOURCE_OPTIONS in tests/conftest.py).
CEDULA_LOOKUP_TIMEOUT = 20
# A block page is one of the replica's answers that many tests use as an ordinary transient
# failure; the cluster-wide pause after one is tested where it is turned on (test_politeness,
# test_throttled_jobs).
CEDULA_BLOCK_COOLDOWN = 0

# Worker processes started by integration tests take their overrides from the environment.
if os.environ.get("CEDULA_TEST_WORKER_SETTINGS"):
    import json

    for _name, _value in json.loads(os.environ["CEDULA_TEST_WORKER_SETTINGS"]).items():
        globals()[_name] = _value

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_cedula": {"handlers": ["console"], "level": "INFO"}},
}
