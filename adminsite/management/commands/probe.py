"""`manage.py probe worker|database`: container health checks for the non-HTTP processes.

    manage.py probe worker     # a django-q2 cluster on this host reported in the last seconds
    manage.py probe database   # the database answers (the bots cannot answer without it)

Exit 0 when healthy; otherwise a CommandError (exit 1) saying what is missing.
docker-compose.yml and deploy/kubernetes/ run them for the worker and the bots; the web
process is probed over HTTP (/healthz, /readyz).
"""

from __future__ import annotations

import socket

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.utils import Error as DatabaseError


def _database_problem() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return f"the database does not answer: {exc}"
    return None


def _worker_problem(*, host: str) -> str | None:
    """The cluster's sentinel saves its status every few seconds with a 3 s lifetime, in
    the broker (Redis) or the Django cache (ORM broker): a status for this host means a
    running cluster. With the ORM broker and no shared cache (no REDIS_URL) the status is
    in the worker's own memory, out of a probe's reach."""
    from django.core.cache.backends.locmem import LocMemCache
    from django_q.brokers import get_broker
    from django_q.brokers.redis_broker import Redis as RedisBroker
    from django_q.conf import Conf
    from django_q.status import Stat

    broker = get_broker()
    if not isinstance(broker, RedisBroker) and isinstance(broker.cache, LocMemCache):
        return "no shared cache to read the worker's status from: set REDIS_URL"
    try:
        stats = Stat.get_all(broker=broker)
    except Exception as exc:  # noqa: BLE001 — any broker failure is "not healthy"
        return f"the broker does not answer: {exc}"
    running = [s for s in stats if s.host == host and s.status != Conf.STOPPED]
    if not running:
        return f"no django-q2 cluster on host {host!r} reported in the last seconds"
    return None


class Command(BaseCommand):
    help = "Health check for a worker (django-q2 cluster on this host) or the database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("what", choices=["worker", "database"])

    def handle(self, *args, what: str, **options) -> None:
        problem = _database_problem()
        if problem is None and what == "worker":
            problem = _worker_problem(host=socket.gethostname())
        if problem:
            raise CommandError(problem)
        self.stdout.write(f"{what}: ok")
