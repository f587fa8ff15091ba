"""What the budget allows for one question: the models to try and the reservation, or the
hard-limit policy (downgrade, extractive, refuse), or a rate-limit refusal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from ragengine.models import HardLimitPolicy, Member, Tier
from ragengine.services.budgets import (
    Denied,
    Reservation,
    usage_open,
    usage_record_refusal,
)
from ragengine.services.generation import Step, downgrade_steps, worst_case_cost


@dataclass(slots=True)
class Plan:
    steps: list[Step]
    reservation: Reservation | None = None
    notices: list[str] = field(default_factory=list)
    refusal: str | None = None
    rate_limited: bool = False


def plan_answer(
    *, member: Member | None, tier: Tier, steps: Sequence[Step], request_id: str, where: str
) -> Plan:
    """Rate limit, then reserve the chain's worst case; on a hard limit, apply the policy."""
    if member is None:  # internal callers (benchmarks) without a ledger
        return Plan(steps=list(steps))
    opened = usage_open(
        member=member,
        tier=tier,
        worst_case=worst_case_cost(steps=steps, tier=tier),
        request_id=request_id,
        channel=where,
    )
    if isinstance(opened, Reservation):
        return Plan(steps=list(steps), reservation=opened)
    if opened.kind == "rate":
        return Plan(steps=[], refusal=opened.message, rate_limited=True)
    return _apply_hard_limit(
        member=member, tier=tier, denial=opened, request_id=request_id, where=where
    )


def _apply_hard_limit(
    *, member: Member, tier: Tier, denial: Denied, request_id: str, where: str
) -> Plan:
    policy = tier.hard_limit_policy
    if policy == HardLimitPolicy.REFUSE:
        usage_record_refusal(member=member, tier=tier, request_id=request_id, channel=where)
        return Plan(steps=[], refusal=f"{denial.message} Until then I can't answer questions.")
    if policy == HardLimitPolicy.DOWNGRADE:
        cheaper = downgrade_steps(tier=tier)
        opened = usage_open(
            member=member,
            tier=tier,
            worst_case=worst_case_cost(steps=cheaper, tier=tier),
            request_id=request_id,
            channel=where,
            check_rate=False,
        )
        if cheaper and isinstance(opened, Reservation):
            return Plan(
                steps=cheaper,
                reservation=opened,
                notices=[f"{denial.message} Meanwhile answers come from {cheaper[0].model}."],
            )
    opened = usage_open(
        member=member,
        tier=tier,
        worst_case=Decimal("0"),
        request_id=request_id,
        channel=where,
        check_rate=False,
    )
    return Plan(
        steps=[],
        reservation=opened if isinstance(opened, Reservation) else None,
        notices=[f"{denial.message} Meanwhile answers quote the documents (no AI model)."],
    )
