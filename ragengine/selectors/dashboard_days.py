"""Dashboard: one day's figures per view, read from the daily rollups or computed from
the day's rows.

A closed day (it ended at least `ROW_GAP` ago, so every history row of its questions is
written) is computed once and kept in `DashboardDay` (`services.dashboard_rollups` stores
it); a day still open, or a closed one not rolled up yet, is computed here from its rows
with the same function, so both paths give the same figures. A view is the scope's one
filter: "" (people's doors), "door:<door>", "tier:<id>" or "set:<name>"; a scope with
two filters or more has no view (the selectors read it live).

Latencies: each day keeps its exact p50 and p95 per stage (the per-day chart, and any
one-day period), and a histogram per stage (buckets `RATIO` wide, each with its count
and its values' sum): period-wide percentiles can't be merged from daily ones, histograms
can. A percentile read from them takes its bucket's mean, within `RATIO_ERROR` of the
exact value (exact when the bucket holds one distinct value).
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache

from django.db.models import TextField
from django.db.models.functions import Cast

from ragengine.models import DashboardDay, QuestionRecord, UsageRecord, UsageStatus
from ragengine.selectors.dashboard import (
    ANSWERED_MODES,
    PEOPLE_DOORS,
    ROW_GAP,
    TEST_DOORS,
    TESTS,
    DashboardScope,
    zone,
)
from ragengine.selectors.dashboard_speed import STAGES, percentile

PEOPLE = ""
RATIO = 1.02
RATIO_ERROR = RATIO - 1  # the most a bucket's mean is off any value in it (2 %)
ZERO_BUCKET = "z"


def view_of(scope: DashboardScope) -> str | None:
    """The rolled-up view that answers the scope's filter; None for a combination."""
    if sum(1 for f in (scope.door, scope.tier_id, scope.knowledge_set) if f) > 1:
        return None
    if scope.door:
        return f"door:{scope.door}"
    if scope.tier_id:
        return f"tier:{scope.tier_id}"
    if scope.knowledge_set:
        return f"set:{scope.knowledge_set}"
    return PEOPLE


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=zone())
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone())


def is_closed(day: date, *, now: datetime) -> bool:
    """A day's figures can't change any more once it ended and its last questions'
    history rows are written (a late settle or a deletion invalidates it all the same)."""
    return day_bounds(day)[1] + ROW_GAP <= now


def ledger_door(channel: str) -> str:
    """The door a ledger row's channel ("slack:C1") belongs to, as the filters match it."""
    return channel.split(":", 1)[0] if ":" in channel else ""


def _views(door: str, tier_ids, sets) -> list[str]:
    if door in TEST_DOORS:
        return [f"door:{TESTS}"]
    views = [PEOPLE, *(f"tier:{t}" for t in tier_ids if t), *(f"set:{s}" for s in sets)]
    if door in PEOPLE_DOORS:
        views.append(f"door:{door}")
    return views


def bucket(value: float) -> str:
    return ZERO_BUCKET if value <= 0 else str(math.floor(math.log(value, RATIO)))


