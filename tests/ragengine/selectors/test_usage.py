"""The ledger's spend windows and totals: what the budget and rate checks read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from ragengine.models import UsageRecord, UsageStatus
from ragengine.selectors import usage
from ragengine.selectors.usage import member_spend, member_totals, periods_at
from tests.factories import MemberFactory, UsageRecordFactory

pytestmark = pytest.mark.django_db


def test_periods_follow_the_configured_time_zone(settings):
    settings.TIME_ZONE = "America/Sao_Paulo"
    now = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)  # still 28 Feb, 23:30 in São Paulo
    periods = periods_at(now)
    assert periods.day_start.isoformat() == "2026-02-28T00:00:00-03:00"
    assert periods.month_start.isoformat() == "2026-02-01T00:00:00-03:00"
    assert periods.month_end.isoformat() == "2026-03-01T00:00:00-03:00"


def test_spend_is_the_ledger_sum_over_the_window():
    member = MemberFactory()
    now = datetime.now(UTC)
    UsageRecordFactory(member=member, cost=Decimal("0.50"), created_at=now - timedelta(minutes=5))
    UsageRecordFactory(member=member, cost=Decimal("0.25"), created_at=now - timedelta(days=40))
    UsageRecordFactory(member=MemberFactory(), cost=Decimal("9.00"), created_at=now)  # someone else

    assert member_spend(member=member, since=now - timedelta(days=1), now=now) == Decimal("0.50")
    assert member_spend(member=member, since=now - timedelta(days=60), now=now) == Decimal("0.75")


def test_live_reservations_count_and_stale_ones_do_not():
    member = MemberFactory()
    now = datetime.now(UTC)
    live = UsageRecord.objects.create(member=member, reserved=Decimal("0.2"), request_id="a")
    stale = UsageRecord.objects.create(member=member, reserved=Decimal("5"), request_id="b")
    UsageRecord.objects.filter(pk=stale.pk).update(created_at=now - timedelta(hours=1))

    assert live.status == UsageStatus.RESERVED
    assert member_spend(member=member, since=now - timedelta(days=1), now=now) == Decimal("0.2")


def test_plain_sql_totals_match_the_orm_aggregate():
    """PostgreSQL and SQLite run the aggregate as plain SQL; the ORM's is the reference."""
    member = MemberFactory()
    now = datetime.now(UTC)
    UsageRecordFactory(member=member, cost=Decimal("0.40"), created_at=now - timedelta(minutes=10))
    UsageRecordFactory(
        member=member,
        cost=Decimal("0.30"),
        created_at=now - timedelta(hours=3),
        counts_toward_quota=False,
    )
    UsageRecordFactory(member=member, cost=Decimal("9.00"), created_at=now - timedelta(days=45))
    UsageRecordFactory(member=MemberFactory(), cost=Decimal("5.00"), created_at=now)
    UsageRecord.objects.create(member=member, reserved=Decimal("0.25"), request_id="live")
    stale = UsageRecord.objects.create(member=member, reserved=Decimal("7"), request_id="old")
    UsageRecord.objects.filter(pk=stale.pk).update(created_at=now - timedelta(minutes=30))
    periods = periods_at(now)

    plain = member_totals(member=member, periods=periods, now=now)
    orm = usage._orm_totals(member, periods, now)

    assert connection.vendor in ("postgresql", "sqlite")  # the plain path ran
    assert plain == orm
    assert plain.hour_questions == 3  # the two recent reservations count as questions
    assert plain.day_reserved == Decimal("0.25")  # the stale reservation no longer counts
    assert plain.in_flight == 1
    assert plain.oldest_in_hour is not None and plain.oldest_in_hour.tzinfo is not None
    assert plain.oldest_in_hour <= now - timedelta(minutes=30)


def test_plain_sql_totals_of_a_member_without_usage_are_zero():
    member = MemberFactory()
    now = datetime.now(UTC)

    totals = member_totals(member=member, periods=periods_at(now), now=now)

    assert totals == usage._orm_totals(member, periods_at(now), now)
    assert (totals.day_spent, totals.month_spent, totals.hour_questions) == (Decimal("0"), 0, 0)
    assert totals.oldest_in_hour is None and totals.newest_in_flight is None
