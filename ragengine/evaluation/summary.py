"""Aggregates of a run: per target (the model benchmark) and per tag, from its result rows.

Pure over the rows (no queries), so the same code summarises a finished run, a run still
in progress, and a run a dead worker left half done. Quality metrics are means over the
answered cases where they apply (`n` of `total`), never NaN; failed cases count in
`failed` and `failure_rate` instead of dragging every metric to zero or hiding.
Money is carried as strings (Decimal) so JSON keeps every digit.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Protocol

from ragengine.evaluation.metrics import mean_of, percentile
from ragengine.evaluation.scoring import ANSWER_METRICS, JUDGE_METRICS, RETRIEVAL_METRICS

QUALITY_METRICS = (*RETRIEVAL_METRICS, *ANSWER_METRICS)
MODES = ("generated", "extractive", "refused", "fallback", "cached", "error")
# Stages ask() times (services/timing.py); "total" is the whole question.
STAGES = ("total", "validate", "budget", "cache", "embed", "retrieve", "generate")
_TAG_METRICS = ("fact_recall", "hit_at_k", "refusal_accuracy", "citation_precision")


class ResultLike(Protocol):
    status: str
    mode: str
    tags: list[str]
    metrics: dict[str, float | None]
    judge: dict[str, Any]
    tokens_in: int
    tokens_out: int
    cost: Decimal
    timings_ms: dict[str, float]


def _metric(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _aggregate(values: Iterable[float | None]) -> dict[str, Any]:
    agg = mean_of(values)
    return {"value": agg.value, "n": agg.n, "total": agg.total}


def target_summary(rows: Sequence[ResultLike]) -> dict[str, Any]:
    """Quality, modes, latency, tokens and cost of one target's rows."""
    answered = [r for r in rows if r.status == "ok"]
    metrics = {
        name: _aggregate(_metric(r.metrics.get(name)) for r in answered) for name in QUALITY_METRICS
    }
    for name in JUDGE_METRICS:
        metrics[name] = _aggregate(_metric((r.judge or {}).get(name)) for r in answered)
    judged = sum(1 for r in answered if (r.judge or {}).get("judged"))
    failed = len(rows) - len(answered)
    metrics["failure_rate"] = {
        "value": failed / len(rows) if rows else None,
        "n": len(rows),
        "total": len(rows),
    }
    latency: dict[str, dict[str, float | None]] = {}
    for stage in STAGES:
        values = [float(r.timings_ms[stage]) for r in answered if stage in (r.timings_ms or {})]
        if values:
            latency[stage] = {"p50": percentile(values, 50), "p95": percentile(values, 95)}
    cost = sum((Decimal(r.cost) for r in rows), Decimal("0"))
    tokens_in = sum(r.tokens_in for r in rows)
    tokens_out = sum(r.tokens_out for r in rows)
    return {
        "cases": len(rows),
        "answered": len(answered),
        "failed": failed,
        "judged": judged,
        "metrics": metrics,
        "modes": {mode: n for mode, n in Counter(r.mode or "error" for r in rows).items()},
        "latency_ms": latency,
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "tokens_in_per_case": tokens_in / len(rows) if rows else None,
        "tokens_out_per_case": tokens_out / len(rows) if rows else None,
        "cost": str(cost),
        "cost_per_case": str(cost / len(rows)) if rows else None,
    }


def tag_summary(rows: Sequence[ResultLike]) -> dict[str, dict[str, Any]]:
    """Per tag (plus "(untagged)"): cases, failures and the main quality metrics."""
    by_tag: dict[str, list[ResultLike]] = defaultdict(list)
    for row in rows:
        for tag in row.tags or ["(untagged)"]:
            by_tag[tag].append(row)
    summary = {}
    for tag in sorted(by_tag):
        tagged = by_tag[tag]
        answered = [r for r in tagged if r.status == "ok"]
        summary[tag] = {
            "cases": len(tagged),
            "failed": len(tagged) - len(answered),
            **{
                name: _aggregate(_metric(r.metrics.get(name)) for r in answered)
                for name in _TAG_METRICS
            },
        }
    return summary


def run_summary(rows_by_target: dict[str, Sequence[ResultLike]]) -> dict[str, Any]:
    """{"targets": {label: target summary}, "tags": {label: tag summary}}."""
    return {
        "targets": {label: target_summary(rows) for label, rows in rows_by_target.items()},
        "tags": {label: tag_summary(rows) for label, rows in rows_by_target.items()},
    }


def headline(summary: dict[str, Any]) -> dict[str, float | None]:
    """The few numbers a report leads with, per metric: the mean over one target's rows."""
    metrics = summary.get("metrics", {})
    latency = summary.get("latency_ms", {}).get("total", {})
    return {
        "fact_recall": metrics.get("fact_recall", {}).get("value"),
        "hit_at_k": metrics.get("hit_at_k", {}).get("value"),
        "refusal_accuracy": metrics.get("refusal_accuracy", {}).get("value"),
        "failure_rate": metrics.get("failure_rate", {}).get("value"),
        "latency_p95_ms": latency.get("p95"),
    }
