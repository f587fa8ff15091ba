"""Each kind of rule, measured at a fixed moment: it fires at its threshold and not just
below it, and says why in words an admin can act on."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from ragengine.alerts.rules import p95, rule_measure
from ragengine.models import Document, DocumentStatus, ProviderCircuit, Tier, WorkerHeartbeat
from tests.factories import AlertRuleFactory, DocumentFactory, MemberFactory
from tests.ragengine.alerts.helpers import NOW, ledger_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def tier():
    return Tier.objects.create(
        name="Pro", daily_budget=Decimal("2.00"), monthly_budget=Decimal("40.00")
    )


@pytest.mark.parametrize(
    ("kind", "budget_field", "percent_at_threshold"),
    [("spend_daily", "daily_budget", 80), ("spend_monthly", "monthly_budget", 80)],
)
def test_spend_fires_when_anyone_on_the_tier_reaches_the_percent(
    tier, kind, budget_field, percent_at_threshold
):
    budget = getattr(tier, budget_field)
    rule = AlertRuleFactory(kind=kind, tier=tier, threshold=percent_at_threshold)
    ana, bo = MemberFactory(display_name="Ana"), MemberFactory(display_name="Bo")
    just_below = budget * Decimal("0.7999")
    ledger_row(ana, tier=tier, cost=str(just_below), ago=timedelta(hours=1))
    ledger_row(bo, tier=tier, cost="0.01")
    # An evaluation run's spend and another tier's spend do not count.
    ledger_row(ana, tier=tier, cost="5", channel="eval:run:1")
    ledger_row(bo, tier=Tier.objects.create(name="Other"), cost="5")

    below = rule_measure(rule=rule, now=NOW)
    assert not below.firing
    assert below.value == pytest.approx(79.99)

    ledger_row(ana, tier=tier, cost=str(budget * Decimal("0.0001")))
    at = rule_measure(rule=rule, now=NOW)
    assert at.firing and at.value == pytest.approx(80.0)
    assert "1 of 2 people on tier Pro" in at.message and "Ana 80%" in at.message


def test_daily_spend_counts_today_only_and_live_reservations(tier):
    rule = AlertRuleFactory(kind="spend_daily", tier=tier, threshold=50)
    member = MemberFactory()
    ledger_row(member, tier=tier, cost="1.50", ago=timedelta(hours=13))  # yesterday (UTC)
    assert not rule_measure(rule=rule, now=NOW).firing
    in_flight = ledger_row(member, tier=tier, cost="0", status="reserved")
    in_flight.reserved = Decimal("1.00")
    in_flight.save(update_fields=["reserved"])
    # A reservation in flight counts, as the budget check counts it (reservation life
    # is measured from the row's time, a minute ago).
    measured = rule_measure(rule=rule, now=NOW)
    assert measured.firing and measured.value == pytest.approx(50.0)


def test_spend_without_a_budget_never_fires(tier):
    tier.daily_budget = None
    tier.save()
    rule = AlertRuleFactory(kind="spend_daily", tier=tier, threshold=1)
    ledger_row(MemberFactory(), tier=tier, cost="100")
    measured = rule_measure(rule=rule, now=NOW)
    assert not measured.firing and measured.value is None


def test_error_rate_fires_at_the_percent_over_the_window():
    rule = AlertRuleFactory(kind="error_rate", threshold=25, window_minutes=10, min_questions=4)
    member = MemberFactory()
    for _ in range(3):
        ledger_row(member, mode="generated")
    ledger_row(member, mode="error", ago=timedelta(minutes=11))  # outside the window
    ledger_row(member, mode="refused")  # refused is an answer, not an error
    assert rule_measure(rule=rule, now=NOW).value == 0.0

    ledger_row(member, mode="error", ago=timedelta(minutes=9))
    measured = rule_measure(rule=rule, now=NOW)  # 1 of 5 = 20% < 25%
    assert not measured.firing and measured.value == pytest.approx(20.0)

    ledger_row(member, mode="error")  # 2 of 6 = 33%
    at = rule_measure(rule=rule, now=NOW)
    assert at.firing and "2 of 6 questions failed in the last 10 min" in at.message


def test_error_rate_at_exactly_the_threshold_fires_and_too_few_questions_stay_quiet():
    rule = AlertRuleFactory(kind="error_rate", threshold=50, min_questions=4)
    member = MemberFactory()
    ledger_row(member, mode="error")
    ledger_row(member, mode="error")
    ledger_row(member, mode="generated")
    quiet = rule_measure(rule=rule, now=NOW)  # 67%, but 3 questions < 4
    assert not quiet.firing and quiet.value is None and "too few" in quiet.message
    ledger_row(member, mode="generated")
    assert rule_measure(rule=rule, now=NOW).firing  # exactly 50%


def test_error_rate_of_one_tier_ignores_the_others(tier):
    rule = AlertRuleFactory(kind="error_rate", threshold=50, min_questions=1, tier=tier)
    member = MemberFactory()
    ledger_row(member, mode="error")  # no tier
    ledger_row(member, mode="generated", tier=tier)
    assert rule_measure(rule=rule, now=NOW).value == 0.0


def test_p95_is_the_nearest_rank():
    assert p95([float(v) for v in range(1, 101)]) == 95.0
    assert p95([5.0]) == 5.0
    assert p95([1.0, 2.0]) == 2.0


def test_latency_p95_fires_at_the_threshold():
    rule = AlertRuleFactory(kind="latency_p95", threshold=2000, window_minutes=5, min_questions=20)
    member = MemberFactory()
    for _ in range(19):
        ledger_row(member, total_ms=300.0)
    ledger_row(member, total_ms=1999.0)  # rank 19 of 20 is the p95
    ledger_row(member, total_ms=None)  # no timing: not a sample
    ledger_row(member, total_ms=60_000.0, ago=timedelta(minutes=6))  # outside the window
    assert rule_measure(rule=rule, now=NOW).value == 300.0  # p95 of 20 = the 19th

    ledger_row(member, total_ms=2000.0)  # 21 samples: rank 20 = 1999
    assert not rule_measure(rule=rule, now=NOW).firing
    ledger_row(member, total_ms=2500.0)  # 22 samples: rank 21 = 2000
    measured = rule_measure(rule=rule, now=NOW)
    assert measured.firing and measured.value == 2000.0
    assert "p95 latency 2000 ms over 22 answers" in measured.message


def test_circuit_open_fires_for_the_named_provider_or_any():
    any_rule = AlertRuleFactory(kind="circuit_open")
    one_rule = AlertRuleFactory(kind="circuit_open", provider="stub")
    ProviderCircuit.objects.create(name="other", state="closed", changed_at=NOW)
    assert not rule_measure(rule=any_rule, now=NOW).firing

    ProviderCircuit.objects.create(name="backup", state="open", changed_at=NOW, failures=5)
    assert rule_measure(rule=any_rule, now=NOW).firing
    assert not rule_measure(rule=one_rule, now=NOW).firing
    ProviderCircuit.objects.create(name="stub", state="open", changed_at=NOW, failures=3)
    measured = rule_measure(rule=one_rule, now=NOW)
    assert measured.firing and "stub (since 12:00 UTC, 3 failures)" in measured.message
    assert rule_measure(rule=any_rule, now=NOW).value == 2.0


def test_worker_down_fires_when_the_heartbeat_is_stale(settings):
    settings.ARANDU_WORKER_STALE_S = 180
    rule = AlertRuleFactory(kind="worker_down")
    now = timezone.now()
    assert rule_measure(rule=rule, now=now).firing  # no worker has ever reported

    WorkerHeartbeat.objects.create(host="box", pid=7, seen_at=now - timedelta(minutes=1))
    assert not rule_measure(rule=rule, now=now).firing
    measured = rule_measure(rule=rule, now=now + timedelta(minutes=10))
    assert measured.firing and "heartbeat" in measured.message


def test_ingestion_failures_count_documents_failed_in_the_window():
    rule = AlertRuleFactory(kind="ingestion_failures", threshold=2, window_minutes=60)
    now = timezone.now()
    DocumentFactory(status=DocumentStatus.FAILED, title="Old", error="bad")
    Document.objects.update(updated_at=now - timedelta(hours=2))
    DocumentFactory(status=DocumentStatus.FAILED, title="Scan.pdf", error="no text layer")
    DocumentFactory(status=DocumentStatus.READY)
    below = rule_measure(rule=rule, now=timezone.now())
    assert not below.firing and below.value == 1.0
    DocumentFactory(status=DocumentStatus.FAILED, title="Broken.docx", error="not a zip")
    at = rule_measure(rule=rule, now=timezone.now())
    assert at.firing and "Scan.pdf: no text layer" in at.message


def test_a_threshold_of_zero_counts_one_failed_document():
    rule = AlertRuleFactory(kind="ingestion_failures", threshold=0)
    assert not rule_measure(rule=rule).firing
    DocumentFactory(status=DocumentStatus.FAILED)
    assert rule_measure(rule=rule).firing


def test_rules_refuse_what_cannot_be_measured(tier):
    with pytest.raises(ValidationError) as spend:
        AlertRuleFactory.build(kind="spend_daily", threshold=80).full_clean()
    assert "tier" in spend.value.message_dict
    tier.monthly_budget = None
    tier.save()
    with pytest.raises(ValidationError) as no_budget:
        AlertRuleFactory.build(kind="spend_monthly", threshold=80, tier=tier).full_clean()
    assert "has no such budget" in no_budget.value.message_dict["tier"][0]
    with pytest.raises(ValidationError) as no_threshold:
        AlertRuleFactory.build(kind="latency_p95", threshold=0).full_clean()
    assert "threshold" in no_threshold.value.message_dict
    AlertRuleFactory.build(kind="circuit_open").full_clean()  # a state: no threshold needed
