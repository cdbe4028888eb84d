"""``manage.py demo_setup``: what demo.py needs before it starts the servers, in one process.

Migrates, creates the cache table (the rate limit and the block pause live in the cache) and
creates the superuser, or resets its password, from ``DJANGO_SUPERUSER_PASSWORD``.
"""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Migrate, create the cache table, and create the admin user (password in DJANGO_SUPERUSER_PASSWORD)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--admin-username", default="admin")

    def handle(self, *args: Any, admin_username: str, **options: Any) -> None:
        # The password comes from the environment, never the command line (where `ps` shows it).
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if not password:
            raise CommandError("Set DJANGO_SUPERUSER_PASSWORD.")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        user, created = get_user_model().objects.get_or_create(username=admin_username)
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        self.stdout.write(f"{'Created' if created else 'Updated'} the superuser {admin_username!r}.")
