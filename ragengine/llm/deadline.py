"""A total deadline for one model call, enforced inside the HTTP client.

SDK timeouts are per attempt and per read: a server that sends a little every few seconds
(a model streaming slowly, a proxy trickling a body) never trips them, and retries add
their waits on top. A provider sets the call's deadline (`deadline_scope`) around each
attempt; the HTTP client's hooks (`deadline_hooks`) then cap the request's timeouts to
the time left and check the clock after every piece of the response body, streamed or
not. A read already waiting when the deadline passes may still take the time that was left
when its request started, so a call has surely ended by twice its deadline: the budget
reservation paying for it lives longer than that (`ragengine.selectors.usage`).

The deadline travels in a context variable because the SDKs take no per-call hook: it is
per thread (and per task), never shared state, and unset outside a provider call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import ModuleType
from typing import Any

from ragengine.llm.types import DeadlineExceeded, ProviderError

_CALL_DEADLINE: ContextVar[float | None] = ContextVar("arandu_call_deadline", default=None)

PASSED = "the call's deadline passed"


def time_left(deadline: float | None) -> float | None:
    """Seconds until `deadline` (a `time.monotonic()` instant); None without one."""
    return None if deadline is None else deadline - time.monotonic()


def check_deadline(deadline: float | None, *, provider: str) -> None:
    """Raise `DeadlineExceeded` if `deadline` has passed: nothing new may start."""
    left = time_left(deadline)
    if left is not None and left <= 0:
        raise DeadlineExceeded(f"Provider {provider!r}: {PASSED}.", provider=provider)


def past_deadline(exc: ProviderError, deadline: float | None) -> ProviderError:
    """`exc`, or `DeadlineExceeded` when a transient failure (a timeout, a dropped
    connection) came once the deadline had passed: then it is ours, and retrying or
    counting it against the provider's next attempt cannot help."""
    if (
        deadline is None
        or isinstance(exc, DeadlineExceeded)
        or not exc.transient
        or time.monotonic() < deadline
    ):
        return exc
    return DeadlineExceeded(f"{exc} ({PASSED})", provider=exc.provider)


@contextmanager
def deadline_scope(deadline: float | None) -> Iterator[None]:
    """Requests sent inside this block (by this thread) end by `deadline`."""
    token = _CALL_DEADLINE.set(deadline)
    try:
        yield
    finally:
        _CALL_DEADLINE.reset(token)


def deadline_hooks(http: ModuleType) -> dict[str, list[Callable[[Any], None]]]:
    """Event hooks for a client of `http` (httpx, or httpx2 used by recent OpenAI SDKs)
    that enforce the deadline of the call in progress; without one they do nothing."""

    class DeadlineStream(http.SyncByteStream):  # type: ignore[name-defined,misc]
        """The response body, checked against the deadline after every piece."""

        def __init__(self, inner: Any, *, deadline: float, request: Any) -> None:
            self._inner = inner
            self._deadline = deadline
            self._request = request

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self._inner:
                if time.monotonic() >= self._deadline:
                    raise http.ReadTimeout(PASSED, request=self._request)
                yield chunk

        def close(self) -> None:
            self._inner.close()

    def cap_timeouts(request: Any) -> None:
        left = time_left(_CALL_DEADLINE.get())
        if left is None:
            return
        if left <= 0:
            raise http.PoolTimeout(PASSED, request=request)
        timeouts = request.extensions.get("timeout") or {}
        request.extensions["timeout"] = {
            name: left if timeouts.get(name) is None else min(timeouts[name], left)
            for name in ("connect", "read", "write", "pool")
        }

    def watch_body(response: Any) -> None:
        deadline = _CALL_DEADLINE.get()
        if deadline is not None:
            response.stream = DeadlineStream(
                response.stream, deadline=deadline, request=response.request
            )

    return {"request": [cap_timeouts], "response": [watch_body]}
