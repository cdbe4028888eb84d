from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.utils.translation import gettext_lazy as _

from django_cedula.fields import CedulaField


class User(AbstractUser):
    """The project's user: registers with a cédula, which django-cedula then validates.

    The number is stored as bare digits whatever its formatting, and one account per number
    (``unique``); staff accounts may have none (``NULL``, which ``unique`` allows many times).
    """

    cedula = CedulaField(
        _("cédula"),
        unique=True,
        null=True,
        blank=True,
        error_messages={"unique": _("An account with this cédula is already registered.")},
    )
