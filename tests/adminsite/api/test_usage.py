"""GET /api/v1/usage returns what `manage.py costreport` prints, for tokens with the
reports scope."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from ragengine.models import ApiTokenKind, Tier, UsageRecord
from tests.adminsite.api.conftest import client_for
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

USAGE = reverse("api:usage")


def settled(member, *, cost: str, model: str, mode: str = "generated") -> UsageRecord:
    return UsageRecord.objects.create(
        member=member,
        tier=member.tier,
        status="settled",
        mode=mode,
        provider="openai",
        model=model,
        tokens_in=100,
        tokens_out=20,
        cost=Decimal(cost),
        request_id="r",
    )


@pytest.fixture
def ledger():
    gold = Tier.objects.create(name="Gold")
    ana, bo = MemberFactory(display_name="ana", tier=gold), MemberFactory(display_name="bo")
    settled(ana, cost="0.25", model="gpt-4o")
    settled(ana, cost="0.50", model="gpt-4o")
    settled(bo, cost="0.125", model="gpt-4o-mini")
    settled(bo, cost="0", model="", mode="refused")


@pytest.fixture
def reporter(issue):
    return client_for(issue(kind=ApiTokenKind.SERVICE, sets=["handbook"], scopes=["reports"]))


@pytest.mark.parametrize("by", ["member", "tier", "model"])
def test_usage_by_each_key_matches_the_costreport_command(ledger, reporter, by):
    out = io.StringIO()
    call_command("costreport", "--by", by, "--csv", stdout=out)
    expected = {
        row[by]: (int(row["questions"]), Decimal(row["cost"]))
        for row in csv.DictReader(io.StringIO(out.getvalue()))
    }

    response = reporter.get(USAGE, {"by": by, "period": "day"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["period"], body["by"]) == ("day", by)
    got = {r["key"]: (r["questions"], Decimal(r["cost"])) for r in body["rows"]}
    assert got == expected
    assert datetime.fromisoformat(body["end"]) - datetime.fromisoformat(body["start"]) == (
        timedelta(days=1)
    )


def test_without_by_the_month_has_one_total_row(ledger, reporter):
    body = reporter.get(USAGE, {"period": "month"}).json()

    (total,) = body["rows"]
    assert total["key"] == "total" and total["questions"] == 3
    assert Decimal(total["cost"]) == Decimal("0.875")
    assert body["by"] is None


def test_a_day_without_usage_is_empty(ledger, reporter):
    last_year = (datetime.now(UTC) - timedelta(days=400)).strftime("%Y-%m-%d")

    body = reporter.get(USAGE, {"by": "model", "date": last_year}).json()

    assert body["rows"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"period": "week"}, "period"),
        ({"by": "country"}, "by"),
        ({"date": "21/11/2026"}, "date"),
        ({"date": "0001-01-01"}, "date"),
        ({"date": "9999-12-31"}, "date"),
    ],
)
def test_bad_queries_are_400_per_field(reporter, query, field):
    response = reporter.get(USAGE, query)

    assert response.status_code == 400
    assert field in response.json()["fields"]
