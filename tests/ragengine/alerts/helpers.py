"""Ledger rows and a fixed clock for the alert tests (rules are measured at `NOW`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ragengine.models import UsageRecord, UsageStatus

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def ledger_row(
    member,
    *,
    tier=None,
    mode: str = "generated",
    cost: str = "0",
    total_ms: float | None = 100.0,
    ago: timedelta = timedelta(minutes=1),
    channel: str = "slack:C1",
    status: str = UsageStatus.SETTLED,
) -> UsageRecord:
    row = UsageRecord.objects.create(
        member=member,
        tier=tier,
        status=status,
        mode=mode,
        cost=Decimal(cost),
        latencies_ms={} if total_ms is None else {"total": total_ms, "generate": total_ms / 2},
        request_id=f"r{UsageRecord.objects.count()}",
        channel=channel,
    )
    UsageRecord.objects.filter(pk=row.pk).update(created_at=NOW - ago)  # auto_now_add
    return row
