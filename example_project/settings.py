"""A small host project that uses django-cedula the way a real site would."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-not-secret")
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "America/Bogota"
LANGUAGE_CODE = "en"
ROOT_URLCONF = "example_project.urls"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "django_cedula",
    "example_project.accounts",
]
AUTH_USER_MODEL = "accounts.User"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DATABASE", str(BASE_DIR / "db.sqlite3")),
        "OPTIONS": {"timeout": 30},
    }
}
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django-Q2 with its ORM broker: the queue lives in the database, no server to install.
Q_CLUSTER = {
    "name": "example",
    "orm": "default",
    "workers": 2,
    "timeout": 90,
    "retry": 120,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "poll": 0.2,
    "log_level": "WARNING",
}

# django-cedula. Short retries so that the demo shows them.
CEDULA_USER_FIELD = "cedula"
CEDULA_RETRY_DELAYS = [5, 10, 20]
CEDULA_SCRAPER = os.environ.get("CEDULA_SCRAPER", "django_cedula.testing.scrapers.FakeScraper")
CEDULA_SCRAPER_OPTIONS = {
    "outcomes": {
        "1000000002": "not_found",
        "1000000003": {
            "status": "cancelled",
            "novedad": "Cancelada por Muerte",
            "resolucion": "0042 DE 2024",
        },
        "1000000004": ["timeout", "found"],
    }
}
CEDULA_MIN_LOOKUP_INTERVAL = 0

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_cedula": {"handlers": ["console"], "level": "INFO"}},
}
