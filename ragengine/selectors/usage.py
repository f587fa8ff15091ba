"""Reads over the usage ledger: cost reports by member, tier or model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Concat

from ragengine.models import Member, UsageRecord, UsageStatus

# Room around a question's model calls: settling after them takes far less (retrieval
# before them already counts against their deadline).
SETTLE_MARGIN = timedelta(minutes=1)

# Evaluation runs ask in the channel "eval:run:<id>": their ledger rows are told apart by it.
EVALUATION_CHANNEL_PREFIX = "eval:"

GroupBy = Literal["member", "tier", "model"]
_KEYS = {
    "member": F("member__display_name"),
    "tier": Coalesce(F("tier__name"), Value("(no tier)")),
    "model": Concat(F("provider"), Value(":"), F("model")),
}


def reservation_life() -> timedelta:
    """How long a reservation counts as spend.

    A question's model calls must be over `ARANDU_MODEL_DEADLINE_S` after its reservation,
    except for a read already waiting then, which may take the time that was left when its
    request started (`ragengine.llm.deadline`): every call has ended by twice the deadline.
    A reservation older than that plus a margin belongs to a process that died before
    settling; it stops counting, so a crash can't lock a person out, and the sweep marks
    it abandoned."""
    return timedelta(seconds=2 * settings.ARANDU_MODEL_DEADLINE_S) + SETTLE_MARGIN


def live_spend_filter(now: datetime) -> Q:
    """Rows that count as spend: settled ones and reservations still in flight."""
    live_reservation = Q(status=UsageStatus.RESERVED, created_at__gte=now - reservation_life())
    return Q(status=UsageStatus.SETTLED) | live_reservation


def member_spend(*, member: Member, since: datetime, now: datetime) -> Decimal:
    """Settled cost plus live reservations of `member` since `since`."""
    totals = UsageRecord.objects.filter(
        live_spend_filter(now), member=member, created_at__gte=since
    ).aggregate(cost=Sum("cost"), reserved=Sum("reserved"))
    return (totals["cost"] or Decimal("0")) + (totals["reserved"] or Decimal("0"))


@dataclass(frozen=True, slots=True)
class UsageRow:
    key: str
    questions: int
    tokens_in: int
    tokens_out: int
    cost: Decimal
    cost_saved: Decimal


def _aggregates() -> dict:
    return {
        "questions": Count("pk", filter=~Q(mode="refused")),
        "tokens_in": Coalesce(Sum("tokens_in"), 0),
        "tokens_out": Coalesce(Sum("tokens_out"), 0),
        "cost": Coalesce(Sum("cost"), Decimal("0")),
        "cost_saved": Coalesce(Sum("cost_saved"), Decimal("0")),
    }


def usage_summary(*, rows: QuerySet[UsageRecord]) -> UsageRow:
    """Totals of any selection of ledger rows (the admin's filtered change list)."""
    return UsageRow(key="total", **rows.aggregate(**_aggregates()))


def exclude_evaluation(rows: QuerySet[UsageRecord]) -> QuerySet[UsageRecord]:
    """Leave out the spend of evaluation runs (people's questions only)."""
    return rows.exclude(channel__startswith=EVALUATION_CHANNEL_PREFIX)


def only_evaluation(rows: QuerySet[UsageRecord]) -> QuerySet[UsageRecord]:
    """Only the spend of evaluation runs."""
    return rows.filter(channel__startswith=EVALUATION_CHANNEL_PREFIX)


def usage_totals(
    *,
    start: datetime,
    end: datetime,
    by: GroupBy | None = None,
    include_evaluation: bool = False,
) -> list[UsageRow]:
    """Settled usage in [start, end), grouped; one "total" row when `by` is None.
    Evaluation runs' spend is left out unless `include_evaluation`."""
    rows = UsageRecord.objects.filter(
        status=UsageStatus.SETTLED, created_at__gte=start, created_at__lt=end
    )
    if not include_evaluation:
        rows = exclude_evaluation(rows)
    if by is None:
        return [usage_summary(rows=rows)]
    grouped = rows.annotate(key=_KEYS[by]).values("key").annotate(**_aggregates()).order_by("-cost")
    return [UsageRow(**row) for row in grouped]
