"""Task backends: how a validation job reaches a worker.

``CEDULA_TASK_BACKEND`` names a :class:`~django_cedula.backends.base.BaseTaskBackend`
subclass; :func:`get_backend` returns its instance, created once per process.
"""

from .base import TASK_PATH, BaseTaskBackend, ValidationJob, get_backend

__all__ = ["TASK_PATH", "BaseTaskBackend", "ValidationJob", "get_backend"]
