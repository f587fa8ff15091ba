"""Circuit changes reach the database, so the worker's evaluator sees what the web and
bot processes' breakers saw: open and closed are recorded (and a process's first success
puts right an "open" a dead process left behind); a listener that fails never fails the
provider call."""

from __future__ import annotations

import pytest

from ragengine.llm.circuit_record import circuit_change_record
from ragengine.llm.resilience import CircuitBreakers
from ragengine.llm.types import ProviderError
from ragengine.models import ProviderCircuit
from tests.ragengine.llm.replay_server import FakeClock


def transient() -> ProviderError:
    return ProviderError("503 from the server", provider="stub", transient=True)


def fail(breaker) -> None:
    def call():
        raise transient()

    with pytest.raises(ProviderError):
        breaker.call(call)


def state() -> tuple[str, int]:
    row = ProviderCircuit.objects.get(name="stub")
    return row.state, row.failures


@pytest.mark.django_db
def test_open_and_closed_are_recorded_once_each():
    clock = FakeClock()
    seen: list[tuple[str, str, int]] = []

    def listener(name: str, new_state: str, failures: int) -> None:
        seen.append((name, new_state, failures))
        circuit_change_record(name, new_state, failures)

    breaker = CircuitBreakers(
        failure_threshold=2, reset_after_s=10, clock=clock, on_change=listener
    ).get("stub")
    breaker.call(lambda: "ok")  # the process's first success
    assert state() == ("closed", 0)
    breaker.call(lambda: "ok")
    fail(breaker)
    fail(breaker)
    assert state() == ("open", 2)
    clock.advance(11)
    fail(breaker)  # the trial call fails: still open, nothing new to say
    clock.advance(11)
    breaker.call(lambda: "ok")
    assert state() == ("closed", 0)
    assert seen == [("stub", "closed", 0), ("stub", "open", 2), ("stub", "closed", 0)]


@pytest.mark.django_db
def test_a_new_process_puts_right_an_open_left_behind():
    circuit_change_record("stub", "open", 7)  # a process that died with its circuit open
    breaker = CircuitBreakers(on_change=circuit_change_record).get("stub")
    assert breaker.call(lambda: 42) == 42
    assert state() == ("closed", 0)


def test_a_failing_listener_never_fails_the_call(caplog):
    def broken(name: str, new_state: str, failures: int) -> None:
        raise RuntimeError("database is locked")

    breaker = CircuitBreakers(failure_threshold=1, on_change=broken).get("stub")
    assert breaker.call(lambda: "ok") == "ok"
    fail(breaker)
    assert breaker.state == "open"
    assert "circuit listener failed" in caplog.text
