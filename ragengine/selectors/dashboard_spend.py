"""Dashboard: what Arandu costs, what the cache saves, and where people stand against
their tier's budgets (the usage ledger)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce, Concat

from ragengine.models import Member, Tier, UsageRecord
from ragengine.selectors.dashboard import (
    ANSWERED_MODES,
    DashboardScope,
    ledger_in,
    local_day,
    per_day,
)
from ragengine.selectors.usage import live_spend_filter, periods_at

ZERO = Decimal("0")
NO_TIER = "(no tier)"
NO_MODEL = "(no model)"


@dataclass(frozen=True, slots=True)
class Spend:
    cost_by_model: dict[str, list[Decimal]]  # model label -> cost per day
    cost_by_tier: dict[str, list[Decimal]]
    cost_per_day: list[Decimal]
    cost: Decimal
    answered_per_day: list[int]
    hits_per_day: list[int]
    saved_per_day: list[Decimal]
    answered: int
    hits: int
    saved: Decimal

    @property
    def hit_rate(self) -> float:
        return self.hits / self.answered if self.answered else 0.0

    def hit_rate_per_day(self) -> list[float | None]:
        """Per day, None where nothing was answered (no rate, rather than 0 %)."""
        return [
            h / a if a else None
            for h, a in zip(self.hits_per_day, self.answered_per_day, strict=True)
        ]


def spend(*, scope: DashboardScope) -> Spend:
    """Cost per day by model and by tier, and the cache's hits and savings per day, from
    one grouped read of the ledger. A hit is an answer of mode "cached"; the hit rate is
    hits over answered questions (as `cache_stats` counts them)."""
    rows = (
        ledger_in(scope)
        .annotate(
            day=local_day(),
            label=Concat(F("provider"), Value(":"), F("model")),
            tier_name=Coalesce(F("tier__name"), Value(NO_TIER)),
        )
        .values("day", "label", "tier_name")
        .annotate(
            cost=Coalesce(Sum("cost"), ZERO),
            saved=Coalesce(Sum("cost_saved"), ZERO),
            answered=Count("pk", filter=Q(mode__in=ANSWERED_MODES)),
            hits=Count("pk", filter=Q(mode="cached")),
        )
        .order_by()
    )
    sums = SpendSums()
    for row in rows:
        label = row["label"] if row["label"] != ":" else NO_MODEL
        sums.add(row["day"], label, row["tier_name"], row["cost"], row["saved"],
                 row["answered"], row["hits"])  # fmt: skip
    return sums.spend(scope)


class SpendSums:
    """Spend figures as they add up, by day, model label and tier name."""

    def __init__(self) -> None:
        self.by_model: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        self.by_tier: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        self.day_cost: dict[date, Decimal] = defaultdict(Decimal)
        self.answered: dict[date, int] = defaultdict(int)
        self.hits: dict[date, int] = defaultdict(int)
        self.saved: dict[date, Decimal] = defaultdict(Decimal)

    def add(self, day, label, tier, cost, saved, answered, hits) -> None:
        if cost:
            self.by_model[label][day] += cost
            self.by_tier[tier][day] += cost
        self.day_cost[day] += cost
        self.answered[day] += answered
        self.hits[day] += hits
        self.saved[day] += saved

    def spend(self, scope: DashboardScope) -> Spend:
        def series(groups: dict[str, dict[date, Decimal]]) -> dict[str, list[Decimal]]:
            ordered = sorted(groups.items(), key=lambda item: (-sum(item[1].values()), item[0]))
            return {key: per_day(scope, values, default=ZERO) for key, values in ordered}

        return Spend(
            cost_by_model=series(self.by_model),
            cost_by_tier=series(self.by_tier),
            cost_per_day=per_day(scope, self.day_cost, default=ZERO),
            cost=sum(self.day_cost.values(), ZERO),
            answered_per_day=per_day(scope, self.answered),
            hits_per_day=per_day(scope, self.hits),
            saved_per_day=per_day(scope, self.saved, default=ZERO),
            answered=sum(self.answered.values()),
            hits=sum(self.hits.values()),
            saved=sum(self.saved.values(), ZERO),
        )


@dataclass(frozen=True, slots=True)
class Spender:
    member_id: int
    name: str
    tier: str
    questions: int
    cost: Decimal
    today: Decimal  # settled + in flight today (what the budget check sees)
    daily_budget: Decimal | None

    @property
    def daily_percent(self) -> int | None:
        if not self.daily_budget:
            return None
        return int(self.today / self.daily_budget * 100)


def top_spenders(*, scope: DashboardScope, limit: int = 10) -> list[Spender]:
    """Who spent most in the period, with today's spend against their tier's daily budget
    (settled and in flight, as `member_spend` counts it: one grouped read for them all)."""
    top = list(
        ledger_in(scope)
        .values("member_id")
        .annotate(cost=Coalesce(Sum("cost"), ZERO), questions=Count("pk"))
        .filter(cost__gt=0)
        .order_by("-cost", "member_id")[:limit]
    )
    return spenders_with_today(scope=scope, top=top)


def spenders_with_today(*, scope: DashboardScope, top: list[dict]) -> list[Spender]:
    """The period's top spenders (`member_id`, `cost`, `questions`, best first) with
    their names, tiers and today's spend."""
    ids = [row["member_id"] for row in top]
    members = Member.objects.select_related("tier").in_bulk(ids)
    today = {
        row["member_id"]: row["cost"] + row["reserved"]
        for row in UsageRecord.objects.filter(
            live_spend_filter(scope.now),
            member_id__in=ids,
            created_at__gte=periods_at(scope.now).day_start,
        )
        .values("member_id")
        .annotate(cost=Coalesce(Sum("cost"), ZERO), reserved=Coalesce(Sum("reserved"), ZERO))
        .order_by()
    }
    result = []
    for row in top:
        member = members[row["member_id"]]
        tier = member.tier
        result.append(
            Spender(
                member_id=member.pk,
                name=member.display_name,
                tier=tier.name if tier else NO_TIER,
                questions=row["questions"],
                cost=row["cost"],
                today=today.get(member.pk, ZERO),
                daily_budget=tier.daily_budget if tier else None,
            )
        )
    return result


