"""A question's trace: what `ask()` decided on the way, for whoever asked to watch.

The playground (and the evaluation runner) open a trace around one `ask()`; the steps
inside call `trace_record(kind, **details)` at the moment they decide something (the
cache rule, the budget plan, the ranking, the prompt, the models tried). With no trace
open, `trace_record` is one context-variable read and returns: answering pays nothing
for being observable, and no function signature grows a "debug" parameter.

Records hold the engine's own objects (hits, plans, prompts) as they were; a reader
turns them into what it shows. A context variable keeps traces of concurrent questions
(threads, async tasks) apart.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class TraceEvent:
    kind: str
    at_ms: float  # since the trace opened
    details: dict[str, Any]


@dataclass(slots=True)
class Trace:
    started: float = field(default_factory=time.perf_counter)
    events: list[TraceEvent] = field(default_factory=list)

    def add(self, kind: str, details: dict[str, Any]) -> None:
        at_ms = (time.perf_counter() - self.started) * 1000
        self.events.append(TraceEvent(kind=kind, at_ms=at_ms, details=details))

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [e.details for e in self.events if e.kind == kind]

    def last(self, kind: str) -> dict[str, Any] | None:
        found = self.all(kind)
        return found[-1] if found else None


_current: ContextVar[Trace | None] = ContextVar("arandu_trace", default=None)


def trace_record(kind: str, **details: Any) -> None:
    """Note a decision in the open trace, if any (otherwise nothing happens)."""
    trace = _current.get()
    if trace is not None:
        trace.add(kind, details)


@contextmanager
def tracing() -> Iterator[Trace]:
    """Collect what the code inside decides into a fresh `Trace` (nested traces don't
    leak into the outer one)."""
    trace = Trace()
    token = _current.set(trace)
    try:
        yield trace
    finally:
        _current.reset(token)
