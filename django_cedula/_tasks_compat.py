"""Django's tasks framework: ``django.tasks`` on Django 6+, the ``django-tasks`` backport on 5.2."""

from __future__ import annotations

from importlib.util import find_spec

USES_BACKPORT = find_spec("django.tasks") is None

if USES_BACKPORT:
    from django_tasks import task, task_backends  # type: ignore[import-not-found,unused-ignore]
else:
    from django.tasks import task, task_backends  # type: ignore[import-not-found,unused-ignore,no-redef,assignment]

__all__ = ["USES_BACKPORT", "task", "task_backends"]
