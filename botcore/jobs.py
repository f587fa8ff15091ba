"""Door work off the request path: a bounded thread pool whose jobs get clean database
connections and never die silently."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)


def release_stale_connections() -> None:
    """Drop this thread's broken or expired database connections, as Django does around
    each request; bot threads live longer than requests. Never inside a transaction: the
    caller (or a test) still needs that connection."""
    if not connection.in_atomic_block:
        close_old_connections()


class BackgroundJobs:
    """Runs submitted callables on `workers` threads (0: inline, for tests and tools).

    Acknowledging a platform event must not wait for an answer, so handlers submit the
    answering here and return at once. A job runs in a copy of the submitter's context,
    so the event's request id (ragengine.request_context) follows it into the thread.
    """

    def __init__(self, *, workers: int, name: str = "door") -> None:
        self._name = name
        self._pool = (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{name}-job")
            if workers > 0
            else None
        )

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if self._pool is None:
            future: Future = Future()
            future.set_result(self._run(fn, args, kwargs))
            return future
        context = contextvars.copy_context()
        return self._pool.submit(context.run, self._run, fn, args, kwargs)

    def _run(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        release_stale_connections()
        try:
            return fn(*args, **kwargs)
        except Exception:
            logger.exception("background job failed", extra={"pool": self._name})
            return None
        finally:
            release_stale_connections()

    def shutdown(self, *, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait)
