"""Retries and circuit breaking for provider calls.

Retries absorb short blips (a 429, a dropped connection); the circuit breaker stops a
provider that keeps failing from adding its timeout to every question, so the router can
fall back at once. Each attempt passes through the breaker and the retry loop sits outside
it (resilience4j's order), so a provider that fails N attempts opens its circuit, and an
open circuit is never retried in place.

Nothing here is module-level state: the process owns one `CircuitBreakers` registry and
hands each provider its breaker.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypeVar

import tenacity
from tenacity import RetryCallState

from ragengine import metrics
from ragengine.llm.deadline import check_deadline, deadline_scope, past_deadline
from ragengine.llm.types import CircuitOpen, ProviderError

logger = logging.getLogger(__name__)

T = TypeVar("T")
BreakerState = Literal["closed", "open", "half_open"]

# HTTP statuses worth retrying: request timeout, rate limit and server-side failures.
TRANSIENT_STATUS_CODES = frozenset({408, 429, 500, 502, 503, 504})
# Calls a breaker remembers for its error rate on the dashboard.
RECENT_CALLS = 100


def is_transient_status(status_code: int) -> bool:
    return status_code in TRANSIENT_STATUS_CODES


def counts_as_failure(exc: BaseException) -> bool:
    """Whether `exc` says the provider is unhealthy (as opposed to a bad request)."""
    return isinstance(exc, ProviderError) and exc.transient and not isinstance(exc, CircuitOpen)


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


class CircuitBreaker:
    """Consecutive-failure circuit breaker, safe to share between threads.

    closed: calls pass; `failure_threshold` consecutive failures open it.
    open: calls raise `CircuitOpen` without running until `reset_after_s` has passed.
    half-open: exactly one trial call passes; success closes, failure re-opens.

    Only failures for which `counts_as_failure` holds are counted: a 400 or 401 means the
    endpoint is up and answering, so it counts as a success for the circuit.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        name: str = "provider",
        on_change: Callable[[str, BreakerState, int], None] | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {failure_threshold}")
        if reset_after_s < 0:
            raise ValueError(f"reset_after_s must be >= 0, got {reset_after_s}")
        self.name = name
        self._on_change = on_change  # told (name, "open"|"closed", failures) on changes
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False
        self._seen_success = False
        self._recent: deque[bool] = deque(maxlen=RECENT_CALLS)  # True: the call failed
        self._last_error = ""
        self._last_error_at: datetime | None = None

    @property
    def state(self) -> BreakerState:
        """The state a call made now would see (open turns half-open after the cool-down)."""
        with self._lock:
            if self._state == "open" and self._remaining_locked() <= 0:
                return "half_open"
            return self._state

    @property
    def consecutive_failures(self) -> int:
        with self._lock:
            return self._failures

    def _remaining_locked(self) -> float:
        return self._opened_at + self.reset_after_s - self._clock()

    def allow(self) -> None:
        """Admit one call or raise `CircuitOpen`. Every admitted call must be followed by
        `record_success`, `record_failure`, `record_outcome` or `release`."""
        with self._lock:
            if self._state == "closed":
                return
            if self._state == "open":
                remaining = self._remaining_locked()
                if remaining > 0:
                    raise self._open_error(remaining)
                self._state = "half_open"
                metrics.record_circuit_state(provider=self.name, state="half_open")
                logger.info(
                    "circuit half-open: letting one trial call through",
                    extra={"provider": self.name, "circuit_state": "half_open"},
                )
            if self._trial_in_flight:
                raise self._open_error(0.0, trial=True)
            self._trial_in_flight = True

    def _open_error(self, remaining: float, *, trial: bool = False) -> CircuitOpen:
        reason = (
            "a trial call is in progress"
            if trial
            else f"{self._failures} consecutive failures; next trial in {remaining:.1f}s"
        )
        return CircuitOpen(
            f"Provider {self.name!r} is unavailable (circuit open: {reason}).",
            provider=self.name,
            retry_after_s=max(0.0, remaining),
        )

    def snapshot(self) -> BreakerSnapshot:
        """State and recent history, for the dashboard: any error counts toward the
        error rate (a 401 is worth seeing), though only transient ones open the circuit."""
        state = self.state
        with self._lock:
            return BreakerSnapshot(
                name=self.name,
                state=state,
                consecutive_failures=self._failures,
                recent_calls=len(self._recent),
                recent_errors=sum(self._recent),
                last_error=self._last_error,
                last_error_at=self._last_error_at,
            )

    def _note(self, *, failed: bool, error: BaseException | None = None) -> None:
        with self._lock:
            self._recent.append(failed)
            if error is not None:
                self._last_error = f"{type(error).__name__}: {error}"[:500]
                self._last_error_at = datetime.now(UTC)

    def record_success(self) -> None:
        self._note(failed=False)
        self._close()

    def _close(self) -> None:
        with self._lock:
            recovered = self._state != "closed"
            # also the first success of this process: an "open" another process (or a
            # process that has since died) left behind is then put right
            first = not self._seen_success
            self._seen_success = True
            if recovered:
                metrics.record_circuit_state(provider=self.name, state="closed")
                logger.info(
                    "circuit closed: provider recovered",
                    extra={"provider": self.name, "circuit_state": "closed"},
                )
            self._state = "closed"
            self._failures = 0
            self._trial_in_flight = False
        if recovered or first:
            self._tell("closed", 0)

    def record_failure(self) -> None:
        self._note(failed=True)
        self._fail()

    def _fail(self) -> None:
        with self._lock:
            self._failures += 1
            failures, was = self._failures, self._state
            if self._state == "half_open":
                self._open_locked("trial call failed")
            elif self._state == "closed" and self._failures >= self.failure_threshold:
                self._open_locked(f"{self._failures} consecutive failures")
            opened = was == "closed" and self._state == "open"
        if opened:
            self._tell("open", failures)

    def _tell(self, state: BreakerState, failures: int) -> None:
        """Pass a change on (outside the lock: the listener may write to a database);
        a listener that fails never fails the call."""
        if self._on_change is None:
            return
        try:
            self._on_change(self.name, state, failures)
        except Exception:
            logger.warning("circuit listener failed", exc_info=True, extra={"provider": self.name})

    def _open_locked(self, reason: str) -> None:
        self._state = "open"
        metrics.record_circuit_state(provider=self.name, state="open")
        self._opened_at = self._clock()
        self._trial_in_flight = False
        logger.warning(
            "circuit opened: failing fast for %.1fs (%s)",
            self.reset_after_s,
            reason,
            extra={
                "provider": self.name,
                "circuit_state": "open",
                "consecutive_failures": self._failures,
            },
        )

    def release(self) -> None:
        """End an admitted call without a verdict (e.g. the caller was interrupted)."""
        with self._lock:
            self._trial_in_flight = False

    def record_outcome(self, exc: BaseException) -> None:
        """Record an admitted call that raised `exc`."""
        if not isinstance(exc, Exception):
            self.release()
            return
        metrics.record_provider_error(provider=self.name, error=exc)
        self._note(failed=True, error=exc)
        if counts_as_failure(exc):
            self._fail()
        else:
            self._close()

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` through the breaker; raises `CircuitOpen` without calling when open."""
        self.allow()
        try:
            result = fn()
        except BaseException as exc:
            self.record_outcome(exc)
            raise
        self.record_success()
        return result


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    name: str
    state: BreakerState
    consecutive_failures: int
    recent_calls: int
    recent_errors: int
    last_error: str
    last_error_at: datetime | None

    @property
    def error_rate(self) -> float | None:
        return self.recent_errors / self.recent_calls if self.recent_calls else None


class CircuitBreakers:
    """One breaker per provider name, created on first use. The caller owns the registry
    (one per process), so tests get fresh breakers and no state hides in a module."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, BreakerState, int], None] | None = None,
    ) -> None:
        self._failure_threshold = failure_threshold
        self._reset_after_s = reset_after_s
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, name: str) -> CircuitBreaker:
        with self._lock:
            breaker = self._breakers.get(name)
            if breaker is None:
                breaker = CircuitBreaker(
                    self._failure_threshold,
                    self._reset_after_s,
                    self._clock,
                    name=name,
                    on_change=self._on_change,
                )
                self._breakers[name] = breaker
            return breaker

    def states(self) -> dict[str, BreakerState]:
        """Current state per provider, for health pages and metrics."""
        with self._lock:
            breakers = list(self._breakers.items())
        return {name: breaker.state for name, breaker in breakers}

    def snapshots(self) -> dict[str, BreakerSnapshot]:
        with self._lock:
            breakers = list(self._breakers.items())
        return {name: breaker.snapshot() for name, breaker in breakers}


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
