"""What every dashboard figure is computed over: a period and at most one filter.

The period is whole days in ARANDU_TIME_ZONE (today, the last 7 or 30 days, or a custom
range). The filters narrow both sources the same way:
- door: the question history's `door` and the ledger's `channel` ("slack:C123");
- tier: the ledger's tier (the tier that answered, at the time); questions by request id;
- knowledge set: the question history's set names; ledger rows by request id.

People's figures leave out test traffic (evaluation runs, playground questions): it is
no one's question and would drown a small team's numbers. The door "tests" shows only it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.functions import TruncDate

from ragengine.models import QuestionRecord, UsageRecord, UsageStatus

Period = Literal["today", "7d", "30d", "custom"]
PERIOD_DAYS = {"today": 1, "7d": 7, "30d": 30}
PEOPLE_DOORS = ("slack", "discord", "api", "cli")
TEST_DOORS = ("eval", "playground")
TESTS = "tests"
DOORS = (*PEOPLE_DOORS, TESTS)
MAX_CUSTOM_DAYS = 366
ANSWERED_MODES = ("generated", "extractive", "cached")
# Longest a question takes between its ledger row and its history row (deadlines are far
# shorter): the window a request-id join looks across a period's edge.
ROW_GAP = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class DashboardScope:
    """[start, end) as aware datetimes, its days, and the one optional filter."""

    start: datetime
    end: datetime
    days: tuple[date, ...]
    door: str = ""  # "": people's doors; one of DOORS
    tier_id: int | None = None
    knowledge_set: str = ""  # a set's name
    now: datetime = field(default_factory=lambda: datetime.now(ZoneInfo("UTC")))

    @property
    def filtered(self) -> bool:
        return bool(self.door or self.tier_id or self.knowledge_set)


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def dashboard_scope(
    *,
    now: datetime,
    period: Period = "7d",
    first_day: date | None = None,
    last_day: date | None = None,
    door: str = "",
    tier_id: int | None = None,
    knowledge_set: str = "",
) -> DashboardScope:
    """The scope for a period ending today (or `first_day`..`last_day` for "custom",
    both included). Raises ValueError with a sentence an admin can act on."""
    today = now.astimezone(zone()).date()
    if period == "custom":
        if first_day is None or last_day is None:
            raise ValueError("A custom period needs a first and a last day.")
        if last_day < first_day:
            raise ValueError("The last day is before the first day.")
        if (last_day - first_day).days + 1 > MAX_CUSTOM_DAYS:
            raise ValueError(f"A custom period is at most {MAX_CUSTOM_DAYS} days.")
    elif period in PERIOD_DAYS:
        last_day = today
        first_day = today - timedelta(days=PERIOD_DAYS[period] - 1)
    else:
        raise ValueError(f"Unknown period {period!r}.")
    if door and door not in DOORS:
        raise ValueError(f"Unknown door {door!r}.")
    count = (last_day - first_day).days + 1
    return DashboardScope(
        start=datetime.combine(first_day, time.min, tzinfo=zone()),
        end=datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=zone()),
        days=tuple(first_day + timedelta(days=n) for n in range(count)),
        door=door,
        tier_id=tier_id,
        knowledge_set=knowledge_set,
        now=now,
    )


def local_day(field_name: str = "created_at") -> TruncDate:
    return TruncDate(field_name, tzinfo=zone())


def _door_q(door: str, *, field_name: str, channel: bool) -> Q:
    """Rows of `door` ("" = people's doors) by the door field or the channel prefix."""

    def one(name: str) -> Q:
        return (
            Q(**{f"{field_name}__startswith": f"{name}:"}) if channel else Q(**{field_name: name})
        )

    if door == TESTS:
        return _any(one(d) for d in TEST_DOORS)
    if door:
        return one(door)
    return ~_any(one(d) for d in TEST_DOORS)


def _any(parts: Iterable[Q]) -> Q:
    result = Q(pk__in=[])
    for part in parts:
        result |= part
    return result


def questions_in(scope: DashboardScope) -> QuerySet[QuestionRecord]:
    """History rows in the scope's period and filter."""
    rows = QuestionRecord.objects.filter(
        _door_q(scope.door, field_name="door", channel=False),
        created_at__gte=scope.start,
        created_at__lt=scope.end,
    )
    if scope.knowledge_set:
        rows = rows.filter(pk__in=_in_set(rows, scope.knowledge_set))
    if scope.tier_id:
        # A ledger row is written when the question starts, its history row when it ends.
        ledger = UsageRecord.objects.filter(
            tier_id=scope.tier_id,
            created_at__gte=scope.start - ROW_GAP,
            created_at__lt=scope.end,
        )
        rows = rows.filter(request_id__in=ledger.values("request_id"))
    return rows


def ledger_in(scope: DashboardScope, *, settled: bool = True) -> QuerySet[UsageRecord]:
    """Ledger rows in the scope's period and filter (settled ones unless told)."""
    rows = UsageRecord.objects.filter(
        _door_q(scope.door, field_name="channel", channel=True),
        created_at__gte=scope.start,
        created_at__lt=scope.end,
    )
    if settled:
        rows = rows.filter(status=UsageStatus.SETTLED)
    if scope.tier_id:
        rows = rows.filter(tier_id=scope.tier_id)
    if scope.knowledge_set:
        history = QuestionRecord.objects.filter(
            created_at__gte=scope.start, created_at__lt=scope.end + ROW_GAP
        )
        rows = rows.filter(
            request_id__in=history.filter(pk__in=_in_set(history, scope.knowledge_set)).values(
                "request_id"
            )
        )
    return rows


def _in_set(rows: QuerySet[QuestionRecord], name: str):
    """Ids of rows whose sets list `name`: a JSON containment on PostgreSQL; elsewhere
    (SQLite can't) a text match narrowed by an exact check in Python."""
    if connection.vendor == "postgresql":
        return rows.filter(knowledge_sets__contains=[name]).values("pk")
    candidates = rows.filter(knowledge_sets__icontains=json.dumps(name)[1:-1])
    return [pk for pk, sets in candidates.values_list("pk", "knowledge_sets") if name in sets]


def per_day(scope: DashboardScope, values: dict[date, float], *, default: float = 0) -> list:
    """One value per day of the scope, `default` where there is none."""
    return [values.get(day, default) for day in scope.days]


def day_labels(scope: DashboardScope) -> list[str]:
    return [day.isoformat() for day in scope.days]
