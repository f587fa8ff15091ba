from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from ragengine.models import Member, Tier, UsageRecord
from ragengine.selectors.usage import member_spend, periods_at
from ragengine.services.budgets import (
    Denied,
    Reservation,
    UsageDetails,
    usage_open,
    usage_settle,
)
from ragengine.services.members import member_resolve
from ragengine.services.routing import ab_arm, tier_for_member
from tests.factories import MemberFactory, UsageRecordFactory

pytestmark = pytest.mark.django_db


def test_reserve_then_settle_replaces_the_worst_case_by_the_real_cost():
    tier = Tier.objects.create(name="t", daily_budget=Decimal("1"))
    member = MemberFactory(tier=tier)
    opened = usage_open(member=member, tier=tier, worst_case=Decimal("0.6"), request_id="x")
    assert isinstance(opened, Reservation)
    assert isinstance(
        usage_open(member=member, tier=tier, worst_case=Decimal("0.6"), request_id="y"), Denied
    )

    usage_settle(reservation=opened, details=UsageDetails(mode="generated", cost=Decimal("0.1")))

    row = UsageRecord.objects.get(pk=opened.record_id)
    assert (row.status, row.cost, row.reserved) == ("settled", Decimal("0.1"), Decimal("0"))
    assert isinstance(
        usage_open(member=member, tier=tier, worst_case=Decimal("0.6"), request_id="z"),
        Reservation,
    )


def test_monthly_budget_is_enforced_across_days():
    tier = Tier.objects.create(name="t", monthly_budget=Decimal("1"))
    member = MemberFactory(tier=tier)
    now = datetime.now(UTC)
    start = periods_at(now).month_start
    UsageRecordFactory(
        member=member,
        cost=Decimal("0.9"),
        created_at=max(start, now - timedelta(days=3)) + timedelta(minutes=1),
    )

    denied = usage_open(member=member, tier=tier, worst_case=Decimal("0.2"), request_id="x")

    assert isinstance(denied, Denied) and denied.kind == "budget"
    assert "monthly budget" in denied.message


def test_new_members_get_their_workspace_default_tier():
    gold = Tier.objects.create(name="Gold")
    member = member_resolve(platform="slack", workspace_id="T1", user_id="U1")
    member.workspace.default_tier = gold
    member.workspace.save()

    again = member_resolve(platform="slack", workspace_id="T1", user_id="U1")
    other = member_resolve(platform="slack", workspace_id="T2", user_id="U1")

    assert again.pk == member.pk
    assert tier_for_member(Member.objects.get(pk=member.pk)) == gold
    assert other.pk != member.pk
    assert tier_for_member(other).is_default  # the seeded global default