@dataclass(frozen=True, slots=True)
class TierBudget:
    tier_id: int
    name: str
    daily_budget: Decimal | None
    monthly_budget: Decimal | None
    soft_limit_percent: int
    spent_today: Decimal
    spent_month: Decimal
    people_month: int
    top_today: Decimal  # the most one person of the tier spent today
    top_month: Decimal
    soft_today: int  # people past the soft limit of the daily budget
    hard_today: int  # people at or past the daily budget
    soft_month: int
    hard_month: int

    @staticmethod
    def percent(spent: Decimal, budget: Decimal | None) -> int | None:
        return int(spent / budget * 100) if budget else None

    @property
    def top_today_percent(self) -> int | None:
        return self.percent(self.top_today, self.daily_budget)

    @property
    def top_month_percent(self) -> int | None:
        return self.percent(self.top_month, self.monthly_budget)


def tier_budgets(*, scope: DashboardScope) -> list[TierBudget]:
    """Each tier's spend today and this month (calendar, ARANDU_TIME_ZONE), and how many
    of its people are past the soft limit or at the budget. Budgets are per person, so
    the figures are per person too; evaluation tiers are left out. Only the tier filter
    applies: a budget counts every door."""
    periods = periods_at(scope.now)
    tiers = Tier.objects.exclude(name__startswith="eval:").order_by("name")
    if scope.tier_id:
        tiers = tiers.filter(pk=scope.tier_id)
    tiers = list(tiers)
    rows = (
        UsageRecord.objects.filter(
            live_spend_filter(scope.now),
            tier__in=tiers,
            created_at__gte=periods.month_start,
            created_at__lt=periods.month_end,
        )
        .values("tier_id", "member_id")
        .annotate(
            month=Coalesce(Sum("cost"), ZERO) + Coalesce(Sum("reserved"), ZERO),
            today=Coalesce(
                Sum("cost", filter=Q(created_at__gte=periods.day_start)),
                ZERO,
            )
            + Coalesce(Sum("reserved", filter=Q(created_at__gte=periods.day_start)), ZERO),
        )
        .order_by()
    )
    per_tier: dict[int, list[tuple[Decimal, Decimal]]] = defaultdict(list)
    for row in rows:
        per_tier[row["tier_id"]].append((row["today"], row["month"]))
    result = []
    for tier in tiers:
        people = per_tier.get(tier.pk, [])
        soft = Decimal(tier.soft_limit_percent) / 100

        def past(budget: Decimal | None, share: Decimal, index: int, people=people) -> int:
            if not budget:
                return 0
            return sum(1 for p in people if p[index] > 0 and p[index] >= budget * share)

        result.append(
            TierBudget(
                tier_id=tier.pk,
                name=tier.name,
                daily_budget=tier.daily_budget,
                monthly_budget=tier.monthly_budget,
                soft_limit_percent=tier.soft_limit_percent,
                spent_today=sum((p[0] for p in people), ZERO),
                spent_month=sum((p[1] for p in people), ZERO),
                people_month=len(people),
                top_today=max((p[0] for p in people), default=ZERO),
                top_month=max((p[1] for p in people), default=ZERO),
                soft_today=past(tier.daily_budget, soft, 0),
                hard_today=past(tier.daily_budget, Decimal(1), 0),
                soft_month=past(tier.monthly_budget, soft, 1),
                hard_month=past(tier.monthly_budget, Decimal(1), 1),
            )
        )
    return result
