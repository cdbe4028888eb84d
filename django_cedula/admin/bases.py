"""The admin base classes, typed with the model they show.

Django's admin classes are subscriptable only for the type checker (at run time, only with
django-stubs-ext's monkeypatch, which a host project need not install): each alias is the
subscripted class for mypy and the plain class when the code runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin

from ..models import CaptchaSpend, CedulaInfo

if TYPE_CHECKING:
    CedulaInfoModelAdmin = admin.ModelAdmin[CedulaInfo]
    CaptchaSpendModelAdmin = admin.ModelAdmin[CaptchaSpend]
    CedulaInfoStackedInline = admin.StackedInline[CedulaInfo, Any]
else:
    CedulaInfoModelAdmin = admin.ModelAdmin
    CaptchaSpendModelAdmin = admin.ModelAdmin
    CedulaInfoStackedInline = admin.StackedInline
