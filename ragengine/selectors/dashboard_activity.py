"""Dashboard: how much Arandu is used (the question history)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db.models import Count, Q

from ragengine.models import QuestionOutcome
from ragengine.selectors.dashboard import DashboardScope, local_day, per_day, questions_in

OUTCOMES = tuple(QuestionOutcome.values)  # generated, extractive, cached, refused, error
EVERY_SET = "(every set)"


@dataclass(frozen=True, slots=True)
class Activity:
    per_outcome: dict[str, list[int]]  # outcome -> one count per day of the scope
    totals: dict[str, int]  # outcome -> count over the period
    questions: int
    people: int
    people_per_day: list[int]
    not_found: int


def activity(*, scope: DashboardScope) -> Activity:
    """Questions per day by outcome, and the distinct people asking."""
    rows = questions_in(scope)
    counts: dict[str, dict] = defaultdict(dict)
    people_by_day = {}
    per_outcome_counts = {o: Count("pk", filter=Q(outcome=o)) for o in OUTCOMES}
    for row in (
        rows.annotate(day=local_day())
        .values("day")
        .annotate(**per_outcome_counts, people=Count("member_id", distinct=True))
        .order_by()
    ):
        for outcome in OUTCOMES:
            counts[outcome][row["day"]] = row[outcome]
        people_by_day[row["day"]] = row["people"]
    per_outcome = {outcome: per_day(scope, counts.get(outcome, {})) for outcome in OUTCOMES}
    totals = {outcome: sum(series) for outcome, series in per_outcome.items()}
    figures = rows.aggregate(
        people=Count("member_id", distinct=True),
        not_found=Count("pk", filter=Q(not_found=True)),
    )
    return Activity(
        per_outcome=per_outcome,
        totals=totals,
        questions=sum(totals.values()),
        people=figures["people"],
        people_per_day=per_day(scope, people_by_day),
        not_found=figures["not_found"],
    )


def top_knowledge_sets(*, scope: DashboardScope, limit: int = 8) -> list[tuple[str, int]]:
    """Knowledge sets by questions asked over them (a question over two sets counts for
    both; an unscoped one for "(every set)"). Grouped by the stored list first: a team
    has few distinct scopes, so this reads a handful of rows however many questions."""
    counter: Counter[str] = Counter()
    for row in questions_in(scope).values("knowledge_sets").annotate(n=Count("pk")).order_by():
        for name in row["knowledge_sets"] or [EVERY_SET]:
            counter[name] += row["n"]
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:limit]
