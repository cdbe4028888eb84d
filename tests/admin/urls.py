"""A test-only admin site where a host's user admin shows :class:`CedulaInfoInline`."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.urls import path

from django_cedula.admin import CedulaInfoAdmin, CedulaInfoInline
from django_cedula.models import CedulaInfo

site = admin.AdminSite(name="host_admin")


class HostUserAdmin(UserAdmin):  # type: ignore[type-arg]
    """What the docs tell a host to write."""

    inlines = [CedulaInfoInline]


site.register(get_user_model(), HostUserAdmin)
site.register(CedulaInfo, CedulaInfoAdmin)

urlpatterns = [path("host-admin/", site.urls)]
