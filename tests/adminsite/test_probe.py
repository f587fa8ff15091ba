"""`manage.py probe`: the worker's and the bots' container health checks. A running
cluster on Redis is covered by test_q_redis_broker.py; here the answers without one."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection


@pytest.mark.django_db
def test_database_probe_passes_when_the_database_answers():
    out = StringIO()
    call_command("probe", "database", stdout=out)
    assert out.getvalue().strip() == "database: ok"


@pytest.mark.django_db
def test_database_probe_fails_naming_the_database(monkeypatch):
    def broken(*args, **kwargs):
        from django.db.utils import OperationalError

        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken)
    with pytest.raises(CommandError, match="the database does not answer: connection refused"):
        call_command("probe", "database")


@pytest.mark.django_db
def test_worker_probe_without_a_shared_cache_says_what_to_set():
    # the ORM broker keeps the cluster's status in the Django cache: locmem in tests
    with pytest.raises(CommandError, match="set REDIS_URL"):
        call_command("probe", "worker")


def test_probe_refuses_an_unknown_part():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("probe", "web")
