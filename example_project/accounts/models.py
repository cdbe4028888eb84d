from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from django_cedula.numbers import validate_cedula_number


class User(AbstractUser):
    """The project's user: registers with a cédula, which django-cedula then validates."""

    cedula = models.CharField(_("cédula"), max_length=20, blank=True, validators=[validate_cedula_number])
