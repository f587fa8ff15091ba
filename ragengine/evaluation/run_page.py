"""What the run page shows: the benchmark (metrics × targets side by side), the per-tag
breakdown, and the case table with each target's answer, sources and facts found/missed.
A read over the run's rows; for a run in progress the summary is computed on the fly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ragengine.evaluation.progress import RunProgress, run_progress
from ragengine.evaluation.run_end import results_summary
from ragengine.models import EvalResult, EvalRun
from ragengine.services.answer_targets import parse_target

# (key, label, how to read it from a target summary, format, higher is better)
Row = tuple[str, str, Callable[[dict[str, Any]], Any], str]


def _metric(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda s: s.get("metrics", {}).get(name)


def _latency(stage: str, q: str) -> Callable[[dict[str, Any]], Any]:
    return lambda s: s.get("latency_ms", {}).get(stage, {}).get(q)


BENCHMARK_ROWS: tuple[Row, ...] = (
    ("fact_recall", "Fact recall", _metric("fact_recall"), "share"),
    ("hit_at_k", "Hit@k", _metric("hit_at_k"), "share"),
    ("mrr_at_k", "MRR@k", _metric("mrr_at_k"), "share"),
    ("ndcg_at_k", "nDCG@k", _metric("ndcg_at_k"), "share"),
    ("precision_at_k", "Precision@k", _metric("precision_at_k"), "share"),
    ("recall_at_k", "Recall@k", _metric("recall_at_k"), "share"),
    ("citation_precision", "Citation precision", _metric("citation_precision"), "share"),
    ("refusal_accuracy", "Refusal accuracy", _metric("refusal_accuracy"), "share"),
    ("token_f1", "Token F1 (reference answers)", _metric("token_f1"), "share"),
    ("faithfulness", "Judge: faithfulness", _metric("faithfulness"), "share"),
    ("relevance", "Judge: relevance", _metric("relevance"), "share"),
    ("failure_rate", "Failed cases", _metric("failure_rate"), "share"),
    ("latency_p50", "Latency p50", _latency("total", "p50"), "ms"),
    ("latency_p95", "Latency p95", _latency("total", "p95"), "ms"),
    ("generate_p95", "Generation p95", _latency("generate", "p95"), "ms"),
    ("retrieve_p95", "Retrieval p95", _latency("retrieve", "p95"), "ms"),
    ("tokens_in", "Tokens in / case", lambda s: s.get("tokens_in_per_case"), "number"),
    ("tokens_out", "Tokens out / case", lambda s: s.get("tokens_out_per_case"), "number"),
    ("cost_per_case", "Cost / case", lambda s: s.get("cost_per_case"), "money"),
    ("cost", "Cost of the run", lambda s: s.get("cost"), "money"),
    ("modes", "Modes", lambda s: s.get("modes"), "modes"),
)


def fmt(value: Any, kind: str) -> str:
    """A cell as people read it; "—" where a metric did not apply (never NaN)."""
    if isinstance(value, dict) and "value" in value:
        if value["value"] is None:
            return "—"
        shown = fmt(value["value"], kind)
        n, total = value.get("n"), value.get("total")
        return f"{shown} ({n}/{total})" if n is not None and n != total else shown
    if value is None:
        return "—"
    if kind == "share":
        return f"{float(value) * 100:.1f}%"
    if kind == "ms":
        return f"{float(value):,.0f} ms"
    if kind == "money":
        return f"${Decimal(str(value)):.6f}"
    if kind == "modes":
        return ", ".join(f"{mode} {n}" for mode, n in sorted(value.items())) or "—"
    if kind == "number":
        return f"{float(value):,.1f}"
    return str(value)


@dataclass(slots=True)
class TargetColumn:
    spec: str
    label: str
    summary: dict[str, Any]


@dataclass(slots=True)
class CaseCell:
    status: str
    mode: str
    answer: str
    sources: list[dict[str, Any]]
    facts_found: list[str]
    facts_missed: list[str]
    error: str
    metrics: dict[str, Any]
    judge: dict[str, Any]
    failure: bool


@dataclass(slots=True)
class CaseRow:
    position: int
    question: str
    tags: list[str]
    must_refuse: bool
    cells: list[CaseCell | None] = field(default_factory=list)

    @property
    def failure(self) -> bool:
        return any(c is not None and c.failure for c in self.cells)


@dataclass(slots=True)
class RunPage:
    run: EvalRun
    progress: RunProgress
    targets: list[TargetColumn]
    benchmark: list[tuple[str, list[str]]]
    tags: list[tuple[str, list[str]]]
    cases: list[CaseRow]
    failures_only: bool


def result_is_failure(row: EvalResult) -> bool:
    """Worth a look: failed, refused wrongly, a fact missed, or nothing expected found."""
    if row.status != "ok":
        return True
    metrics = row.metrics or {}
    return (
        metrics.get("refusal_accuracy") == 0.0
        or bool(row.facts_missed)
        or metrics.get("hit_at_k") == 0.0
    )


def run_page(*, run: EvalRun, failures_only: bool = False) -> RunPage:
    targets = list(run.targets.order_by("position"))
    summary = run.summary if run.is_finished and run.summary else results_summary(run=run)
    columns = [
        TargetColumn(t.spec, parse_target(t.spec).label, summary["targets"].get(t.spec, {}))
        for t in targets
    ]
    benchmark = [
        (label, [fmt(read(c.summary), kind) for c in columns])
        for _, label, read, kind in BENCHMARK_ROWS
        if any(_present(read(c.summary)) for c in columns)
    ]
    tag_names = sorted({tag for t in targets for tag in summary["tags"].get(t.spec, {})})
    tags = []
    for tag in tag_names:
        cells = []
        for t in targets:
            data = summary["tags"].get(t.spec, {}).get(tag)
            cells.append(
                "—"
                if not data
                else f"{data['cases']} cases · facts {fmt(data['fact_recall'], 'share')} · "
                f"hit {fmt(data['hit_at_k'], 'share')} · refusal "
                f"{fmt(data['refusal_accuracy'], 'share')}"
                + (f" · {data['failed']} failed" if data["failed"] else "")
            )
        tags.append((tag, cells))
    return RunPage(
        run=run,
        progress=run_progress(run=run),
        targets=columns,
        benchmark=benchmark,
        tags=tags,
        cases=_cases(run, targets, failures_only),
        failures_only=failures_only,
    )


def _present(value: Any) -> bool:
    if isinstance(value, dict) and "value" in value:
        return value["value"] is not None
    return value not in (None, {}, "")


def _cases(run: EvalRun, targets: list, failures_only: bool) -> list[CaseRow]:
    column = {t.pk: i for i, t in enumerate(targets)}
    rows: dict[tuple[int, str], CaseRow] = {}
    for result in EvalResult.objects.filter(run=run).order_by("position", "pk"):
        key = (result.position, result.question)
        row = rows.get(key)
        if row is None:
            row = rows[key] = CaseRow(
                result.position, result.question, result.tags, result.must_refuse
            )
            row.cells = [None] * len(targets)
        row.cells[column[result.target_id]] = CaseCell(
            status=result.status,
            mode=result.mode,
            answer=result.answer,
            sources=result.sources,
            facts_found=result.facts_found,
            facts_missed=result.facts_missed,
            error=result.error,
            metrics={k: fmt(v, "share") for k, v in (result.metrics or {}).items()},
            judge=result.judge,
            failure=result_is_failure(result),
        )
    cases = list(rows.values())
    return [c for c in cases if c.failure] if failures_only else cases
