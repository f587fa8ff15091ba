"""`manage.py runweb`: the web server on its own (what the Docker image runs).

Becomes gunicorn (exec: same pid, so SIGTERM and SIGINT reach gunicorn directly) with the
command line `serve` uses. Static files must be collected already: without them every
admin page would fail, so it refuses to start instead.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from adminsite.web import gunicorn_argv, metrics_dir_reset, static_files_missing, web_address


class Command(BaseCommand):
    help = "Run the web server (gunicorn: admin and /slack/events) on its own."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--address",
            default=None,
            help="host:port to listen on (0.0.0.0:8000 for every interface, or "
            "unix:/path.sock); default ARANDU_ADDRESS, else 127.0.0.1:8000.",
        )

    def handle(self, *args, address: str | None, **options) -> None:
        try:
            address = web_address(address) if address else settings.ARANDU_ADDRESS
        except ValueError as exc:
            raise CommandError(f"--address: {exc}") from None
        if problem := static_files_missing():
            raise CommandError(f"{problem} (`manage.py serve` collects them itself.)")
        argv = gunicorn_argv(
            address=address,
            workers=settings.ARANDU_WEB_WORKERS,
            threads=settings.ARANDU_WEB_THREADS,
        )
        metrics_dir_reset()  # before gunicorn forks the workers that write it
        self.stdout.write(f"web server on {address}")
        self.stdout.flush()
        os.execv(argv[0], argv)
