"""The Celery app of the tests: configured from Django's settings (``CELERY_*``)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

app = Celery("django_cedula_tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.include = ["django_cedula.backends.celery"]
