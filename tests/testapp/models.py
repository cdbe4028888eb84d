from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A host's custom user: the cédula lives in ``cedula``; ``documento`` tests another field name."""

    cedula = models.CharField(max_length=20, blank=True)
    documento = models.CharField(max_length=20, blank=True)
