"""The cost report for a day or a month: what `manage.py costreport` prints and
`GET /api/v1/usage` returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal

from django.utils import timezone

from ragengine.selectors.usage import GroupBy, UsageRow, periods_at, usage_totals

Period = Literal["day", "month"]
PERIODS: tuple[Period, ...] = ("day", "month")
GROUPS: tuple[GroupBy, ...] = ("member", "tier", "model")


@dataclass(frozen=True, slots=True)
class UsageReport:
    period: Period
    by: GroupBy | None
    start: datetime
    end: datetime
    rows: list[UsageRow]


def usage_report(
    *,
    period: Period = "day",
    by: GroupBy | None = None,
    day: date | None = None,
    include_evaluation: bool = False,
) -> UsageReport:
    """Settled usage in the calendar day or month (ARANDU_TIME_ZONE) containing `day`
    (default today), one row per `by` key, or one "total" row; evaluation runs' spend
    only with `include_evaluation`."""
    moment = timezone.now()
    if day is not None:
        moment = timezone.make_aware(datetime.combine(day, time(12)))
    windows = periods_at(moment)
    start, end = (
        (windows.day_start, windows.day_end)
        if period == "day"
        else (windows.month_start, windows.month_end)
    )
    return UsageReport(
        period=period,
        by=by,
        start=start,
        end=end,
        rows=usage_totals(start=start, end=end, by=by, include_evaluation=include_evaluation),
    )
