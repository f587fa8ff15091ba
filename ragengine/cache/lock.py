"""The stampede lock: concurrent askers of one question wait for the first answer."""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from ragengine.cache.backend import cache_backend
from ragengine.cache.keys import lock_cache_key

logger = logging.getLogger(__name__)


@contextmanager
def generation_lock(*, key: str, wait_s: float = 30, lock_s: float | None = None) -> Iterator[bool]:
    """Let one caller at a time generate the answer for `key` (from `cache_key_for`), so
    concurrent askers of the same question wait for the first answer and reuse it.

    Yields True once the caller holds the lock, False if `wait_s` passed first. Inside
    the block, look up again before generating: whoever held the lock before has
    usually just stored the answer (if it failed, or its rule says never cache, the
    next caller generates, still one at a time)::

        hit = cache_lookup(...)
        if hit is None:
            with generation_lock(key=cache_key_for(question=q, scope=scope)):
                hit = cache_lookup(...)
                if hit is None:
                    answer = generate(); cache_store(...)

    The lock is a `cache.add` key with a timeout (`lock_s`, default `wait_s`; keep it
    above the slowest generation), so a crashed holder frees it. With Redis it works
    across processes; with locmem only between threads of one process (each process
    then generates once). When the cache backend is unavailable there is no lock:
    it yields False at once and every caller generates."""
    backend = cache_backend()
    lock = lock_cache_key(key)
    token = uuid.uuid4().hex
    timeout = math.ceil(lock_s or wait_s)
    deadline = time.monotonic() + wait_s
    delay = 0.005
    while not (held := backend.add(lock, token, timeout=timeout)):
        if held is None:  # no backend, no lock: nobody else can hold it either
            held = False
            break
        if time.monotonic() >= deadline:
            logger.warning("answer generation wait timed out", extra={"key": key[:12]})
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    try:
        yield held
    finally:
        if held and backend.get(lock) == token:
            backend.delete(lock)
