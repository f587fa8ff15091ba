"""A model card per target, generated from its finished runs: what it was evaluated on,
its scores, latency, cost per 1000 questions and the tags it fails on; as Markdown."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from ragengine.evaluation.run_page import fmt
from ragengine.models import EvalResult, EvalRun
from ragengine.services.answer_targets import parse_target

SCORES = (
    ("fact_recall", "Fact recall"),
    ("hit_at_k", "Hit@k"),
    ("mrr_at_k", "MRR@k"),
    ("citation_precision", "Citation precision"),
    ("refusal_accuracy", "Refusal accuracy"),
    ("token_f1", "Token F1"),
    ("faithfulness", "Judge: faithfulness"),
    ("relevance", "Judge: relevance"),
    ("failure_rate", "Failed cases"),
)
# A tag is a known failure when its cases fail, miss facts or refuse wrongly this often.
WEAK_TAG_BELOW = 0.75


@dataclass(slots=True)
class SetEvaluation:
    eval_set: str
    run_id: int
    finished: str
    cases: int
    languages: list[str]
    scores: list[tuple[str, str]]
    latency_p50: str
    latency_p95: str
    cost_per_1000: str
    weak_tags: list[str]


@dataclass(slots=True)
class ModelCard:
    spec: str
    label: str
    runs: int
    evaluations: list[SetEvaluation] = field(default_factory=list)

    def to_markdown(self) -> str:
        lines = [
            f"# Model card: {self.label}",
            "",
            f"Target `{self.spec}`, generated {timezone.now():%Y-%m-%d %H:%M %Z} from "
            f"{self.runs} finished evaluation run(s).",
            "",
        ]
        if not self.evaluations:
            return "\n".join([*lines, "No finished run has evaluated this target yet.", ""])
        lines += [
            "## Evaluated on",
            "",
            "| Set | Latest run | Finished | Cases | Languages |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {e.eval_set} | {e.run_id} | {e.finished} | {e.cases} | {', '.join(e.languages)} |"
            for e in self.evaluations
        ]
        lines += [
            "",
            "## Scores",
            "",
            "| Metric | " + " | ".join(e.eval_set for e in self.evaluations) + " |",
        ]
        lines.append("|---|" + "---|" * len(self.evaluations))
        for index, (_, label) in enumerate(SCORES):
            lines.append(
                f"| {label} | " + " | ".join(e.scores[index][1] for e in self.evaluations) + " |"
            )
        lines += ["", "## Latency and cost", "", "| Set | p50 | p95 | Cost per 1000 questions |"]
        lines.append("|---|---|---|---|")
        lines += [
            f"| {e.eval_set} | {e.latency_p50} | {e.latency_p95} | {e.cost_per_1000} |"
            for e in self.evaluations
        ]
        lines += ["", "## Known failure tags", ""]
        for e in self.evaluations:
            weak = ", ".join(e.weak_tags) if e.weak_tags else "none"
            lines.append(f"- {e.eval_set}: {weak}")
        lines += [
            "",
            f"Tags are listed when their fact recall, hit@k or refusal accuracy is under "
            f"{WEAK_TAG_BELOW:.0%} or any of their cases failed.",
            "",
        ]
        return "\n".join(lines)


def model_card(*, spec: str) -> ModelCard:
    """The card of `spec` from the latest finished run of each set that evaluated it."""
    target = parse_target(spec)
    runs = list(
        EvalRun.objects.filter(status="done", targets__spec=target.spec)
        .select_related("eval_set")
        .order_by("-finished_at", "-pk")
        .distinct()
    )
    card = ModelCard(spec=target.spec, label=target.label, runs=len(runs))
    latest: dict[int, EvalRun] = {}
    for run in runs:
        latest.setdefault(run.eval_set_id, run)
    for run in sorted(latest.values(), key=lambda r: r.eval_set.name):
        summary = run.summary.get("targets", {}).get(target.spec, {})
        tags = run.summary.get("tags", {}).get(target.spec, {})
        languages = sorted(
            {
                lang or "?"
                for lang in EvalResult.objects.filter(run=run, target__spec=target.spec)
                .values_list("language", flat=True)
                .distinct()
            }
        )
        cost_per_case = summary.get("cost_per_case")
        latency = summary.get("latency_ms", {}).get("total", {})
        card.evaluations.append(
            SetEvaluation(
                eval_set=run.eval_set.name,
                run_id=run.pk,
                finished=f"{run.finished_at:%Y-%m-%d}" if run.finished_at else "—",
                cases=summary.get("cases", 0),
                languages=languages,
                scores=[
                    (label, fmt(summary.get("metrics", {}).get(k), "share")) for k, label in SCORES
                ],
                latency_p50=fmt(latency.get("p50"), "ms"),
                latency_p95=fmt(latency.get("p95"), "ms"),
                cost_per_1000=fmt(Decimal(cost_per_case) * 1000, "money")
                if cost_per_case is not None
                else "—",
                weak_tags=[tag for tag, data in tags.items() if _weak(data)],
            )
        )
    return card


def _weak(tag: dict) -> bool:
    if tag.get("failed"):
        return True
    return any(
        (tag.get(m) or {}).get("value") is not None and tag[m]["value"] < WEAK_TAG_BELOW
        for m in ("fact_recall", "hit_at_k", "refusal_accuracy")
    )
