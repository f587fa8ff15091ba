"""Make sure someone can log in to the admin on a fresh install.

With ARANDU_ADMIN_PASSWORD set, user ARANDU_ADMIN_USER (default "admin") gets that
password, if the password validators accept it (otherwise the command fails, changing
nothing). Otherwise, when no superuser exists yet, one is created with a random password
that is printed once and kept in the data directory (created 0600, never readable by
others).
"""

from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from adminsite.private_files import private_dir, write_private_file


class Command(BaseCommand):
    help = "Create or update the admin login for a fresh install."

    def handle(self, *args, **options) -> None:
        user_model = get_user_model()
        username = os.environ.get("ARANDU_ADMIN_USER", "admin")
        password = os.environ.get("ARANDU_ADMIN_PASSWORD", "")
        if password:
            user = user_model.objects.filter(username=username).first()
            user = user or user_model(username=username)
            _require_strong(password, user)
            user.is_staff = user.is_superuser = True
            user.set_password(password)
            user.save()
            self.stdout.write(f"Admin user {username!r} set from ARANDU_ADMIN_PASSWORD.")
            return
        if user_model.objects.filter(is_superuser=True).exists():
            return
        password = _generated_password(user_model(username=username))
        user_model.objects.create_superuser(username=username, email="", password=password)
        secret_file = settings.ARANDU_DATA_DIR / "admin-password.txt"
        write_private_file(
            private_dir(secret_file.parent) / secret_file.name, f"{username}\n{password}\n"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Created admin user {username!r} with password {password} "
                f"(also saved in {secret_file})."
            )
        )


def _require_strong(password: str, user) -> None:
    """The password validators' verdict on an operator's password, as a readable error
    that never repeats the password."""
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise CommandError(
            "ARANDU_ADMIN_PASSWORD is too weak: " + " ".join(exc.messages) + " Choose another."
        ) from None


def _generated_password(user) -> str:
    """A random password the validators accept (24 URL-safe characters practically always
    are; one resembling the username is drawn again)."""
    for _ in range(10):
        password = secrets.token_urlsafe(18)
        try:
            validate_password(password, user)
        except ValidationError:
            continue
        return password
    raise CommandError("Could not generate a password the password validators accept.")
