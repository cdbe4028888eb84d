"""A Django REST framework serializer of a user's own validation: ``pip install django-cedula[drf]``.

:class:`CedulaInfoSerializer` is read-only and gives the same fields as the JSON view
(:func:`django_cedula.views.status_payload`): the masked cédula only, never ``raw_response``,
``error_message`` or ``error_code``. The voting place (``place``) is given only when the
serializer's context has a ``request`` whose user is the row's holder or has the
``django_cedula.view_cedulainfo`` permission (DRF's generic views pass the request); without a
request it is ``None``, unless the context says ``{"show_place": True}`` (code that has decided
for itself, such as a staff export).
"""

from __future__ import annotations

from typing import Any

try:
    from rest_framework import serializers  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "django_cedula.contrib.rest_framework needs Django REST framework: "
        "pip install 'django-cedula[drf]' (djangorestframework>=3.15)."
    ) from exc

from ..models import CedulaInfo
from ..views import may_see_place, status_payload

__all__ = ["CedulaInfoSerializer"]


class _PayloadField(serializers.ReadOnlyField):  # type: ignore[misc]
    """One key of :func:`~django_cedula.views.status_payload`."""


class CedulaInfoSerializer(serializers.Serializer):  # type: ignore[misc]
    """A ``CedulaInfo`` as its user may see it (read-only; the cédula masked; the place only for
    its holder or a viewer with the view permission)."""

    # The fields name the payload's keys (for schemas and ``fields``); the values come from one
    # payload per row, built in to_representation.
    status = _PayloadField()
    status_display = _PayloadField()
    is_final = _PayloadField()
    retryable = _PayloadField()
    exists = _PayloadField()
    cedula_masked = _PayloadField()
    message = _PayloadField()
    place = _PayloadField()
    novedad = _PayloadField()
    next_attempt_at = _PayloadField()
    next_attempt = _PayloadField()
    retry_count = _PayloadField()
    fetched_at = _PayloadField()
    retry_allowed_at = _PayloadField()
    retry = _PayloadField()
    now = _PayloadField()

    def create(self, validated_data: Any) -> Any:
        raise NotImplementedError("CedulaInfoSerializer is read-only")

    def update(self, instance: Any, validated_data: Any) -> Any:
        raise NotImplementedError("CedulaInfoSerializer is read-only")

    def show_place(self, instance: CedulaInfo) -> bool:
        """Whether the context's viewer may see ``instance``'s voting place."""
        if self.context.get("show_place") is True:
            return True
        request = self.context.get("request")
        return may_see_place(getattr(request, "user", None), instance)

    def to_representation(self, instance: CedulaInfo) -> dict[str, Any]:
        payload = status_payload(instance, show_place=self.show_place(instance))
        return {name: payload[name] for name in self.fields}
