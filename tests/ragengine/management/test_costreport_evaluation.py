"""Evaluation spend is told apart by its ledger channel (eval:run:<id>): cost reports leave
it out unless asked, and the ledger's admin filters by it."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from ragengine.models import UsageRecord
from ragengine.selectors.usage import exclude_evaluation, only_evaluation
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger():
    person, evaluator = MemberFactory(display_name="ana"), MemberFactory(display_name="eval:run1")
    for member, channel, cost in (
        (person, "slack:C1", "0.25"),
        (evaluator, "eval:run:1", "2.00"),
        (person, "evaluation-team:C9", "0.50"),  # a channel merely named like it
    ):
        UsageRecord.objects.create(
            member=member, status="settled", mode="generated", model="gpt-4o",
            cost=Decimal(cost), request_id="r", channel=channel,
        )  # fmt: skip


def total(*args) -> Decimal:
    out = io.StringIO()
    call_command("costreport", "--csv", *args, stdout=out)
    return sum(Decimal(r["cost"]) for r in csv.DictReader(io.StringIO(out.getvalue())))


def test_costreport_leaves_evaluation_spend_out_unless_asked(ledger):
    assert total() == Decimal("0.75")
    assert total("--include-evaluation") == Decimal("2.75")


def test_selectors_split_the_ledger_by_channel(ledger):
    rows = UsageRecord.objects.all()
    assert sorted(r.channel for r in exclude_evaluation(rows)) == ["evaluation-team:C9", "slack:C1"]
    assert [r.channel for r in only_evaluation(rows)] == ["eval:run:1"]


def test_ledger_admin_filters_people_from_evaluation_runs(admin_client, ledger):
    url = reverse("admin:ragengine_usagerecord_changelist")
    assert "cost 2.000000" in admin_client.get(url + "?asked_by=evaluation").content.decode()
    assert "cost 0.750000" in admin_client.get(url + "?asked_by=people").content.decode()
