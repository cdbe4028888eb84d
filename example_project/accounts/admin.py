from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from django_cedula.admin import CedulaInfoInline

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Django's user admin, plus the cédula and, read-only, its validation (the package's inline)."""

    inlines = [CedulaInfoInline]
    list_display = ("username", "cedula", "cedula_status", "is_staff", "date_joined")
    list_select_related = ("cedula_info",)
    list_filter = ("cedula_info__status", *BaseUserAdmin.list_filter)
    search_fields = ("username", "cedula", "email")
    fieldsets = (*BaseUserAdmin.fieldsets, (_("Cédula"), {"fields": ("cedula",)}))
    add_fieldsets = (*BaseUserAdmin.add_fieldsets, (_("Cédula"), {"fields": ("cedula",)}))

    @admin.display(description=_("validation"), ordering="cedula_info__status")
    def cedula_status(self, user: User) -> str:
        info = getattr(user, "cedula_info", None)
        return info.get_status_display() if info is not None else "—"
