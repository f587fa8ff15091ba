"""The Django cache as the answer cache uses it: a failing backend never fails a question.

The answer cache is an optimisation over its database rows, so when the backend fails
(Redis down or not answering) reads miss, writes and deletes are skipped, and the
generation lock is not taken. After a failure the backend is left alone for
`BACKEND_RETRY_S` (a dead Redis would otherwise cost a connection attempt on every call),
then tried again; the outage is logged once per interval, not once per call, and
`cache_health()` reports it for a readiness check.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, TypeVar

from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Seconds the backend is left alone after a failure (and between two warnings about it).
BACKEND_RETRY_S = 30.0


@dataclass(frozen=True, slots=True)
class CacheHealth:
    """ "ok", or "degraded" (answers go on from the database) with why and since when."""

    status: Literal["ok", "degraded"]
    reason: str = ""
    since: datetime | None = None


class CacheBackend:
    """The Django cache behind a guard: every call returns a fallback instead of raising."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._retry_at: float | None = None  # set while degraded
        self._warned_at: float | None = None
        self._reason = ""
        self._since: datetime | None = None

    def get(self, key: str) -> Any:
        return self._call("get", lambda: cache.get(key), None)

    def set(self, key: str, value: Any, *, timeout: int) -> None:
        self._call("set", lambda: cache.set(key, value, timeout=timeout), None)

    def add(self, key: str, value: Any, *, timeout: int) -> bool | None:
        """True if added, False if the key exists, None when the backend is unavailable."""
        return self._call("add", lambda: cache.add(key, value, timeout=timeout), None)

    def delete(self, key: str) -> None:
        self._call("delete", lambda: cache.delete(key), None)

    def delete_many(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if keys:
            self._call("delete_many", lambda: cache.delete_many(keys), None)

    def health(self) -> CacheHealth:
        with self._lock:
            if self._retry_at is None:
                return CacheHealth(status="ok")
            return CacheHealth(status="degraded", reason=self._reason, since=self._since)

    def reset(self) -> None:
        """Forget any outage (tests; or after the cache settings changed)."""
        with self._lock:
            self._retry_at = self._warned_at = self._since = None
            self._reason = ""

    def _call(self, operation: str, call: Callable[[], T], fallback: T) -> T:
        with self._lock:
            retry_at = self._retry_at
        if retry_at is not None and self.clock() < retry_at:
            return fallback
        try:
            result = call()
        except Exception as exc:  # whatever the backend raises, the question goes on
            self._failed(operation, exc)
            return fallback
        if retry_at is not None:
            self._recovered()
        return result

    def _failed(self, operation: str, exc: Exception) -> None:
        now = self.clock()
        reason = f"{type(exc).__name__}: {exc}"
        with self._lock:
            if self._retry_at is None:
                self._since = timezone.now()
            self._retry_at = now + BACKEND_RETRY_S
            self._reason = reason
            warn = self._warned_at is None or now - self._warned_at >= BACKEND_RETRY_S
            if warn:
                self._warned_at = now
        if warn:
            logger.warning(
                "answer cache backend unavailable; answering without it",
                extra={"operation": operation, "error": reason, "retry_in_s": BACKEND_RETRY_S},
            )

    def _recovered(self) -> None:
        with self._lock:
            if self._retry_at is None:
                return
            since = self._since
            self._retry_at = self._warned_at = self._since = None
            self._reason = ""
        down_s = (timezone.now() - since).total_seconds() if since else None
        logger.info("answer cache backend recovered", extra={"down_s": down_s})


@lru_cache(maxsize=1)
def cache_backend() -> CacheBackend:
    """The process's guarded cache (one per process, so an outage is noticed once)."""
    return CacheBackend()


def cache_health() -> CacheHealth:
    """Whether the answer cache's backend works ("ok") or answers go on without it."""
    return cache_backend().health()
