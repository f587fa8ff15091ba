"""Circuit breaking for provider calls: a provider that keeps failing stops adding its
timeout to every question, so the router can fall back at once.

`CircuitBreaker` is one provider's breaker (closed, open, half-open), safe to share
between threads, with the recent calls the dashboard reads (`BreakerSnapshot`);
`CircuitBreakers` is the registry a process owns, one breaker per provider name.
Retries around the breaker live in `ragengine.llm.resilience`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypeVar

from ragengine import metrics
from ragengine.llm.types import CircuitOpen, ProviderError

logger = logging.getLogger(__name__)

T = TypeVar("T")
BreakerState = Literal["closed", "open", "half_open"]

# Calls a breaker remembers for its error rate on the dashboard.
RECENT_CALLS = 100


def counts_as_failure(exc: BaseException) -> bool:
    """Whether `exc` says the provider is unhealthy (as opposed to a bad request)."""
    return isinstance(exc, ProviderError) and exc.transient and not isinstance(exc, CircuitOpen)


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
