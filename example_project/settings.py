"""Settings of the example project: a small site that uses django-cedula the way a host would.

By default the scraper talks to the package's local replica of the Registraduría site
(``python -m django_cedula.testing.replica``; ``example_project/demo.py`` starts it for you).
Environment variables:

``CEDULA_REPLICA_URL``
    The replica's lookup page (default ``http://127.0.0.1:8765/censo/consultar/``).
``CEDULA_REAL_SITE=1`` and ``TWOCAPTCHA_API_KEY``
    Look numbers up on the real Registraduría site, solving its reCAPTCHA with 2Captcha.
``EXAMPLE_DATABASE``
    The SQLite file (default ``example_project/db.sqlite3``).
``EXAMPLE_RETRY_DELAYS`` and ``EXAMPLE_REFRESH_COOLDOWN``
    Against the replica only: comma-separated retry delays (empty: no retries) and the seconds
    before a user may ask for another check; the end-to-end tests shorten both.
``EXAMPLE_FAST_PASSWORD_HASHER=1``
    Hash passwords with MD5, for the end-to-end tests only.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-example-project-only")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

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

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# SQLite in WAL mode: the web server, the cluster's workers and its ORM broker share one file.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DATABASE", str(BASE_DIR / "db.sqlite3")),
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}

# The rate limit and the pause after a block are shared by every worker through the cache, so it
# must be one that all processes see: the database cache (``manage.py createcachetable``).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "example_cache",
    }
}

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if os.environ.get("EXAMPLE_FAST_PASSWORD_HASHER") == "1":
    # Tests only: registering should not spend a second hashing a password.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "profile"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "America/Bogota"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- django-cedula -------------------------------------------------------------------------------

CEDULA_USER_FIELD = "cedula"
# The operators' mails (a source out of service and back) go to the worker's log.
ADMINS = [("Operator", "operator@example.com")]
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
CEDULA_LOOKUP_TIMEOUT = 120

if os.environ.get("CEDULA_REAL_SITE") == "1":
    # The real Registraduría site: the scraper at its own URL (no url option), a paid captcha
    # solver, polite pacing.
    _api_key = os.environ.get("TWOCAPTCHA_API_KEY", "")
    if not _api_key:
        raise ImproperlyConfigured("CEDULA_REAL_SITE=1 needs TWOCAPTCHA_API_KEY (a 2Captcha API key).")
    CEDULA_SOURCES = [{"BACKEND": "django_cedula.scrapers.wsp.WspScraper"}]
    CEDULA_CAPTCHA_SOLVER = {
        "BACKEND": "django_cedula.captcha.twocaptcha.TwoCaptchaSolver",
        "OPTIONS": {"api_key": _api_key},
    }
    CEDULA_RETRY_DELAYS = [60, 300, 900]
    CEDULA_RATE_LIMIT = "6/m"
    CEDULA_REFRESH_COOLDOWN = 3600
else:
    # The local replica, with its captcha "solver" (it returns the token the replica accepts).
    CEDULA_SOURCES = [
        {
            "BACKEND": "django_cedula.scrapers.wsp.WspScraper",
            "OPTIONS": {
                "url": os.environ.get("CEDULA_REPLICA_URL", "http://127.0.0.1:8765/censo/consultar/")
            },
        }
    ]
    CEDULA_CAPTCHA_SOLVER = {"BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver"}
    # Short waits, so that retries happen while you watch.
    CEDULA_MIN_LOOKUP_INTERVAL = 0
    CEDULA_RETRY_DELAYS = [
        float(delay)
        for delay in os.environ.get("EXAMPLE_RETRY_DELAYS", "5,10,20").split(",")
        if delay.strip()
    ]
    CEDULA_REFRESH_COOLDOWN = float(os.environ.get("EXAMPLE_REFRESH_COOLDOWN", "60"))
    # The replica's block page is one of its demo answers, not a reason to pause every worker.
    CEDULA_BLOCK_COOLDOWN = 0
    # A changed source (switch the replica, as the demo prints) is tried again after a minute, not
    # after 15: the demo shows it coming back while you watch.
    CEDULA_SOURCE_HEALTH = {"TRIAL_AFTER": 60.0, "PROBE_EVERY": 30.0}

# Django-Q2 with its ORM broker: the queue lives in the database, there is no server to install.
# A job may run longer than a lookup: under CEDULA_RATE_LIMIT it may first wait up to 30 s for its
# turn (Django-Q2's scheduler tick), and its store retries for 45 s through a database outage. The
# broker hands a job out again only after 'retry'.
CEDULA_TASKS = {"BACKEND": "django_cedula.backends.django_q.DjangoQBackend"}
Q_CLUSTER = {
    "name": "example",
    "orm": "default",
    "workers": 2,
    "timeout": int(CEDULA_LOOKUP_TIMEOUT) + 120,
    "retry": int(CEDULA_LOOKUP_TIMEOUT) + 180,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "poll": 0.2,
    "save_limit": 100,
    "log_level": "WARNING",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "short": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s", "datefmt": "%H:%M:%S"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "short"}},
    "loggers": {"django_cedula": {"handlers": ["console"], "level": "INFO"}},
}
