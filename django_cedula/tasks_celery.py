"""The validation job as a Celery task, for :class:`~django_cedula.backends.celery.CeleryBackend`.

Imported only by that backend and by Celery workers (``app.autodiscover_tasks()`` does
not find it: add ``"django_cedula.tasks_celery"`` to the app's ``include``, or import it).
"""

from __future__ import annotations

from celery import shared_task

from .tasks import validate_cedula


@shared_task(name="django_cedula.validate_cedula", ignore_result=True)  # type: ignore[untyped-decorator,misc,unused-ignore]
def validate_cedula_task(user_id: int | str, attempt: int = 1) -> str | None:
    """Run :func:`django_cedula.tasks.validate_cedula` from a Celery worker."""
    return validate_cedula(user_id, attempt)
