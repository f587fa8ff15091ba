"""Django's SQLite backend, except that a new database file is created 0600.

SQLite creates a missing file with 0644 (less the umask), readable by every local user;
creating it empty with 0600 first gives the same database, private from the start. SQLite
gives its journal, WAL and shared-memory files the database file's mode.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper

from adminsite.private_files import FILE_MODE


def _is_in_memory(name: str) -> bool:
    return not name or name == ":memory:" or name.startswith("file:") or "mode=memory" in name


class DatabaseWrapper(SQLiteDatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        name = str(conn_params.get("database", ""))
        if not _is_in_memory(name):
            with contextlib.suppress(FileExistsError):
                os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        return super().get_new_connection(conn_params)