class _Figures:
    """One view's figures of one day, as they accumulate."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.not_found = 0
        self.askers: set[int] = set()
        self.sets: Counter[str] = Counter()
        self.spend: dict[str, list] = defaultdict(lambda: [Decimal(0), Decimal(0), 0, 0])
        self.members: dict[int, list] = defaultdict(lambda: [Decimal(0), 0])
        self.providers: Counter[str] = Counter()
        self.latency: dict[str, list[float]] = defaultdict(list)

    def as_json(self) -> dict:
        return {
            "outcomes": dict(self.outcomes),
            "not_found": self.not_found,
            "askers": sorted(self.askers),
            "sets": dict(self.sets),
            "spend": {k: [str(c), str(s), a, h] for k, (c, s, a, h) in self.spend.items()},
            # three parallel lists, costs in 1e-8 units (the ledger's scale): exact and
            # several times faster to read back than a dict of decimal strings
            "members": [
                list(self.members),
                [int(c.scaleb(8)) for c, _ in self.members.values()],
                [n for _, n in self.members.values()],
            ],
            "providers": dict(self.providers),
            "latency": {stage: histogram(v) for stage, v in self.latency.items()},
            "daily": {
                stage: [percentile(v, 0.5), percentile(v, 0.95)]
                for stage, v in self.latency.items()
            },
        }


def histogram(values: list[float]) -> dict[str, list]:
    """{bucket: [count, sum of its values]}."""
    buckets: dict[str, list] = {}
    for value in values:
        entry = buckets.setdefault(bucket(value), [0, 0.0])
        entry[0] += 1
        entry[1] += value
    return buckets


def spend_key(label: str, tier_id: int | None) -> str:
    return f"{tier_id or ''}|{label}"


def day_figures(day: date, *, only: str | None = None) -> dict[str, dict]:
    """Every view's figures for `day` (or `only` that view's), from its rows: the
    questions asked that day and the ledger rows settled that day (what `questions_in`
    and `ledger_in` read)."""
    start, end = day_bounds(day)
    tiers: dict[str, set] = defaultdict(set)
    for request_id, tier_id in UsageRecord.objects.filter(
        created_at__gte=start - ROW_GAP, created_at__lt=end
    ).values_list("request_id", "tier_id"):
        tiers[request_id].add(tier_id)
    sets_of: dict[str, set] = defaultdict(set)
    views: dict[str, _Figures] = defaultdict(_Figures)
    views[PEOPLE] = _Figures()  # the day's marker, even when empty
    for request_id, member_id, door, sets, outcome, not_found, created_at in (
        QuestionRecord.objects.filter(created_at__gte=start, created_at__lt=end + ROW_GAP)
        .order_by()
        .annotate(sets_text=Cast("knowledge_sets", TextField()))
        .values_list(
            "request_id", "member_id", "door", "sets_text", "outcome", "not_found",
            "created_at",
        )
    ):  # fmt: skip
        names = _sets(sets)  # a team has few distinct scopes: each decoded once
        sets_of[request_id].update(n for n in names if isinstance(n, str))
        if created_at >= end:
            continue  # a later day's question, read only for its ledger row's sets
        for view in _views(door, tiers.get(request_id, ()), dict.fromkeys(names)):
            if only is not None and view != only:
                continue
            figures = views[view]
            figures.outcomes[outcome] += 1
            figures.not_found += bool(not_found)
            if member_id is not None:
                figures.askers.add(member_id)
            figures.sets[_sets_key(names)] += 1
    for row in (
        UsageRecord.objects.filter(
            created_at__gte=start, created_at__lt=end, status=UsageStatus.SETTLED
        )
        .order_by()
        .values_list(
            "request_id", "member_id", "tier_id", "channel", "mode", "provider", "model",
            "cost", "cost_saved", "latencies_ms",
        )
    ):  # fmt: skip
        request_id, member_id, tier_id, channel, mode, provider, model, cost, saved, timings = row
        for view in _views(ledger_door(channel), (tier_id,), sorted(sets_of.get(request_id, ()))):
            if only is not None and view != only:
                continue
            _add_ledger(
                views[view], member_id, tier_id, mode, provider, model, cost, saved, timings
            )
    result = {view: figures.as_json() for view, figures in views.items()}
    result[PEOPLE]["zone"] = str(zone())  # days of another ARANDU_TIME_ZONE don't count
    return result


def rolled_days(days: list[date]) -> set[date]:
    """Which of `days` have a rollup, computed in today's ARANDU_TIME_ZONE."""
    return set(
        DashboardDay.objects.filter(
            day__in=days, view=PEOPLE, figures__zone=str(zone())
        ).values_list("day", flat=True)
    )


@lru_cache(maxsize=1024)
def _sets_of(text: str | None) -> tuple:
    try:
        value = json.loads(text) if text else []
    except ValueError:
        value = []
    return tuple(value) if isinstance(value, list) else ()


def _sets(text: str | None) -> list:
    return list(_sets_of(text))


def _sets_key(names: list) -> str:
    return json.dumps(names)


def _add_ledger(figures, member_id, tier_id, mode, provider, model, cost, saved, timings):
    group = figures.spend[spend_key(f"{provider}:{model}", tier_id)]
    group[0] += cost
    group[1] += saved
    group[2] += mode in ANSWERED_MODES
    group[3] += mode == "cached"
    person = figures.members[member_id]
    person[0] += cost
    person[1] += 1
    if provider:
        figures.providers[provider] += 1
    for stage, value in (timings or {}).items():
        if stage in STAGES and isinstance(value, int | float) and not isinstance(value, bool):
            figures.latency[stage].append(float(value))


def figures_by_day(*, scope: DashboardScope, view: str) -> dict[date, dict]:
    """`view`'s figures for each day of the scope: stored for closed days rolled up,
    computed from the rows for the others (not stored: that is the service's job)."""
    closed = [d for d in scope.days if is_closed(d, now=scope.now)]
    rolled = rolled_days(closed)
    stored = dict(
        DashboardDay.objects.filter(day__in=rolled, view=view).values_list("day", "figures")
    )
    result = {}
    for day in scope.days:
        if day in rolled:
            result[day] = stored.get(day, {})
        else:
            result[day] = day_figures(day, only=view).get(view, {})
    return result
