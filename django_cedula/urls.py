"""URLs of the host pieces: ``path("cedula/", include("django_cedula.urls"))``."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "django_cedula"

urlpatterns = [
    path("status/", views.status, name="status"),
]
