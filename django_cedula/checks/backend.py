"""``CEDULA_TASK_BACKEND`` and its options: E001, E002, E003 and W004.

The backend also reports on its queue's own configuration (``check_environment``): W001 to W003
are Django-Q2's. :func:`load_backend` is shared with the checks that ask what the backend can do
(:mod:`.throttle`, :mod:`.sweep`).
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.checks import CheckMessage

from ..backends.base import BaseTaskBackend
from .messages import backend_doc_hint, error, import_path, options_error, raw, warning


def load_backend() -> tuple[BaseTaskBackend | None, list[CheckMessage]]:
    """A fresh instance of the configured backend, or ``None`` with the errors (E001, E002) that stop it.

    Backends are the package's own classes or thin adapters of a queue; building one touches no
    queue. Its instance is what the checks ask: ``supports_defer`` may be a property that depends
    on its options (the django.tasks backend asks the tasks backend it is given).
    """
    path = raw("TASK_BACKEND")
    backend_class, problem = import_path(path)
    if problem is None and not (
        isinstance(backend_class, type) and issubclass(backend_class, BaseTaskBackend)
    ):
        problem = f"{path!r} is not a subclass of django_cedula.backends.BaseTaskBackend"
    if problem is not None:
        hint = (
            "Use one of django_cedula.backends.django_q.DjangoQBackend, ...inline.InlineBackend, or your own."
        )
        return None, [error(1, "TASK_BACKEND", problem, hint)]
    options = raw("TASK_BACKEND_OPTIONS")
    if not isinstance(options, dict):
        return None, [
            error(2, "TASK_BACKEND_OPTIONS", "must be a dict", "For example {} or {'timeout': 120}.")
        ]
    refused = options_error(2, "TASK_BACKEND_OPTIONS", backend_class, options)
    if refused is not None:
        return None, [refused]
    try:
        backend: BaseTaskBackend = backend_class(**options)
    except (TypeError, ValueError) as exc:
        # The class's own words may quote a value: name the exception only.
        message = f"refused by {backend_class.__name__} ({type(exc).__name__})"
        return None, [error(2, "TASK_BACKEND_OPTIONS", message, backend_doc_hint())]
    return backend, []


def check_task_backend(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E001, E002, E003, W004."""
    backend, messages = load_backend()
    if backend is None:
        return messages
    backend_name = type(backend).__name__
    messages += [
        error(2, "TASK_BACKEND_OPTIONS", problem, backend_doc_hint()) for problem in backend.check_options()
    ]
    for app in getattr(backend, "required_apps", ()):
        if not apps.is_installed(app):
            messages.append(
                error(
                    3,
                    "TASK_BACKEND",
                    f"{backend_name} needs the app {app!r}, which is not in INSTALLED_APPS",
                    f"Add {app!r} to INSTALLED_APPS and run migrate.",
                )
            )
    delays = raw("RETRY_DELAYS")
    if not backend.supports_defer and isinstance(delays, (list, tuple)) and any(delays):
        messages.append(
            warning(
                4,
                f"CEDULA_RETRY_DELAYS asks for delayed retries, but {backend_name} cannot defer "
                "jobs: retries run without waiting.",
                "Use a backend that supports deferred jobs, or set CEDULA_RETRY_DELAYS = [0, 0, 0] "
                "to say that immediate retries are intended.",
            )
        )
    messages += backend.check_environment()
    return messages
