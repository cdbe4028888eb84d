"""The validation job as a Django tasks ``Task``, for the ``DjangoTasksBackend``.

Imported only by that backend (and by workers running its tasks), so projects without
Django's tasks framework never import it.
"""

from __future__ import annotations

from ._tasks_compat import task
from .tasks import validate_cedula


@task()  # type: ignore[untyped-decorator,misc,unused-ignore]
def validate_cedula_task(user_id: int | str, attempt: int = 1) -> str | None:
    """Run :func:`django_cedula.tasks.validate_cedula` from a tasks worker."""
    return validate_cedula(user_id, attempt)
