"""The Django admin for cédula validations, and an inline for the host's user admin.

:class:`CedulaInfoAdmin` is registered on ``django.contrib.admin.site`` when the admin is
installed. Every field is read-only: the data comes from the Registraduría, and the package's
jobs update rows with conditional queries that a form saving a stale copy would undo. Staff can
instead *validate again* the selected rows (an action, which needs the ``change`` permission of
the model), filter by status and department, and search by the full number or by user.
The list keeps to five columns (user, masked number ``******4050``, status, "municipality,
department", updated at) so that it fits a 1280-pixel screen with the filter sidebar; the full
number and every other field are on each row's page. Times are shown to the second with the zone
(:mod:`.times`), and every label is the model's verbose name.
``raw_response`` (the HTML the source answered) is shown only to users with the permission
``django_cedula.view_raw_response``. Only superusers may delete rows.

To show a user's validation on the host's own user admin, add the read-only inline::

    from django.contrib.auth.admin import UserAdmin
    from django_cedula.admin import CedulaInfoInline

    @admin.register(User)
    class MyUserAdmin(UserAdmin):
        inlines = [CedulaInfoInline]

To replace the package's admin, ``admin.site.unregister(CedulaInfo)`` and register your own,
for instance a subclass of :class:`CedulaInfoAdmin`.

Above the list, a line gives today's captcha spend (UTC day): solves, tokens used, expired and
refused, solves per final validation and the estimated cost. :class:`CaptchaSpendAdmin` lists the
spend day by day, read-only (the counters are written by the package, never by hand).

What lives where (every name below is importable from ``django_cedula.admin``):

- :mod:`.cedula_info`: :class:`CedulaInfoAdmin`, the departamento filter, and who may see
  ``raw_response`` (:data:`RAW_RESPONSE_PERMISSION`, :func:`can_view_raw_response`).
- :mod:`.summary`: the line above its list (:class:`StatusCount`, :class:`SpendSummary`,
  :func:`spend_summary_figures`).
- :mod:`.inline`: :class:`CedulaInfoInline`, for the host's user admin.
- :mod:`.captcha_spend`: :class:`CaptchaSpendAdmin`.
- :mod:`.fields`: the groups of fields the page and the inline share, and their full times;
  :mod:`.times`: the format of those times (:func:`format_full_time`, :func:`full_time_display`);
  :mod:`.bases`: the admin base classes, typed with their model.

Both admins are registered here, in one place, when Django's admin autodiscovers this package.
"""

from __future__ import annotations

from django.contrib import admin

from ..models import CaptchaSpend, CedulaInfo
from .captcha_spend import CaptchaSpendAdmin
from .cedula_info import (
    RAW_RESPONSE_PERMISSION,
    CedulaInfoAdmin,
    DepartamentoFilter,
    can_view_raw_response,
)
from .inline import CedulaInfoInline
from .summary import SpendSummary, StatusCount, spend_summary_figures
from .times import FULL_TIME_FORMAT, format_full_time, full_time_display

__all__ = [
    "FULL_TIME_FORMAT",
    "RAW_RESPONSE_PERMISSION",
    "CaptchaSpendAdmin",
    "CedulaInfoAdmin",
    "CedulaInfoInline",
    "DepartamentoFilter",
    "SpendSummary",
    "StatusCount",
    "can_view_raw_response",
    "format_full_time",
    "full_time_display",
    "spend_summary_figures",
]

admin.site.register(CedulaInfo, CedulaInfoAdmin)
admin.site.register(CaptchaSpend, CaptchaSpendAdmin)
