"""A task for the broker tests: records that it ran, in which process, in a SQLite file."""

from __future__ import annotations

import os
import sqlite3
import time


def record(n: int, marker_db: str, seconds: float = 0.0) -> int:
    time.sleep(seconds)
    with sqlite3.connect(marker_db, timeout=30) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS ran (n INTEGER, pid INTEGER)")
        conn.execute("INSERT INTO ran VALUES (?, ?)", (n, os.getpid()))
    return n