def test_ab_split_is_stable_per_member_and_near_the_configured_share():
    tier = Tier.objects.create(name="ab", ab_percent=30)
    members = Member.objects.bulk_create([Member(display_name=f"m{i}") for i in range(2000)])
    members = list(Member.objects.filter(display_name__startswith="m"))
    arms = [ab_arm(member=m, tier=tier) for m in members]

    share = arms.count("B") / len(arms)
    assert 0.27 <= share <= 0.33, share
    assert arms == [ab_arm(member=m, tier=tier) for m in members]  # same person, same arm


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks are a PostgreSQL concern; run with PG"
)
def test_concurrent_reservations_never_pass_the_hard_limit():
    """50 concurrent requests, budget for 10: exactly 10 reservations succeed."""
    tier = Tier.objects.create(name="race", daily_budget=Decimal("1.00"))
    member = MemberFactory(tier=tier)
    results: list[object] = []
    barrier = threading.Barrier(50)

    def attempt(i: int) -> None:
        try:
            barrier.wait()
            results.append(
                usage_open(member=member, tier=tier, worst_case=Decimal("0.10"), request_id=str(i))
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    granted = [r for r in results if isinstance(r, Reservation)]
    assert len(results) == 50
    assert len(granted) == 10
    now = datetime.now(UTC)
    spent = member_spend(member=member, since=periods_at(now).day_start, now=now)
    assert spent == Decimal("1.00")


def test_settling_a_lost_reservation_still_records_the_usage():
    tier = Tier.objects.create(name="t")
    member = MemberFactory(tier=tier)
    opened = usage_open(member=member, tier=tier, worst_case=Decimal("0.5"), request_id="lost")
    UsageRecord.objects.filter(pk=opened.record_id).delete()  # as after a database crash

    usage_settle(reservation=opened, details=UsageDetails(mode="generated", cost=Decimal("0.2")))

    row = UsageRecord.objects.get(request_id="lost")
    assert (row.member, row.tier, row.cost, row.status) == (member, tier, Decimal("0.2"), "settled")


# --- reservations: their life, what a member is told, the sweep ------------------------------


def test_a_reservation_lives_longer_than_any_model_call_it_pays_for(settings):
    from ragengine.selectors.usage import reservation_life

    for deadline in (0.5, 120.0, 600.0):
        settings.ARANDU_MODEL_DEADLINE_S = deadline
        # A read already waiting when the deadline passes may take the time left at the
        # start of its request: a call has surely ended by twice the deadline.
        assert reservation_life() > timedelta(seconds=2 * deadline)


def test_a_budget_held_by_a_call_in_flight_is_not_called_used_up():
    tier = Tier.objects.create(name="t", daily_budget=Decimal("1"))
    member = MemberFactory(tier=tier)
    UsageRecordFactory(member=member, cost=Decimal("0.10"), created_at=datetime.now(UTC))
    usage_open(member=member, tier=tier, worst_case=Decimal("0.8"), request_id="in-flight")

    denied = usage_open(member=member, tier=tier, worst_case=Decimal("0.5"), request_id="next")

    assert isinstance(denied, Denied)
    assert "used up" not in denied.message
    assert "held by 1 unfinished question" in denied.message
    assert "$0.80 reserved" in denied.message and "$0.10 spent" in denied.message


def test_the_sweep_marks_reservations_of_dead_processes_abandoned_and_frees_the_budget(settings):
    from ragengine.selectors.usage import reservation_life
    from ragengine.services.budgets import usage_sweep

    settings.ARANDU_MODEL_DEADLINE_S = 60
    tier = Tier.objects.create(name="t", daily_budget=Decimal("1"))
    member = MemberFactory(tier=tier)
    now = datetime.now(UTC)
    usage_open(member=member, tier=tier, worst_case=Decimal("0.8"), request_id="killed", now=now)
    live = usage_open(member=member, tier=tier, worst_case=Decimal("0.1"), request_id="live")

    # While a call may still be running, nothing is swept and the budget stays held.
    assert usage_sweep(now=now + timedelta(seconds=60)) == 0
    later = now + reservation_life() + timedelta(seconds=1)
    UsageRecord.objects.filter(pk=live.record_id).update(created_at=later)

    assert usage_sweep(now=later) == 1

    killed = UsageRecord.objects.get(request_id="killed")
    assert (killed.status, killed.reserved, killed.cost) == ("abandoned", Decimal("0.8"), 0)
    assert UsageRecord.objects.get(request_id="live").status == "reserved"
    opened = usage_open(
        member=member, tier=tier, worst_case=Decimal("0.8"), request_id="again", now=later
    )
    assert isinstance(opened, Reservation)


def test_the_sweep_is_scheduled_and_its_task_runs_it():
    from django_q.models import Schedule

    from ragengine.tasks import usage_sweep_task

    schedule = Schedule.objects.get(func="ragengine.tasks.usage_sweep_task")
    assert schedule.repeats == -1
    stale = UsageRecord.objects.create(
        member=MemberFactory(), reserved=Decimal("0.3"), request_id="stale"
    )
    UsageRecord.objects.filter(pk=stale.pk).update(
        created_at=datetime.now(UTC) - timedelta(hours=2)
    )

    assert usage_sweep_task() == 1
    assert UsageRecord.objects.get(pk=stale.pk).status == "abandoned"


# --- a question's one visit to the ledger: the reservation or the hard-limit policy -----------


def _visit(member, tier, *, cheaper=None, may_wait=False, worst_case="0.5"):
    from ragengine.services.budgets import Claim, usage_open_question

    return usage_open_question(
        member=member,
        tier=tier,
        claim=Claim(worst_case=Decimal(worst_case)),
        cheaper=cheaper,
        request_id="q",
        channel="cli",
        may_wait=may_wait,
    )


def test_a_refused_question_gets_its_free_refusal_row_in_the_same_visit():
    from ragengine.services.budgets import Outcome

    tier = Tier.objects.create(name="t", daily_budget=Decimal("1"), hard_limit_policy="refuse")
    member = MemberFactory(tier=tier)
    UsageRecordFactory(member=member, cost=Decimal("0.9"), created_at=datetime.now(UTC))

    opening = _visit(member, tier)

    assert (opening.outcome, opening.reservation) == (Outcome.REFUSED, None)
    assert opening.denial is not None and opening.denial.kind == "budget"
    row = UsageRecord.objects.get(request_id="q")
    assert (row.mode, row.status, row.cost, row.reserved) == ("refused", "settled", 0, 0)
    assert (row.counts_toward_quota, row.channel, row.tier) == (False, "cli", tier)


def test_at_the_hard_limit_the_cheaper_chain_is_reserved_else_nothing_is_spent():
    from ragengine.services.budgets import Claim, Outcome

    tier = Tier.objects.create(name="t", daily_budget=Decimal("1"), hard_limit_policy="downgrade")
    member = MemberFactory(tier=tier)
    UsageRecordFactory(member=member, cost=Decimal("0.7"), created_at=datetime.now(UTC))

    cheaper = _visit(member, tier, cheaper=Claim(worst_case=Decimal("0.2")))
    free = _visit(member, tier, cheaper=Claim(worst_case=Decimal("0.2")))

    assert cheaper.outcome == Outcome.CHEAPER and cheaper.reservation.amount == Decimal("0.2")
    assert "daily budget" in cheaper.denial.message
    # The cheaper chain's 0.2 is held now: 0.1 is left, less than it needs.
    assert free.outcome == Outcome.FREE and free.reservation.amount == 0
    reserved = UsageRecord.objects.filter(request_id="q").values_list("reserved", flat=True)
    assert sorted(reserved) == [Decimal("0"), Decimal("0.2")]


def test_a_budget_held_by_questions_in_flight_is_waited_for_only_while_they_can_end():
    from ragengine.services.budgets import Outcome

    tier = Tier.objects.create(name="t", daily_budget=Decimal("1"))
    member = MemberFactory(tier=tier)
    usage_open(member=member, tier=tier, worst_case=Decimal("0.8"), request_id="in-flight")

    waiting = _visit(member, tier, may_wait=True)

    assert (waiting.outcome, waiting.reservation) == (Outcome.WAIT, None)
    assert not UsageRecord.objects.filter(request_id="q").exists()  # nothing written
    given_up = _visit(member, tier, may_wait=False)  # the caller's wait is over
    assert given_up.outcome == Outcome.FREE and given_up.denial.kind == "busy"
    assert UsageRecord.objects.get(request_id="q").reserved == 0


def test_a_rate_limited_question_writes_nothing():
    from ragengine.services.budgets import Outcome

    tier = Tier.objects.create(name="t", questions_per_hour=1, hard_limit_policy="refuse")
    member = MemberFactory(tier=tier)
    UsageRecordFactory(member=member, created_at=datetime.now(UTC))

    opening = _visit(member, tier)

    assert opening.outcome == Outcome.RATE and "1 questions per hour" in opening.denial.message
    assert not UsageRecord.objects.filter(request_id="q").exists()


def test_the_ledger_never_imports_the_rooms_above_it():
    """budgets.py is the lower room: spending.py calls it once per phase, never the
    reverse (and it knows nothing of models or answers)."""
    import ast
    from pathlib import Path

    import ragengine.services.budgets as budgets

    tree = ast.parse(Path(budgets.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    # `from ragengine.services import spending` names the module as an imported name
    imported |= {
        f"{n.module}.{a.name}"
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom)
        for a in n.names
    }
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    above = {"spending", "ask", "generation", "document_answers", "routing"}
    assert not {m for m in imported if m and m.rsplit(".", 1)[-1] in above}
