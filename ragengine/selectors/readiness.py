"""Can this process serve questions now? One check per part it needs: the database, the
cache backend, the vector store and a background worker. Each check answers with the
reason it failed, never an exception, so /readyz can name the failing part."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection

from ragengine.cache import cache_health
from ragengine.retrieval import registry
from ragengine.selectors.worker import worker_status

logger = logging.getLogger(__name__)

PROBE_KEY = "arandu:readiness-probe"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str = ""
    ms: float = 0.0


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def check_database() -> Check:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return Check("database", True)


def check_cache() -> Check:
    """The backend answers now (a read of a probe key). A past outage the answer cache
    noticed (`cache_health()`) is reported too; the next call there will retry it."""
    cache.get(PROBE_KEY)
    health = cache_health()
    detail = "" if health.status == "ok" else f"recovering from: {health.reason}"
    return Check("cache", True, detail)


def check_vector_store() -> Check:
    count = registry.get_vector_store().count()
    return Check("vector_store", True, f"{count} chunks")


def check_worker() -> Check:
    status = worker_status()
    seen = status.last_seen.isoformat() if status.last_seen else "never"
    if not status.running:
        return Check("worker", False, f"{status.reason} (last seen: {seen})")
    return Check("worker", True, f"last seen {seen}")


CHECKS = {
    "database": check_database,
    "cache": check_cache,
    "vector_store": check_vector_store,
    "worker": check_worker,
}


def readiness_checks() -> list[Check]:
    results = []
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            result = check()
        except Exception as exc:
            logger.warning("readiness check failed", extra={"check": name, "error": _reason(exc)})
            result = Check(name, False, _reason(exc))
        ms = round((time.perf_counter() - started) * 1000, 2)
        results.append(Check(result.name, result.ok, result.detail, ms))
    return results
