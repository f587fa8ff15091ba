"""Dashboard: what people thought of the answers (feedback) and what the latest
evaluation runs measured."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime

from django.db.models import Count, QuerySet

from ragengine.evaluation.summary import headline
from ragengine.models import (
    EvalRun,
    EvalRunStatus,
    Feedback,
    FeedbackValue,
    QuestionRecord,
    UsageRecord,
)
from ragengine.selectors.dashboard import (
    ROW_GAP,
    TEST_DOORS,
    TESTS,
    DashboardScope,
    local_day,
    per_day,
    questions_in,
)

TREND_RUNS = 12
TREND_METRICS = ("fact_recall", "hit_at_k", "refusal_accuracy")


def feedback_in(scope: DashboardScope) -> QuerySet[Feedback]:
    rows = Feedback.objects.filter(created_at__gte=scope.start, created_at__lt=scope.end)
    if scope.door == TESTS:
        rows = rows.filter(platform__in=TEST_DOORS)
    elif scope.door:
        rows = rows.filter(platform=scope.door)
    else:
        rows = rows.exclude(platform__in=TEST_DOORS)
    if scope.tier_id:
        ledger = UsageRecord.objects.filter(
            tier_id=scope.tier_id, created_at__gte=scope.start - ROW_GAP, created_at__lt=scope.end
        )
        rows = rows.filter(request_id__in=ledger.values("request_id"))
    if scope.knowledge_set:
        rows = rows.filter(request_id__in=questions_in(_widened(scope)).values("request_id"))
    return rows


def _widened(scope: DashboardScope) -> DashboardScope:
    """Feedback comes after its answer: look for the question a while before the period."""
    return replace(scope, start=scope.start - ROW_GAP, door="", tier_id=None)


@dataclass(frozen=True, slots=True)
class FeedbackFigures:
    up_per_day: list[int]
    down_per_day: list[int]
    up: int
    down: int

    @property
    def ratio(self) -> float | None:
        """Share of 👍 among votes; None when nobody voted."""
        votes = self.up + self.down
        return self.up / votes if votes else None

    def ratio_per_day(self) -> list[float | None]:
        return [
            u / (u + d) if u + d else None
            for u, d in zip(self.up_per_day, self.down_per_day, strict=True)
        ]


def feedback_figures(*, scope: DashboardScope) -> FeedbackFigures:
    counts: dict[int, dict[date, int]] = defaultdict(dict)
    for row in (
        feedback_in(scope)
        .annotate(day=local_day())
        .values("day", "value")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        counts[row["value"]][row["day"]] = row["n"]
    up = per_day(scope, counts.get(FeedbackValue.UP, {}))
    down = per_day(scope, counts.get(FeedbackValue.DOWN, {}))
    return FeedbackFigures(up_per_day=up, down_per_day=down, up=sum(up), down=sum(down))


@dataclass(frozen=True, slots=True)
class Comment:
    created_at: datetime
    member: str
    value: int
    comment: str
    question: str
    request_id: str


def latest_comments(*, scope: DashboardScope, limit: int = 8) -> list[Comment]:
    """The latest feedback with a comment, with the question it was about (when the
    history still keeps its text)."""
    rows = list(
        feedback_in(scope)
        .exclude(comment="")
        .select_related("member")
        .order_by("-created_at", "-pk")[:limit]
    )
    questions = dict(
        QuestionRecord.objects.filter(request_id__in=[r.request_id for r in rows]).values_list(
            "request_id", "question"
        )
    )
    return [
        Comment(
            created_at=r.created_at,
            member=r.member.display_name,
            value=r.value,
            comment=r.comment,
            question=questions.get(r.request_id, ""),
            request_id=r.request_id,
        )
        for r in rows
    ]


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
