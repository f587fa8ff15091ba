"""Retries and circuit breaking for provider calls.

Retries absorb short blips (a 429, a dropped connection); the circuit breaker stops a
provider that keeps failing from adding its timeout to every question, so the router can
fall back at once. Each attempt passes through the breaker and the retry loop sits outside
it (resilience4j's order), so a provider that fails N attempts opens its circuit, and an
open circuit is never retried in place.

Nothing here is module-level state: the process owns one `CircuitBreakers` registry and
hands each provider its breaker (`ragengine.llm.circuit_breaker`, re-exported here).
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import tenacity
from tenacity import RetryCallState

from ragengine.llm.circuit_breaker import (
    BreakerSnapshot,
    BreakerState,
    CircuitBreaker,
    CircuitBreakers,
    counts_as_failure,
)
from ragengine.llm.deadline import check_deadline, deadline_scope, past_deadline
from ragengine.llm.types import ProviderError

__all__ = [  # the breaker's names stay importable from here (the embedders use them)
    "BreakerSnapshot",
    "BreakerState",
    "CircuitBreaker",
    "CircuitBreakers",
    "RetryPolicy",
    "TRANSIENT_STATUS_CODES",
    "close_stream",
    "counts_as_failure",
    "is_retryable",
    "is_transient_status",
    "parse_retry_after",
    "resilient_call",
    "resilient_stream",
    "retrying",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# HTTP statuses worth retrying: request timeout, rate limit and server-side failures.
TRANSIENT_STATUS_CODES = frozenset({408, 429, 500, 502, 503, 504})


def is_transient_status(status_code: int) -> bool:
    return status_code in TRANSIENT_STATUS_CODES


def is_retryable(exc: BaseException) -> bool:
    """Transient errors are retried; an open circuit is not (the router falls back)."""
    return counts_as_failure(exc)


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff between attempts: exponential from `initial_wait_s`, capped at `max_wait_s`,
    plus up to `jitter_s` of random jitter. A server's Retry-After is honoured when it asks
    for longer, unless it exceeds `max_retry_after_s`: then waiting would stall the answer,
    so the error is raised at once and the router falls back. `sleep` is injectable so
    tests never really wait."""

    initial_wait_s: float = 0.5
    max_wait_s: float = 8.0
    jitter_s: float = 0.5
    max_retry_after_s: float = 10.0
    sleep: Callable[[float], None] = time.sleep


def retrying(
    *,
    provider: str,
    max_retries: int,
    policy: RetryPolicy | None = None,
    deadline: float | None = None,
) -> tenacity.Retrying:
    """A tenacity retrier for one provider call: `retrying(...)(fn)` runs `fn` up to
    `max_retries + 1` times, retrying only transient `ProviderError`s, and re-raises the
    last error itself (never tenacity's RetryError). With a `deadline` (a monotonic
    instant) it stops instead of waiting past it."""
    policy = policy or RetryPolicy()

    def wait(state: RetryCallState) -> float:
        # Exponential backoff with "full" jitter on top, capped (tenacity's
        # wait_exponential_jitter changed its parameters across 9.x, so it is spelled out).
        exponential = policy.initial_wait_s * 2 ** (state.attempt_number - 1)
        delay = min(exponential + random.uniform(0, policy.jitter_s), policy.max_wait_s)
        retry_after = _retry_after_of(state)
        return max(delay, retry_after) if retry_after is not None else delay

    def retry_after_too_long(state: RetryCallState) -> bool:
        retry_after = _retry_after_of(state)
        return retry_after is not None and retry_after > policy.max_retry_after_s

    def wait_passes_deadline(state: RetryCallState) -> bool:
        # tenacity computes the wait before asking whether to stop.
        return deadline is not None and time.monotonic() + state.upcoming_sleep >= deadline

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        logger.warning(
            "provider call failed, retrying: %s",
            exc,
            extra={
                "provider": provider,
                "attempt": state.attempt_number,
                "max_attempts": max_retries + 1,
                "wait_s": round(state.upcoming_sleep, 3),
                "error_type": type(exc).__name__,
                "status_code": getattr(exc, "status_code", None),
            },
        )

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_retryable),
        stop=tenacity.stop_any(
            tenacity.stop_after_attempt(max_retries + 1),
            retry_after_too_long,
            wait_passes_deadline,
        ),
        wait=wait,
        sleep=policy.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )


def _retry_after_of(state: RetryCallState) -> float | None:
    exc = state.outcome.exception() if state.outcome else None
    return getattr(exc, "retry_after_s", None)


def resilient_call(
    fn: Callable[[], T],
    *,
    breaker: CircuitBreaker | None,
    retry: tenacity.Retrying,
    deadline: float | None = None,
    provider: str = "",
) -> T:
    """`fn` retried by `retry`, each attempt through `breaker` (when there is one) and
    within `deadline` (no attempt starts after it; requests made inside end by it)."""

    def attempt() -> T:
        check_deadline(deadline, provider=provider)
        try:
            with deadline_scope(deadline):
                return fn() if breaker is None else breaker.call(fn)
        except ProviderError as exc:
            _raise_past_deadline(exc, deadline)
            raise

    return retry(attempt)


def _raise_past_deadline(exc: ProviderError, deadline: float | None) -> None:
    converted = past_deadline(exc, deadline)
    if converted is not exc:
        raise converted from exc


_END = object()


def resilient_stream(
    open_stream: Callable[[], Iterator[T]],
    *,
    breaker: CircuitBreaker,
    retry: tenacity.Retrying,
    deadline: float | None = None,
    provider: str = "",
) -> Iterator[T]:
    """Stream items through the breaker, retrying until the first item arrives.

    Once an item has been handed to the caller a failure cannot be retried transparently
    (the caller has shown it), so later errors are recorded and raised. `open_stream`
    must raise `ProviderError`s only. With a `deadline`, no attempt starts after it and
    the stream's requests end by it (see `ragengine.llm.deadline`).
    """

    def open_first() -> tuple[Iterator[T], object]:
        check_deadline(deadline, provider=provider)
        breaker.allow()
        iterator: Iterator[T] | None = None
        try:
            with deadline_scope(deadline):  # requests may go out on the first read
                iterator = open_stream()
                return iterator, next(iterator, _END)
        except BaseException as exc:
            breaker.record_outcome(exc)
            close_stream(iterator)
            if isinstance(exc, ProviderError):
                _raise_past_deadline(exc, deadline)
            raise

    iterator, first = retry(open_first)
    try:
        if first is not _END:
            yield first  # type: ignore[misc]
            yield from iterator
    except GeneratorExit:
        # The caller stopped reading; the provider was answering fine.
        breaker.record_success()
        raise
    except BaseException as exc:
        breaker.record_outcome(exc)
        if isinstance(exc, ProviderError):
            _raise_past_deadline(exc, deadline)
        raise
    else:
        breaker.record_success()
    finally:
        close_stream(iterator)


def close_stream(iterator: object) -> None:
    """Close `iterator` if it can be closed (SDK streams and generators can)."""
    close = getattr(iterator, "close", None)
    if close is not None:
        close()
