"""Circuit breaker and retry policy, without any network."""

from __future__ import annotations

import contextlib
import pickle
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import tenacity

from ragengine.llm.circuit_breaker import RECENT_CALLS, CircuitBreaker, CircuitBreakers
from ragengine.llm.resilience import (
    RetryPolicy,
    parse_retry_after,
    resilient_stream,
    retrying,
)
from ragengine.llm.types import (
    ChatRequest,
    CircuitOpen,
    ProviderConfig,
    ProviderError,
    ProviderTimeout,
)
from tests.ragengine.llm.replay_server import FakeClock, FakeSleep


def transient(message: str = "HTTP 503") -> ProviderError:
    return ProviderError(message, provider="p", transient=True, status_code=503)


def permanent(message: str = "HTTP 400") -> ProviderError:
    return ProviderError(message, provider="p", transient=False, status_code=400)


class Flaky:
    """Raises the queued errors in turn, then returns "ok"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def fail(breaker: CircuitBreaker, error: BaseException | None = None) -> None:
    with pytest.raises(type(error or transient())):
        breaker.call(Flaky(error or transient()))


def half_open_breaker(reset_after_s: float = 1) -> CircuitBreaker:
    """A breaker opened by one failure whose cool-down has just run out."""
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=reset_after_s, clock=clock)
    fail(breaker)
    clock.advance(reset_after_s)
    return breaker


def run_concurrently(target: Callable[[], None], threads: int) -> None:
    """`target` in `threads` threads, released together by a barrier for maximum contention."""
    barrier = threading.Barrier(threads)

    def run() -> None:
        barrier.wait()
        target()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


# --- circuit breaker -------------------------------------------------------------------


def test_breaker_opens_after_consecutive_failures_and_fails_fast():
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=10, clock=clock, name="p")
    for _ in range(2):
        fail(breaker)
    assert breaker.state == "closed"
    fail(breaker)
    assert breaker.state == "open"

    never = Flaky()
    clock.advance(4)
    with pytest.raises(CircuitOpen) as caught:
        breaker.call(never)
    assert never.calls == 0
    assert caught.value.retry_after_s == pytest.approx(6)
    assert caught.value.provider == "p"
    assert caught.value.transient is True
    assert "circuit open" in str(caught.value)


def test_a_success_resets_the_failure_count():
    breaker = CircuitBreaker(failure_threshold=2, clock=FakeClock())
    fail(breaker)
    assert breaker.call(Flaky()) == "ok"
    fail(breaker)
    assert breaker.state == "closed"
    assert breaker.consecutive_failures == 1


def test_permanent_errors_do_not_count_against_the_provider():
    breaker = CircuitBreaker(failure_threshold=1, clock=FakeClock())
    fail(breaker, permanent())
    fail(breaker, ValueError("a bug, not an outage"))
    assert breaker.state == "closed"


def test_half_open_lets_exactly_one_trial_through_and_success_closes():
    breaker = half_open_breaker(reset_after_s=30)
    assert breaker.state == "half_open"

    breaker.allow()  # the trial call is in flight ...
    with pytest.raises(CircuitOpen):
        breaker.allow()  # ... so a second caller fails fast
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.call(Flaky()) == "ok"


def test_a_failed_trial_reopens_for_a_full_cool_down():
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=30, clock=clock)
    fail(breaker)
    fail(breaker)
    clock.advance(31)
    fail(breaker)  # the trial
    assert breaker.state == "open"
    clock.advance(29)
    with pytest.raises(CircuitOpen):
        breaker.call(Flaky())
    clock.advance(1)
    assert breaker.call(Flaky()) == "ok"
    assert breaker.state == "closed"


def test_an_interrupted_trial_frees_the_slot():
    breaker = half_open_breaker()
    with pytest.raises(KeyboardInterrupt):
        breaker.call(Flaky(KeyboardInterrupt()))
    assert breaker.call(Flaky()) == "ok"


def test_breaker_is_thread_safe_under_contention():
    breaker = CircuitBreaker(failure_threshold=10_000, clock=FakeClock())

    def hammer() -> None:
        for _ in range(500):
            with contextlib.suppress(ProviderError):
                breaker.call(Flaky(transient()))

    run_concurrently(hammer, threads=8)
    assert breaker.consecutive_failures == 4000
    assert breaker.state == "closed"


def test_only_one_thread_gets_the_half_open_trial():
    breaker = half_open_breaker()
    admitted: list[bool] = []

    def try_allow() -> None:
        try:
            breaker.allow()
            admitted.append(True)
        except CircuitOpen:
            admitted.append(False)

    run_concurrently(try_allow, threads=16)
    assert admitted.count(True) == 1


def test_registry_hands_out_one_breaker_per_provider():
    clock = FakeClock()
    breakers = CircuitBreakers(failure_threshold=1, reset_after_s=5, clock=clock)
    assert breakers.get("openai") is breakers.get("openai")
    assert breakers.get("openai") is not breakers.get("ollama")
    fail(breakers.get("openai"))
    assert breakers.states() == {"openai": "open", "ollama": "closed"}
    assert breakers.get("openai").name == "openai"
    assert CircuitBreakers().states() == {}, "registries share nothing"


@pytest.mark.parametrize(
    "kwargs", [{"failure_threshold": 0}, {"reset_after_s": -1}], ids=["threshold", "reset"]
)
def test_breaker_rejects_nonsense_settings(kwargs):
    with pytest.raises(ValueError):
        CircuitBreaker(**kwargs)


# --- retries ---------------------------------------------------------------------------


def retrier(sleep: FakeSleep, max_retries: int, **overrides: float) -> tenacity.Retrying:
    """Retries for provider "p" with round-number waits, recorded by `sleep`."""
    settings = {"initial_wait_s": 0.1, "max_wait_s": 0.3, "jitter_s": 0.0} | overrides
    return retrying(
        provider="p", max_retries=max_retries, policy=RetryPolicy(**settings, sleep=sleep)
    )


def test_transient_errors_are_retried_with_exponential_backoff(sleep):
    flaky = Flaky(transient(), ProviderTimeout("slow", provider="p"), transient())

    assert retrier(sleep, max_retries=3)(flaky) == "ok"
    assert flaky.calls == 4
    assert sleep.waits == pytest.approx([0.1, 0.2, 0.3])  # capped at max_wait_s


def test_jitter_stays_within_bounds(sleep):
    retry = retrier(sleep, max_retries=5, jitter_s=0.05, max_wait_s=5)
    retry(Flaky(*[transient() for _ in range(5)]))
    for attempt, wait in enumerate(sleep.waits):
        assert 0.1 * 2**attempt <= wait <= 0.1 * 2**attempt + 0.05


def test_gives_up_after_max_retries_and_reraises_the_last_error(sleep):
    last = transient("third")
    flaky = Flaky(transient("first"), transient("second"), last)
    with pytest.raises(ProviderError) as caught:
        retrier(sleep, max_retries=2)(flaky)
    assert caught.value is last
    assert flaky.calls == 3


@pytest.mark.parametrize(
    "error",
    [
        permanent(),
        CircuitOpen("open", provider="p", retry_after_s=5),
        ValueError("bug"),
    ],
    ids=["permanent", "circuit-open", "not-a-provider-error"],
)
def test_non_transient_errors_are_not_retried(error, sleep):
    flaky = Flaky(error)
    with pytest.raises(type(error)):
        retrier(sleep, max_retries=3)(flaky)
    assert flaky.calls == 1
    assert sleep.waits == []


def test_retry_after_is_honoured_when_longer_than_the_backoff(sleep):
    limited = ProviderError("429", provider="p", transient=True, status_code=429, retry_after_s=2)
    retrier(sleep, max_retries=1)(Flaky(limited))
    assert sleep.waits == [2]


def test_retry_after_beyond_the_cap_gives_up_at_once(sleep):
    limited = ProviderError("429", provider="p", transient=True, retry_after_s=60)
    flaky = Flaky(limited)
    with pytest.raises(ProviderError):
        retrier(sleep, max_retries=3, max_retry_after_s=10)(flaky)
    assert flaky.calls == 1
    assert sleep.waits == []


def test_retries_are_logged_with_structured_fields(caplog, sleep):
    retrier(sleep, max_retries=1)(Flaky(transient()))
    (record,) = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert record.provider == "p"
    assert record.attempt == 1
    assert record.status_code == 503


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, 10.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers, expected):
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(headers, now=now) == expected


# --- streams ---------------------------------------------------------------------------


def test_stream_retries_until_the_first_item_then_records_success(sleep):
    breaker = CircuitBreaker(failure_threshold=5, clock=FakeClock())
    attempts: list[int] = []

    def open_stream():
        attempts.append(1)
        if len(attempts) == 1:
            raise transient()
        yield from ("a", "b")

    retry = retrier(sleep, max_retries=2)
    assert list(resilient_stream(open_stream, breaker=breaker, retry=retry)) == ["a", "b"]
    assert len(attempts) == 2
    assert breaker.consecutive_failures == 0


def test_stream_failure_after_the_first_item_is_raised_not_retried(sleep):
    breaker = CircuitBreaker(failure_threshold=1, clock=FakeClock())

    def open_stream():
        yield "a"
        raise transient("dropped")

    retry = retrier(sleep, max_retries=3)
    received = []
    with pytest.raises(ProviderError, match="dropped"):
        for item in resilient_stream(open_stream, breaker=breaker, retry=retry):
            received.append(item)
    assert received == ["a"]
    assert breaker.state == "open"


def test_abandoning_a_stream_closes_it_and_frees_the_trial(sleep):
    breaker = half_open_breaker()
    closed: list[bool] = []

    def open_stream():
        try:
            yield from ("a", "b", "c")
        finally:
            closed.append(True)

    retry = retrier(sleep, max_retries=0)
    stream = resilient_stream(open_stream, breaker=breaker, retry=retry)
    assert next(stream) == "a"
    stream.close()
    assert closed == [True]
    assert breaker.state == "closed"


# --- value types -----------------------------------------------------------------------


def test_config_refers_to_keys_by_variable_name(monkeypatch):
    monkeypatch.setenv("ARANDU_TEST_API_KEY", "  sk-test-value  ")
    config = ProviderConfig(name="x", kind="openai", api_key_env="ARANDU_TEST_API_KEY")
    assert config.api_key() == "sk-test-value"
    assert "sk-test-value" not in repr(config)
    assert ProviderConfig(name="x", kind="ollama").api_key() is None
    monkeypatch.setenv("ARANDU_TEST_API_KEY", "")
    with pytest.raises(ProviderError, match="ARANDU_TEST_API_KEY") as caught:
        config.api_key()
    assert caught.value.transient is False


def test_config_is_validated_and_immutable():
    headers = {"X-A": "1"}
    config = ProviderConfig(name="x", kind="ollama", extra_headers=headers)
    headers["X-A"] = "changed"
    assert config.extra_headers == {"X-A": "1"}
    with pytest.raises(TypeError):
        config.extra_headers["X-B"] = "2"  # type: ignore[index]
    for bad in ({"name": ""}, {"kind": "anthropic"}, {"timeout_s": 0}, {"max_retries": -1}):
        with pytest.raises(ValueError):
            ProviderConfig(**({"name": "x", "kind": "openai"} | bad))


def test_chat_request_is_validated():
    with pytest.raises(ValueError):
        ChatRequest(model="m", messages=(), max_tokens=10)
    with pytest.raises(ValueError):
        ChatRequest(model="", messages=(), max_tokens=10)


@pytest.mark.parametrize(
    "error",
    [
        ProviderError("HTTP 429", provider="p", transient=True, status_code=429, retry_after_s=2),
        ProviderTimeout("slow", provider="p"),
        CircuitOpen("open", provider="p", retry_after_s=5),
    ],
    ids=["provider-error", "timeout", "circuit-open"],
)
def test_errors_survive_pickling(error):
    # django-q and process pools pickle exceptions raised in tasks.
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert (copy.provider, copy.transient, copy.status_code, copy.retry_after_s) == (
        error.provider,
        error.transient,
        error.status_code,
        error.retry_after_s,
    )


def test_snapshot_counts_every_error_toward_the_rate_but_only_transient_ones_open():
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=30, clock=FakeClock())
    breaker.record_success()
    breaker.record_outcome(ProviderError("HTTP 401", provider="p", transient=False))
    breaker.allow()
    breaker.release()  # interrupted: no verdict, not a call for the rate
    snap = breaker.snapshot()
    assert (snap.state, snap.recent_calls, snap.recent_errors) == ("closed", 2, 1)
    assert snap.error_rate == 0.5
    assert snap.last_error == "ProviderError: HTTP 401"
    assert snap.last_error_at is not None and snap.last_error_at.tzinfo is UTC


def test_snapshot_error_rate_covers_the_latest_calls_only():
    breaker = CircuitBreaker(failure_threshold=1000, clock=FakeClock())
    for _ in range(RECENT_CALLS):
        breaker.record_outcome(ProviderError("HTTP 503", provider="p", transient=True))
    for _ in range(RECENT_CALLS // 2):
        breaker.record_success()
    snap = breaker.snapshot()
    assert snap.recent_calls == RECENT_CALLS
    assert snap.error_rate == 0.5
    assert CircuitBreaker(clock=FakeClock()).snapshot().error_rate is None
