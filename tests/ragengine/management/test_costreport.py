from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from ragengine.models import Tier, UsageRecord
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def settled(member, *, cost: str, model: str, tokens=(100, 20), mode="generated"):
    return UsageRecord.objects.create(
        member=member,
        tier=member.tier,
        status="settled",
        mode=mode,
        provider="openai",
        model=model,
        tokens_in=tokens[0],
        tokens_out=tokens[1],
        cost=Decimal(cost),
        request_id="r",
    )


def run(*args) -> str:
    out = io.StringIO()
    call_command("costreport", *args, stdout=out)
    return out.getvalue()


def test_csv_by_tier_and_by_member_sum_the_ledger():
    gold, free = Tier.objects.create(name="Gold"), Tier.objects.create(name="Free")
    ana, bo = (
        MemberFactory(display_name="ana", tier=gold),
        MemberFactory(display_name="bo", tier=free),
    )
    settled(ana, cost="0.25", model="gpt-4o")
    settled(ana, cost="0.50", model="gpt-4o")
    settled(bo, cost="0", model="llama3.2", mode="extractive")
    settled(bo, cost="0", model="", mode="refused")

    rows = {r["tier"]: r for r in csv.DictReader(io.StringIO(run("--by", "tier", "--csv")))}
    assert Decimal(rows["Gold"]["cost"]) == Decimal("0.75")
    assert rows["Gold"]["questions"] == "2" and rows["Gold"]["tokens_in"] == "200"
    assert rows["Free"]["questions"] == "1"  # the refusal is not a question answered

    members = {r["member"]: r for r in csv.DictReader(io.StringIO(run("--by", "member", "--csv")))}
    assert set(members) == {"ana", "bo"}


def test_month_total_and_a_bad_date():
    settled(MemberFactory(), cost="1.5", model="gpt-4o")
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    text = run("--period", "month", "--date", today)
    assert "total" in text and "1.500000" in text
    with pytest.raises(CommandError, match="--date must look like"):
        run("--date", "21/11/2026")
