from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

from django_cedula.fields import CedulaField


class User(AbstractUser):
    """A host's custom user: the cédula lives in ``cedula``; ``documento`` tests another field name."""

    cedula = models.CharField(max_length=20, blank=True)
    documento = models.CharField(max_length=20, blank=True)


class Registrant(models.Model):
    """A host model with a unique CedulaField (tests/host/test_fields.py)."""

    cedula = CedulaField(unique=True, null=True, blank=True)
    name = models.CharField(max_length=50, blank=True)

    def __str__(self) -> str:
        return self.name
