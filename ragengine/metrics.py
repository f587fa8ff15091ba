"""The engine's Prometheus figures: counters and histograms recorded where things happen.

Every process (each gunicorn worker, the django-q2 worker, a bot) records into files of
its own under PROMETHEUS_MULTIPROC_DIR (settings set it before prometheus-client loads);
/metrics adds them up (adminsite/metrics.py). Figures computed from the database at
scrape time (queue length, last evaluation scores, the worker's heartbeat) are not here.

Where they are recorded: `record_answer` once per question, when `ask()` has its final
answer; the spending plan for budget refusals, rate limits and money saved by the cache;
the circuit breakers for provider errors and circuit state; ingestion and the task
signals for failures. Recording never raises: a metrics failure must not cost an answer.

Label values are bounded: doors, modes, stages, tier and model names an admin created,
provider names and exception class names.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ragengine.ask_types import Answer

logger = logging.getLogger(__name__)

# Seconds; a stage of a question runs from under a millisecond (a cache hit) to minutes
# (a slow model).
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
CIRCUIT_VALUES = {"closed": 0, "half_open": 1, "open": 2}


@dataclass(frozen=True, slots=True)
class Instruments:
    questions: Any
    stage_seconds: Any
    tokens: Any
    cost: Any
    cache_lookups: Any
    cache_saved: Any
    budget_refusals: Any
    rate_limited: Any
    provider_errors: Any
    circuit_state: Any
    ingested: Any
    task_runs: Any
    task_failures: Any


@lru_cache(maxsize=1)
def instruments() -> Instruments:
    """Created on first use, once per process, registered nowhere: in multiprocess mode
    their values live in files and the scrape's collector reads those."""
    from prometheus_client import Counter, Gauge, Histogram, values

    if getattr(values.ValueClass, "__name__", "") != "MmapedValue":
        logger.warning(
            "metrics are not shared between processes: PROMETHEUS_MULTIPROC_DIR was not set "
            "before prometheus_client was imported"
        )
    kw: dict[str, Any] = {"registry": None}
    return Instruments(
        questions=Counter(
            "arandu_questions", "Questions answered, by door, mode and tier.",
            ["door", "mode", "tier"], **kw,
        ),
        stage_seconds=Histogram(
            "arandu_stage_seconds", "Time per stage of a question (total = the whole question).",
            ["stage"], buckets=STAGE_BUCKETS, **kw,
        ),
        tokens=Counter(
            "arandu_tokens", "Model tokens, by model and direction (in = prompt, out = answer).",
            ["model", "direction"], **kw,
        ),
        cost=Counter(
            "arandu_cost", "Money spent on model calls (the price table's currency), by model.",
            ["model"], **kw,
        ),
        cache_lookups=Counter(
            "arandu_cache_lookups", "Questions that looked in the answer cache, by result.",
            ["result"], **kw,
        ),
        cache_saved=Counter(
            "arandu_cache_saved_cost", "Money a cached answer saved (what generating it cost).",
            **kw,
        ),
        budget_refusals=Counter(
            "arandu_budget_refusals", "Questions refused by a budget or quota, by tier and kind.",
            ["tier", "kind"], **kw,
        ),
        rate_limited=Counter(
            "arandu_rate_limited", "Questions over the tier's rate limit, by tier.",
            ["tier"], **kw,
        ),
        provider_errors=Counter(
            "arandu_provider_errors", "Failed model calls, by provider and error.",
            ["provider", "error"], **kw,
        ),
        circuit_state=Gauge(
            "arandu_provider_circuit_state",
            "Circuit breaker per provider: 0 closed, 1 half-open, 2 open (worst process).",
            ["provider"], multiprocess_mode="livemax", **kw,
        ),
        ingested=Counter(
            "arandu_ingested_documents", "Documents ingested, by outcome (failed included).",
            ["status"], **kw,
        ),
        task_runs=Counter(
            "arandu_tasks", "Background tasks run by the django-q2 worker, by function.",
            ["func", "outcome"], **kw,
        ),
        task_failures=Counter(
            "arandu_task_failures", "Background tasks that failed, by function.",
            ["func"], **kw,
        ),
    )  # fmt: skip


def _safely(record):
    """Recording must never break the work being measured."""

    def wrapper(*args, **kwargs):
        try:
            record(*args, **kwargs)
        except Exception:
            logger.exception("metric not recorded", extra={"metric": record.__name__})

    wrapper.__name__ = record.__name__
    wrapper.__doc__ = record.__doc__
    return wrapper


@_safely
def record_answer(answer: Answer, *, door: str, tier: str) -> None:
    """One question's final answer: its mode, stage timings, tokens, cost and whether
    the cache served it."""
    m = instruments()
    mode = str(answer.mode)
    m.questions.labels(door or "unknown", mode, tier or "none").inc()
    for stage, ms in answer.timings_ms.items():
        m.stage_seconds.labels(stage).observe(max(ms, 0.0) / 1000)
    if answer.model and mode != "cached":
        if answer.tokens_in:
            m.tokens.labels(answer.model, "in").inc(answer.tokens_in)
        if answer.tokens_out:
            m.tokens.labels(answer.model, "out").inc(answer.tokens_out)
        if answer.cost > 0:
            m.cost.labels(answer.model).inc(float(answer.cost))
    if mode == "cached":
        m.cache_lookups.labels("hit").inc()
    elif "cache" in answer.timings_ms:
        m.cache_lookups.labels("miss").inc()


@_safely
def record_question_error(*, door: str, tier: str) -> None:
    """A question that ended in an unexpected error (the door apologises)."""
    instruments().questions.labels(door or "unknown", "error", tier or "none").inc()


@_safely
def record_cache_saved(amount: Decimal) -> None:
    if amount > 0:
        instruments().cache_saved.inc(float(amount))


@_safely
def record_budget_refusal(*, tier: str, kind: str) -> None:
    instruments().budget_refusals.labels(tier or "none", kind).inc()


@_safely
def record_rate_limited(*, tier: str) -> None:
    instruments().rate_limited.labels(tier or "none").inc()


@_safely
def record_provider_error(*, provider: str, error: BaseException) -> None:
    instruments().provider_errors.labels(provider, type(error).__name__).inc()


@_safely
def record_circuit_state(*, provider: str, state: str) -> None:
    instruments().circuit_state.labels(provider).set(CIRCUIT_VALUES.get(state, 0))


@_safely
def record_ingested(counts: Mapping[str, int]) -> None:
    """Documents per outcome of one ingestion (ingested, unchanged, failed, removed)."""
    ingested = instruments().ingested
    for status, count in counts.items():
        if count:
            ingested.labels(status).inc(count)


@_safely
def record_task(*, func: str, success: bool) -> None:
    m = instruments()
    m.task_runs.labels(func, "success" if success else "failure").inc()
    if not success:
        m.task_failures.labels(func).inc()
