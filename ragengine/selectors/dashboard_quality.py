"""Dashboard: what people thought of the answers (feedback). What the latest evaluation
runs measured is `ragengine.evaluation.trend`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime

from django.db.models import Count, QuerySet

from ragengine.models import (
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
