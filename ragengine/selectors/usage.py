"""Reads over the usage ledger: cost reports by member, tier or model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce, Concat

from ragengine.models import UsageRecord, UsageStatus

GroupBy = Literal["member", "tier", "model"]
_KEYS = {
    "member": F("member__display_name"),
    "tier": Coalesce(F("tier__name"), Value("(no tier)")),
    "model": Concat(F("provider"), Value(":"), F("model")),
}


@dataclass(frozen=True, slots=True)
class UsageRow:
    key: str
    questions: int
    tokens_in: int
    tokens_out: int
    cost: Decimal
    cost_saved: Decimal


def usage_totals(*, start: datetime, end: datetime, by: GroupBy | None = None) -> list[UsageRow]:
    """Settled usage in [start, end), grouped; one "total" row when `by` is None."""
    rows = UsageRecord.objects.filter(
        status=UsageStatus.SETTLED, created_at__gte=start, created_at__lt=end
    )
    aggregates = {
        "questions": Count("pk", filter=~Q(mode="refused")),
        "tokens_in": Coalesce(Sum("tokens_in"), 0),
        "tokens_out": Coalesce(Sum("tokens_out"), 0),
        "cost": Coalesce(Sum("cost"), Decimal("0")),
        "cost_saved": Coalesce(Sum("cost_saved"), Decimal("0")),
    }
    if by is None:
        totals = rows.aggregate(**aggregates)
        return [UsageRow(key="total", **totals)]
    grouped = rows.annotate(key=_KEYS[by]).values("key").annotate(**aggregates).order_by("-cost")
    return [UsageRow(**row) for row in grouped]
