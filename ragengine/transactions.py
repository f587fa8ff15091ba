"""Database transaction helpers shared by the engine's write paths."""

from __future__ import annotations

from django.db import connection


def relax_commit_durability() -> None:
    """Let the current transaction commit without waiting for the disk flush.

    For writes whose loss in a database crash costs no money and no answer (a budget
    reservation that settling re-creates, a cache hit counter): on PostgreSQL the flush
    wait is most of their cost. Other transactions see the commit at once, so concurrent
    checks are unchanged. A no-op on other databases. Call it inside `atomic()`."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
