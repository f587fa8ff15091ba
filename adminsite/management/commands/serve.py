"""`manage.py serve`: run the whole product on one machine.

Starts the web process (admin, API) and the django-q2 worker; the Slack and Discord bots
join when their tokens are set. Stops everything when one of them exits or on Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand, CommandParser

logger = logging.getLogger(__name__)


def planned_processes(*, address: str, environ: dict[str, str]) -> dict[str, list[str]]:
    """Name → argv of every process to run, given the environment."""
    manage = [sys.executable, "manage.py"]
    processes = {
        "web": [*manage, "runserver", address, "--noreload"],
        "worker": [*manage, "qcluster"],
    }
    # Slack over HTTP (signing secret, no app token) is served by the web process at
    # /slack/events; only Socket Mode needs a process of its own.
    if environ.get("SLACK_BOT_TOKEN") and environ.get("SLACK_APP_TOKEN"):
        processes["slack"] = [*manage, "runslackbot"]
    if environ.get("DISCORD_BOT_TOKEN"):
        processes["discord"] = [*manage, "rundiscordbot"]
    return processes


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run web + worker (+ bots when their tokens are set) until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--address", default=os.environ.get("ARANDU_ADDRESS", "127.0.0.1:8000"))

    def handle(self, *args, address: str, **options) -> None:
        # `kill` (SIGTERM) must stop the children too, not orphan them.
        signal.signal(signal.SIGTERM, _raise_interrupt)
        plan = planned_processes(address=address, environ=dict(os.environ))
        available = set(self._commands())
        children: dict[str, subprocess.Popen] = {}
        for name, argv in plan.items():
            if argv[2] not in available:
                self.stdout.write(self.style.WARNING(f"{name}: not available yet, skipped"))
                continue
            children[name] = subprocess.Popen(argv)
            self.stdout.write(f"started {name} (pid {children[name].pid})")
        self.stdout.write(
            self.style.SUCCESS(
                f"Arandu is running: admin at http://{address}/admin/  (Ctrl-C stops)"
            )
        )
        try:
            while all(child.poll() is None for child in children.values()):
                time.sleep(0.5)
            ended = [n for n, c in children.items() if c.poll() is not None]
            self.stderr.write(self.style.ERROR(f"{', '.join(ended)} exited; stopping the rest."))
        except KeyboardInterrupt:
            pass
        finally:
            for child in children.values():
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children.values():
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()

    @staticmethod
    def _commands() -> list[str]:
        from django.core.management import get_commands

        return list(get_commands())
