"""The admin dashboard's evaluation card: the latest finished runs' headline scores and
their trend. Evaluation is measured on test sets, not on people's questions, so no
dashboard filter applies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ragengine.evaluation.summary import headline
from ragengine.models import EvalRun, EvalRunStatus

TREND_RUNS = 12
TREND_METRICS = ("fact_recall", "hit_at_k", "refusal_accuracy")


@dataclass(frozen=True, slots=True)
class EvalPoint:
    run_id: int
    eval_set: str
    finished_at: datetime | None
    target: str
    flagged: bool
    scores: dict[str, float | None]  # TREND_METRICS -> value (0-1) or None


def evaluation_trend(*, limit: int = TREND_RUNS) -> list[EvalPoint]:
    """The latest finished runs, oldest first: each run's first target's headline scores
    (fact recall, hit@k, refusal accuracy). Not filtered by the scope: evaluation is
    measured on test sets, not on people's questions."""
    runs = list(
        EvalRun.objects.filter(status=EvalRunStatus.DONE)
        .select_related("eval_set")
        .prefetch_related("targets")
        .order_by("-finished_at", "-pk")[:limit]
    )
    points = []
    for run in reversed(runs):
        targets = sorted(run.targets.all(), key=lambda t: (t.position, t.pk))
        spec = targets[0].spec if targets else ""
        summary = (run.summary or {}).get("targets", {}).get(spec, {})
        scores = headline(summary) if summary else {}
        points.append(
            EvalPoint(
                run_id=run.pk,
                eval_set=run.eval_set.name,
                finished_at=run.finished_at,
                target=spec,
                flagged=run.flagged,
                scores={m: scores.get(m) for m in TREND_METRICS},
            )
        )
    return points


def evaluation_latest(*, points: list[EvalPoint]) -> dict:
    """The latest run's targets and their headline scores, for a small table."""
    if not points:
        return {}
    run = EvalRun.objects.prefetch_related("targets").get(pk=points[-1].run_id)
    targets = sorted(run.targets.all(), key=lambda t: (t.position, t.pk))
    summaries = (run.summary or {}).get("targets", {})
    return {
        "run": run,
        "rows": [
            {"target": t.spec, **headline(summaries.get(t.spec, {}))}
            for t in targets
            if t.spec in summaries
        ],
    }
