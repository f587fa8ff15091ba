"""`manage.py serve`: run the whole product on one machine.

Collects the static files, then starts the web process (gunicorn: admin, /slack/events)
and the django-q2 worker; the Slack and Discord bots join when their tokens are set.
Stops everything when one of them exits, on Ctrl-C or on SIGTERM. Checks the "worker not
running" alert rule itself meanwhile (the worker runs every other rule).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from adminsite.web import gunicorn_argv, metrics_dir_reset, static_files_missing, web_address
from adminsite.worker_watch import WorkerWatch

logger = logging.getLogger(__name__)


def planned_processes(
    *, address: str, environ: dict[str, str], web_workers: int, web_threads: int
) -> dict[str, list[str]]:
    """Name → argv of every process to run, given the environment."""
    manage = [sys.executable, "manage.py"]
    processes = {
        "web": gunicorn_argv(address=address, workers=web_workers, threads=web_threads),
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
    help = (
        "Run the web server (gunicorn: admin and /slack/events) and the background worker, "
        "plus the Slack and Discord bots when their tokens are set, until Ctrl-C or SIGTERM."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--address",
            default=None,
            help="host:port the web server listens on (0.0.0.0:8000 for every interface, "
            "or unix:/path.sock); default ARANDU_ADDRESS, else 127.0.0.1:8000.",
        )
        parser.add_argument(
            "--no-collectstatic",
            action="store_true",
            help="Skip collecting the static files at start (they must be collected already).",
        )

    def handle(self, *args, address: str | None, no_collectstatic: bool, **options) -> None:
        try:
            address = web_address(address) if address else settings.ARANDU_ADDRESS
        except ValueError as exc:
            raise CommandError(f"--address: {exc}") from None
        if not no_collectstatic:
            # Hashed names for the pages this version renders (~2 s).
            call_command("collectstatic", interactive=False, verbosity=0)
        elif problem := static_files_missing():
            raise CommandError(problem)
        # `kill` (SIGTERM) must stop the children too, not orphan them.
        signal.signal(signal.SIGTERM, _raise_interrupt)
        plan = planned_processes(
            address=address,
            environ=dict(os.environ),
            web_workers=settings.ARANDU_WEB_WORKERS,
            web_threads=settings.ARANDU_WEB_THREADS,
        )
        metrics_dir_reset()  # every process writing this host's metrics starts below
        children: dict[str, subprocess.Popen] = {}
        for name, argv in plan.items():
            children[name] = subprocess.Popen(argv)
            self.stdout.write(f"started {name} (pid {children[name].pid})")
        where = address if address.startswith("unix:") else f"http://{address}/admin/"
        self.stdout.write(
            self.style.SUCCESS(f"Arandu is running: admin at {where}  (Ctrl-C stops)")
        )
        # The worker runs the alert rules; the one saying it stopped is checked here too.
        watch = WorkerWatch()
        try:
            while all(child.poll() is None for child in children.values()):
                time.sleep(0.5)
                watch.tick()
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
