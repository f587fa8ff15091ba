"""The short report of a finished run that the doors post (Slack, Discord, e-mail): the
headline scores per target, the change since the last run, regressions and drift called
out, and a link to the run page. Plain data: each door formats it its own way."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.urls import reverse

from ragengine.evaluation.run_page import fmt
from ragengine.evaluation.summary import headline
from ragengine.models import EvalRun
from ragengine.services.answer_targets import parse_target

HEADLINES = (
    ("fact_recall", "Facts", "share"),
    ("hit_at_k", "Hit@k", "share"),
    ("refusal_accuracy", "Refusal", "share"),
    ("failure_rate", "Failed", "share"),
    ("latency_p95_ms", "p95", "ms"),
)


@dataclass(frozen=True, slots=True)
class Score:
    label: str
    value: str
    change: str = ""  # "+3.0 pts", "-120 ms", "" when unchanged or not comparable
    verdict: str = ""


@dataclass(frozen=True, slots=True)
class TargetLine:
    label: str
    scores: tuple[Score, ...]
    cost: str
    cases: int


@dataclass(frozen=True, slots=True)
class RunReport:
    run_id: int
    eval_set: str
    status: str
    title: str
    url: str
    targets: tuple[TargetLine, ...]
    against: int | None = None
    regressions: tuple[str, ...] = field(default_factory=tuple)
    drift: tuple[str, ...] = field(default_factory=tuple)
    error: str = ""

    @property
    def flagged(self) -> bool:
        return bool(self.regressions or self.drift or self.status != "done")


def run_url(run: EvalRun) -> str:
    return settings.ARANDU_PUBLIC_URL + reverse("admin:ragengine_evalrun_change", args=[run.pk])


def _change(metric: str, kind: str, change: dict | None) -> tuple[str, str]:
    if not change or change.get("verdict") in (None, "not comparable"):
        return "", ""
    delta = change["after"] - change["before"]
    if abs(delta) < 1e-9:
        return "", change["verdict"]
    text = f"{delta * 100:+.1f} pts" if kind == "share" else f"{delta:+,.0f} ms"
    return text, change["verdict"]


def run_report(*, run: EvalRun) -> RunReport:
    summary = run.summary or {}
    comparison = summary.get("comparison") or {}
    lines = []
    for spec, target in summary.get("targets", {}).items():
        numbers = headline(target)
        changes = {c["metric"]: c for c in comparison.get("targets", {}).get(spec, [])}
        scores = []
        for metric, label, kind in HEADLINES:
            text, verdict = _change(metric, kind, changes.get(metric))
            scores.append(Score(label, fmt(numbers[metric], kind), text, verdict))
        lines.append(
            TargetLine(
                label=parse_target(spec).label,
                scores=tuple(scores),
                cost=fmt(target.get("cost"), "money"),
                cases=target.get("cases", 0),
            )
        )
    regressions = tuple(
        f"{parse_target(r['target']).label}: {r['metric']} {r['before']:.3g} → {r['after']:.3g}"
        for r in comparison.get("regressions", [])
    )
    drift = []
    for spec, data in (summary.get("drift") or {}).get("targets", {}).items():
        if not data.get("drifted"):
            continue
        label = parse_target(spec).label
        latency = data.get("latency", {})
        if latency.get("drifted"):
            drift.append(f"{label}: latency distribution changed (KS p = {latency['p_value']:.3g})")
        for change in data.get("metrics", []):
            if change["verdict"] == "regressed":
                drift.append(
                    f"{label}: {change['metric']} {change['before']:.3g} → {change['after']:.3g} "
                    "since the baseline"
                )
    status = {"done": "finished", "failed": "failed", "cancelled": "was cancelled"}.get(
        run.status, run.status
    )
    return RunReport(
        run_id=run.pk,
        eval_set=run.eval_set.name,
        status=run.status,
        title=f"Evaluation of {run.eval_set.name}: run {run.pk} {status}",
        url=run_url(run),
        targets=tuple(lines),
        against=comparison.get("against"),
        regressions=regressions,
        drift=tuple(drift),
        error=run.error,
    )
