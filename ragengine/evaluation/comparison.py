"""Comparing runs: per metric and per case, improved / regressed / unchanged, with a
regression threshold per metric (the set's `thresholds` over the defaults below); and drift
against a pinned baseline run: the latency distribution by a two-sample
Kolmogorov–Smirnov test, plus the quality metrics by their thresholds.

Targets are matched by spec (`model:openai:gpt-4o-mini` in both runs), cases by case
(or by question when the case was deleted since).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ragengine.evaluation.metrics import compare_metric, ks_drift
from ragengine.models import EvalResult, EvalRun

# metric → (default regression threshold, higher is better)
COMPARED_METRICS: dict[str, tuple[float, bool]] = {
    "fact_recall": (0.05, True),
    "hit_at_k": (0.05, True),
    "mrr_at_k": (0.05, True),
    "ndcg_at_k": (0.05, True),
    "citation_precision": (0.05, True),
    "refusal_accuracy": (0.05, True),
    "token_f1": (0.05, True),
    "faithfulness": (0.1, True),
    "relevance": (0.1, True),
    "failure_rate": (0.02, False),
    "latency_p95_ms": (500.0, False),
    "cost_per_case": (0.001, False),
}
KS_ALPHA = 0.01  # a latency distribution drifted when p < this


def thresholds_for(run: EvalRun) -> dict[str, float]:
    custom = run.eval_set.thresholds if isinstance(run.eval_set.thresholds, dict) else {}
    return {
        name: float(custom.get(name, default)) for name, (default, _) in COMPARED_METRICS.items()
    }


def summary_value(target: dict[str, Any], metric: str) -> float | None:
    """One comparable number of a target summary (summary.py)."""
    if metric == "latency_p95_ms":
        return target.get("latency_ms", {}).get("total", {}).get("p95")
    if metric == "cost_per_case":
        value = target.get("cost_per_case")
        return float(value) if value is not None else None
    return target.get("metrics", {}).get(metric, {}).get("value")


def metric_changes(
    before: dict[str, Any], after: dict[str, Any], thresholds: dict[str, float]
) -> list[dict[str, Any]]:
    changes = []
    for metric, (_, higher) in COMPARED_METRICS.items():
        change = compare_metric(
            metric=metric,
            before=summary_value(before, metric),
            after=summary_value(after, metric),
            threshold=thresholds[metric],
            higher_is_better=higher,
        )
        if change.before is None and change.after is None:
            continue
        changes.append(asdict(change) | {"threshold": thresholds[metric]})
    return changes


def summary_comparison(*, before: EvalRun, after: EvalRun) -> dict[str, Any]:
    """Per shared target, every metric's change (stored in the later run's summary)."""
    thresholds = thresholds_for(after)
    targets = {}
    for spec, summary in after.summary.get("targets", {}).items():
        old = before.summary.get("targets", {}).get(spec)
        if old:
            targets[spec] = metric_changes(old, summary, thresholds)
    regressions = [
        {"target": spec, **c}
        for spec, cs in targets.items()
        for c in cs
        if c["verdict"] == "regressed"
    ]
    return {
        "against": before.pk,
        "targets": targets,
        "regressions": regressions,
        "flagged": bool(regressions),
    }


def _latencies(run: EvalRun, spec: str) -> list[float]:
    rows = EvalResult.objects.filter(run=run, target__spec=spec, status="ok")
    return [float(t["total"]) for t in rows.values_list("timings_ms", flat=True) if "total" in t]


def drift_report(*, baseline: EvalRun, run: EvalRun) -> dict[str, Any]:
    """Latency (KS test) and quality (thresholds) of `run` against the pinned baseline."""
    thresholds = thresholds_for(run)
    targets = {}
    for spec, summary in run.summary.get("targets", {}).items():
        old = baseline.summary.get("targets", {}).get(spec)
        if not old:
            continue
        latency = ks_drift(_latencies(baseline, spec), _latencies(run, spec), alpha=KS_ALPHA)
        quality = [
            c for c in metric_changes(old, summary, thresholds) if c["metric"] != "latency_p95_ms"
        ]
        regressed = [c for c in quality if c["verdict"] == "regressed"]
        targets[spec] = {
            "latency": asdict(latency),
            "metrics": quality,
            "drifted": latency.drifted or bool(regressed),
        }
    return {
        "baseline": baseline.pk,
        "targets": targets,
        "drifted": any(t["drifted"] for t in targets.values()),
    }


# --- the compare page ---------------------------------------------------------------------


@dataclass(slots=True)
class CaseChange:
    question: str
    target: str
    verdict: str  # improved | regressed | unchanged | new | gone
    before: str
    after: str


def _case_state(row: EvalResult | None) -> tuple[int, float, float, float] | None:
    """What a case got right, ordered so that a bigger tuple is better."""
    if row is None:
        return None
    metrics = row.metrics or {}
    return (
        int(row.status == "ok"),
        float(metrics.get("refusal_accuracy") or 0.0),
        float(metrics.get("fact_recall") or 0.0),
        float(metrics.get("hit_at_k") or 0.0),
    )


def _describe(row: EvalResult | None) -> str:
    if row is None:
        return "not asked"
    if row.status != "ok":
        return f"failed: {row.error[:80]}"
    found, missed = len(row.facts_found), len(row.facts_missed)
    facts = f"facts {found}/{found + missed}" if found + missed else "no facts expected"
    refusal = "refusal right" if (row.metrics or {}).get("refusal_accuracy") else "refusal wrong"
    return f"{row.mode}, {facts}, {refusal}"


def case_changes(*, before: EvalRun, after: EvalRun) -> list[CaseChange]:
    def key(row: EvalResult) -> tuple[str, str]:
        return (row.target.spec, f"case:{row.case_id}" if row.case_id else f"q:{row.question}")

    old = {key(r): r for r in EvalResult.objects.filter(run=before).select_related("target")}
    new = {key(r): r for r in EvalResult.objects.filter(run=after).select_related("target")}
    shared_targets = {spec for spec, _ in old} & {spec for spec, _ in new}
    changes = []
    for k in sorted(set(old) | set(new), key=lambda k: (k[0], (new.get(k) or old[k]).position)):
        if k[0] not in shared_targets:
            continue
        a, b = old.get(k), new.get(k)
        sa, sb = _case_state(a), _case_state(b)
        if sa is None:
            verdict = "new"
        elif sb is None:
            verdict = "gone"
        else:
            verdict = "improved" if sb > sa else "regressed" if sb < sa else "unchanged"
        changes.append(CaseChange((b or a).question, k[0], verdict, _describe(a), _describe(b)))
    return changes
