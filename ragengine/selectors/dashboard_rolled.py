"""Dashboard: the figures of `dashboard_activity`, `dashboard_spend` and
`dashboard_speed` rebuilt from day figures (`dashboard_days`) instead of the period's
rows, so a 30-day page reads 30 small rows per figure instead of ~80,000.

Every figure equals the live one (the selector tests compare both), except the latency
percentiles over a period of several days: they come from histograms, within
`RATIO_ERROR` of the exact value.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal

from ragengine.models import Tier
from ragengine.selectors.dashboard import DashboardScope, per_day
from ragengine.selectors.dashboard_activity import EVERY_SET, OUTCOMES, Activity
from ragengine.selectors.dashboard_days import RATIO_ERROR
from ragengine.selectors.dashboard_speed import DAILY_STAGES, STAGES, Speed, StageLatency
from ragengine.selectors.dashboard_spend import (
    NO_MODEL,
    NO_TIER,
    Spend,
    Spender,
    SpendSums,
    spenders_with_today,
)

Days = dict[date, dict]


def activity_from(*, scope: DashboardScope, days: Days) -> Activity:
    per_outcome = {
        o: per_day(scope, {d: f.get("outcomes", {}).get(o, 0) for d, f in days.items()})
        for o in OUTCOMES
    }
    totals = {outcome: sum(series) for outcome, series in per_outcome.items()}
    people: set[int] = set()
    for figures in days.values():
        people.update(figures.get("askers", ()))
    return Activity(
        per_outcome=per_outcome,
        totals=totals,
        questions=sum(totals.values()),
        people=len(people),
        people_per_day=per_day(scope, {d: len(f.get("askers", ())) for d, f in days.items()}),
        not_found=sum(f.get("not_found", 0) for f in days.values()),
    )


def top_knowledge_sets_from(*, days: Days, limit: int = 8) -> list[tuple[str, int]]:
    counter: Counter[str] = Counter()
    for figures in days.values():
        for key, n in figures.get("sets", {}).items():
            for name in json.loads(key) or [EVERY_SET]:
                counter[name] += n
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:limit]


def spend_from(*, scope: DashboardScope, days: Days) -> Spend:
    names = dict(Tier.objects.values_list("pk", "name"))
    sums = SpendSums()
    for day, figures in days.items():
        for key, (cost, saved, answered, hits) in figures.get("spend", {}).items():
            tier_id, label = key.split("|", 1)
            tier = names.get(int(tier_id)) if tier_id else None
            sums.add(day, label if label != ":" else NO_MODEL, tier or NO_TIER, Decimal(cost),
                     Decimal(saved), answered, hits)  # fmt: skip
    return sums.spend(scope)


def top_spenders_from(*, scope: DashboardScope, days: Days, limit: int = 10) -> list[Spender]:
    totals: dict[int, list] = defaultdict(lambda: [0, 0])
    for figures in days.values():
        ids, costs, counts = figures.get("members") or ([], [], [])
        for member_id, cost, n in zip(ids, costs, counts, strict=True):
            person = totals[member_id]
            person[0] += cost
            person[1] += n
    ranked = sorted(
        ((m, c, n) for m, (c, n) in totals.items() if c > 0), key=lambda r: (-r[1], r[0])
    )
    top = [
        {"member_id": m, "cost": Decimal(c).scaleb(-8), "questions": n}
        for m, c, n in ranked[:limit]
    ]
    return spenders_with_today(scope=scope, top=top)


def provider_answers_from(*, days: Days) -> dict[str, int]:
    counter: Counter[str] = Counter()
    for figures in days.values():
        counter.update(figures.get("providers", {}))
    return dict(counter)


def histogram_percentile(histogram: dict[str, list], fraction: float) -> float | None:
    """`percentile_cont` over the values a histogram holds, each at its bucket's mean."""
    count = sum(n for n, _ in histogram.values())
    if not count:
        return None
    ordered = sorted((total / n, n) for n, total in histogram.values() if n)
    position = fraction * (count - 1)
    low = int(position)
    high = low + 1 if position > low else low

    def at(rank: int) -> float:
        seen = 0
        for value, n in ordered:
            seen += n
            if rank < seen:
                return value
        return ordered[-1][0]

    low_value = at(low)
    return low_value + (at(high) - low_value) * (position - low)


def speed_from(*, scope: DashboardScope, days: Days) -> Speed:
    """Per day: the exact percentiles kept with each day. Over the period: from the
    merged histograms, or the day's exact ones for a one-day period."""
    whole: dict[str, dict[str, list]] = defaultdict(dict)
    daily: dict[str, dict[date, list]] = defaultdict(dict)
    for day, figures in days.items():
        for stage, pair in figures.get("daily", {}).items():
            daily[stage][day] = pair
        for stage, histogram in figures.get("latency", {}).items():
            merged = whole[stage]
            for key, (n, total) in histogram.items():
                entry = merged.setdefault(key, [0, 0.0])
                entry[0] += n
                entry[1] += total
    one_day = len(scope.days) == 1

    def period(stage: str) -> StageLatency:
        if one_day:
            return StageLatency(stage, *daily[stage].get(scope.days[0], [None, None]))
        return StageLatency(
            stage,
            histogram_percentile(whole[stage], 0.5),
            histogram_percentile(whole[stage], 0.95),
        )

    return Speed(
        per_day={
            stage: {
                q: per_day(scope, {d: pair[i] for d, pair in daily[stage].items()}, default=None)
                for i, q in enumerate(("p50", "p95"))
            }
            for stage in DAILY_STAGES
        },
        stages=[period(stage) for stage in STAGES],
        sampled=False,
        error=0.0 if one_day else RATIO_ERROR,
    )
