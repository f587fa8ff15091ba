"""Reads over the usage ledger: what counts as spend, a member's spend and question
counts in the budget windows (one query, under the member lock), cost reports by
member, tier or model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Context, Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Concat

from ragengine.models import Member, UsageRecord, UsageStatus

ZERO = Decimal("0")

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
class Periods:
    day_start: datetime
    day_end: datetime
    month_start: datetime
    month_end: datetime
    hour_start: datetime


def periods_at(now: datetime) -> Periods:
    """Calendar day and month containing `now`, in ARANDU_TIME_ZONE; the last rolling hour."""
    zone = ZoneInfo(settings.TIME_ZONE)
    local = now.astimezone(zone)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    month_start = day_start.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    return Periods(
        day_start=day_start,
        day_end=(day_start + timedelta(days=1)),
        month_start=month_start,
        month_end=next_month,
        hour_start=now - timedelta(hours=1),
    )


@dataclass(frozen=True, slots=True)
class SpendTotals:
    day_spent: Decimal  # settled cost plus live reservations
    month_spent: Decimal
    hour_questions: int
    day_questions: int
    oldest_in_hour: datetime | None
    day_reserved: Decimal = ZERO  # the live reservations within the spend
    month_reserved: Decimal = ZERO
    in_flight: int = 0  # live reservations holding money
    newest_in_flight: datetime | None = None


_TOTALS_SQL = """
SELECT
  SUM(cost + reserved) FILTER (WHERE live AND created_at >= %(day)s),
  SUM(cost + reserved) FILTER (WHERE live AND created_at >= %(month)s),
  COUNT(*) FILTER (WHERE counts_toward_quota AND created_at >= %(hour)s),
  COUNT(*) FILTER (WHERE counts_toward_quota AND created_at >= %(day)s),
  MIN(created_at) FILTER (WHERE counts_toward_quota AND created_at >= %(hour)s),
  SUM(reserved) FILTER (WHERE live AND created_at >= %(day)s),
  SUM(reserved) FILTER (WHERE live AND created_at >= %(month)s),
  COUNT(*) FILTER (WHERE live AND reserved > 0 AND created_at >= %(month)s),
  MAX(created_at) FILTER (WHERE live AND reserved > 0 AND created_at >= %(month)s)
FROM (
  SELECT cost, reserved, created_at, counts_toward_quota,
         (status = 'settled' OR (status = 'reserved' AND created_at >= %(stale)s)) AS live
  FROM {table} WHERE member_id = %(member)s AND created_at >= %(since)s
) AS rows
"""
# SQLite keeps 15 significant digits of a decimal sum (a float): Django's own converter.
_SQLITE_DECIMAL = Context(prec=15).create_decimal_from_float


def member_totals(*, member: Member, periods: Periods, now: datetime) -> SpendTotals:
    """Everything the budget and rate checks need in ONE query (they run it under the
    member lock).

    On PostgreSQL and SQLite the aggregate is sent as plain SQL: it runs on every question,
    cached answers too, and building it through the ORM cost more than executing it
    (docs/PERFORMANCE.md §6 and §17). Other databases get the same aggregate from the ORM."""
    if connection.vendor in ("postgresql", "sqlite"):
        return _plain_totals(member, periods, now)
    return _orm_totals(member, periods, now)


def _orm_totals(member: Member, periods: Periods, now: datetime) -> SpendTotals:
    spend = live_spend_filter(now)
    quota = Q(counts_toward_quota=True)
    amount = F("cost") + F("reserved")
    day, month = Q(created_at__gte=periods.day_start), Q(created_at__gte=periods.month_start)
    holding = spend & month & Q(reserved__gt=0)
    row = UsageRecord.objects.filter(
        member=member, created_at__gte=min(periods.month_start, periods.hour_start)
    ).aggregate(
        day=Sum(amount, filter=spend & day),
        month=Sum(amount, filter=spend & month),
        hour_n=Count("pk", filter=quota & Q(created_at__gte=periods.hour_start)),
        day_n=Count("pk", filter=quota & day),
        oldest=Min("created_at", filter=quota & Q(created_at__gte=periods.hour_start)),
        day_reserved=Sum("reserved", filter=spend & day),
        month_reserved=Sum("reserved", filter=spend & month),
        in_flight=Count("pk", filter=holding),
        newest=Max("created_at", filter=holding),
    )
    return SpendTotals(
        day_spent=row["day"] or ZERO,
        month_spent=row["month"] or ZERO,
        hour_questions=row["hour_n"],
        day_questions=row["day_n"],
        oldest_in_hour=row["oldest"],
        day_reserved=row["day_reserved"] or ZERO,
        month_reserved=row["month_reserved"] or ZERO,
        in_flight=row["in_flight"],
        newest_in_flight=row["newest"],
    )


def _plain_totals(member: Member, periods: Periods, now: datetime) -> SpendTotals:
    """The ORM's aggregate as plain SQL, with the backend's own conversions of datetimes
    (SQLite keeps them as text) and decimals both ways."""
    when = connection.ops.adapt_datetimefield_value
    params = {
        "day": when(periods.day_start),
        "month": when(periods.month_start),
        "hour": when(periods.hour_start),
        "stale": when(now - reservation_life()),
        "member": member.pk,
        "since": when(min(periods.month_start, periods.hour_start)),
    }
    with connection.cursor() as cursor:
        cursor.execute(_TOTALS_SQL.format(table=UsageRecord._meta.db_table), params)
        (day, month, hour_n, day_n, oldest, day_res, month_res, in_flight, newest) = (
            cursor.fetchone()
        )
    if connection.vendor == "sqlite":
        day, month, day_res, month_res = (
            None if v is None else _SQLITE_DECIMAL(v) for v in (day, month, day_res, month_res)
        )
        oldest, newest = (
            connection.ops.convert_datetimefield_value(v, None, connection)
            for v in (oldest, newest)
        )
    return SpendTotals(
        day_spent=day or ZERO,
        month_spent=month or ZERO,
        hour_questions=hour_n,
        day_questions=day_n,
        oldest_in_hour=oldest,
        day_reserved=day_res or ZERO,
        month_reserved=month_res or ZERO,
        in_flight=in_flight,
        newest_in_flight=newest,
    )


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
