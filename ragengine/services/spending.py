"""What a question may spend, and what it did: the planner above `budgets.py` (the
ledger). It calls the ledger once per phase of a question, and the ledger never calls back:

- plan (`plan_answer`): the chain's worst case and, for the downgrade policy, the cheaper
  chain's, then one visit to the ledger (`usage_open_question`: the rate limit, the
  reservation, or at the hard limit the tier's policy); from what it did, the models to
  try and the limits of their calls (output tokens, deadline, money) with the policy's
  notice (downgrade, extractive), or the refusal (rate limit, refuse).
- a cached answer (`serve_cached`): the reservation settled at 0, or one free row.
- settle: a paid call's cost the moment it returns (`plan_settle`), what the calls cost
  after a failure (`plan_release`), or a fresh answer's end (`plan_finish`: settled once,
  and the soft-limit notice).

Near the limit the reservation may be less than the worst case: each call's output is
then capped to what is left (`generation.CallLimits`), down to the tier's floor
(`Tier.min_output_tokens`). When what is missing is held by the member's own questions in
flight (they settle to their real, usually far lower cost), the question waits for them,
up to `ARANDU_BUDGET_WAIT_S` and no longer than their calls may run, asking the ledger
again after each pause.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from ragengine import metrics
from ragengine.ask_types import Answer, AnswerMode, Refusal
from ragengine.cache import CacheHit, ModelFamily, answer_from_hit
from ragengine.models import HardLimitPolicy, Member, Tier
from ragengine.services.budgets import (
    Claim,
    Opening,
    Outcome,
    Reservation,
    UsageDetails,
    usage_finish,
    usage_open_question,
    usage_record_cached,
    usage_settle,
)
from ragengine.services.generation import (
    CallLimits,
    Charge,
    Step,
    charges_cost,
    downgrade_steps,
    steps_family,
)
from ragengine.services.routing import Route

logger = logging.getLogger(__name__)

# Pauses while waiting for the member's questions in flight to settle.
BUSY_FIRST_PAUSE_S = 0.02
BUSY_MAX_PAUSE_S = 0.25


@dataclass(slots=True)
class Plan:
    steps: list[Step]
    reservation: Reservation | None = None
    notices: list[str] = field(default_factory=list)
    refusal: str | None = None
    rate_limited: bool = False
    arm: str = ""
    max_output_tokens: int = 0  # per call; `allowance` may cap it further
    min_output_tokens: int = 1
    allowance: Decimal | None = None  # the money the calls may spend (under a budget)
    deadline: float | None = None  # time.monotonic() by which every model call has ended
    charges: list[Charge] = field(default_factory=list)  # what the calls cost, as they end
    settled: bool = False

    @property
    def family(self) -> ModelFamily:
        return steps_family(self.steps)

    def call_limits(self, *, prompt_tokens: int) -> CallLimits:
        return CallLimits(
            max_tokens=self.max_output_tokens,
            deadline=self.deadline,
            allowance=self.allowance,
            min_tokens=self.min_output_tokens,
            prompt_tokens=prompt_tokens,
        )


def plan_answer(*, member: Member | None, route: Route, request_id: str, where: str) -> Plan:
    """Rate limit, then reserve the chain's worst case (or what is left, near the limit);
    on a hard limit, apply the policy. What the ledger needs is worked out first, the
    ledger is asked once (again only while the member's questions in flight hold the
    budget), and what it did becomes the plan."""
    tier, steps, arm = route.tier, route.steps, route.arm
    if member is None:  # internal callers (benchmarks) without a ledger
        return _plan(steps=steps, tier=tier, reservation=None, arm=arm)
    cheaper = _downgrade_chain(tier)
    opening = _open_waiting(
        member=member,
        tier=tier,
        claim=_claim(steps=steps, tier=tier),
        cheaper=_claim(steps=cheaper, tier=tier) if cheaper else None,
        request_id=request_id,
        where=where,
    )
    return _plan_from(opening, steps=steps, cheaper=cheaper, tier=tier, arm=arm)


def _downgrade_chain(tier: Tier) -> list[Step]:
    """The downgrade policy's cheaper chain, looked up only where a hard limit can reach
    it (a tier with a budget)."""
    budgeted = tier.daily_budget is not None or tier.monthly_budget is not None
    if tier.hard_limit_policy != HardLimitPolicy.DOWNGRADE or not budgeted:
        return []
    return downgrade_steps(tier=tier)


def _claim(*, steps: Sequence[Step], tier: Tier) -> Claim:
    """What the chain may cost: its worst case and, when the tier's floor is below its
    output cap, the least worth reserving (the worst case at the floor)."""
    floor = min(tier.min_output_tokens, tier.max_output_tokens)
    minimum = None
    if steps and floor < tier.max_output_tokens:
        minimum = worst_case_cost(steps=steps, tier=tier, max_output_tokens=floor)
    return Claim(worst_case=worst_case_cost(steps=steps, tier=tier), minimum=minimum)


def worst_case_cost(
    *, steps: Sequence[Step], tier: Tier, max_output_tokens: int | None = None
) -> Decimal:
    """Most any step of the chain could cost: the whole context budget in, max tokens out
    (or `max_output_tokens`)."""
    out = tier.max_output_tokens if max_output_tokens is None else max_output_tokens
    return max(
        (
            s.worst_case(prompt_tokens=tier.context_token_budget, max_output_tokens=out)
            for s in steps
        ),
        default=Decimal("0"),
    )


def _open_waiting(
    *,
    member: Member,
    tier: Tier,
    claim: Claim,
    cheaper: Claim | None,
    request_id: str,
    where: str,
) -> Opening:
    """The ledger's answer, asked again while the member's reservations in flight are
    what blocks: each settles to its real cost (usually far below its worst case) within
    seconds. Not past `ARANDU_BUDGET_WAIT_S`, nor past the end of their deadline (the
    ledger then applies the hard-limit policy): a reservation whose calls should be over
    belongs to a process that died, and only ages out (see `reservation_life`)."""
    give_up_at = time.monotonic() + settings.ARANDU_BUDGET_WAIT_S
    pause = BUSY_FIRST_PAUSE_S

    def ask_ledger() -> Opening:
        return usage_open_question(
            member=member,
            tier=tier,
            claim=claim,
            cheaper=cheaper,
            request_id=request_id,
            channel=where,
            may_wait=time.monotonic() + pause <= give_up_at,
        )

    opening = ask_ledger()
    if opening.outcome == Outcome.WAIT:
        logger.info("waiting for questions in flight", extra={"request_id": request_id})
    while opening.outcome == Outcome.WAIT:
        time.sleep(pause)
        pause = min(pause * 2, BUSY_MAX_PAUSE_S)
        opening = ask_ledger()
    return opening


def _plan_from(
    opening: Opening, *, steps: Sequence[Step], cheaper: Sequence[Step], tier: Tier, arm: str
) -> Plan:
    """The plan for what the ledger did: the chain; a refusal (rate limit, or the refuse
    policy); or, at the hard limit, the cheaper chain or extractive answers, with a notice."""
    denial, reservation = opening.denial, opening.reservation
    if opening.outcome == Outcome.CHAIN:  # the chain's claim reserved
        return _plan(steps=steps, tier=tier, reservation=reservation, arm=arm)
    if opening.outcome == Outcome.RATE:
        metrics.record_rate_limited(tier=tier.name)
        return Plan(steps=[], refusal=denial.message, rate_limited=True)
    if opening.outcome == Outcome.REFUSED:
        metrics.record_budget_refusal(tier=tier.name, kind=denial.kind)
        return Plan(steps=[], refusal=f"{denial.message} Until then I can't answer questions.")
    if opening.outcome == Outcome.CHEAPER:
        plan = _plan(steps=cheaper, tier=tier, reservation=reservation, arm=arm)
        plan.notices = [f"{denial.message} Meanwhile answers come from {cheaper[0].model}."]
        return plan
    plan = _plan(steps=[], tier=tier, reservation=reservation, arm=arm)
    plan.notices = [f"{denial.message} Meanwhile answers quote the documents (no AI model)."]
    return plan


def _plan(*, steps: Sequence[Step], tier: Tier, reservation: Reservation | None, arm: str) -> Plan:
    """The plan for a granted reservation: its deadline starts now, and under a budget
    the calls may spend what is reserved, no more."""
    budgeted = reservation is not None and (
        tier.daily_budget is not None or tier.monthly_budget is not None
    )
    return Plan(
        steps=list(steps),
        reservation=reservation,
        arm=arm,
        max_output_tokens=tier.max_output_tokens,
        min_output_tokens=min(tier.min_output_tokens, tier.max_output_tokens),
        allowance=reservation.amount if budgeted and reservation is not None else None,
        deadline=time.monotonic() + settings.ARANDU_MODEL_DEADLINE_S,
    )


def serve_cached(
    *,
    hit: CacheHit,
    plan: Plan | None,
    member: Member | None,
    tier: Tier,
    request_id: str,
    where: str,
    latencies_ms: dict[str, float],
) -> Answer:
    """A cached answer and its ledger row: the question's reservation settled at cost 0
    when it has one (a hit found after reserving), else one free row (nothing can be
    spent). A hit counts toward the question quota as the tier says, never while the
    member is rate-limited; Refusal when it counts and the quota is used up."""
    answer = answer_from_hit(hit=hit, request_id=request_id)
    rate_limited = plan is not None and plan.rate_limited
    details = UsageDetails(
        mode=AnswerMode.CACHED,
        provider=answer.provider,
        model=answer.model,
        cost_saved=hit.cost_saved,
        latencies_ms=dict(latencies_ms),
        counts_toward_quota=tier.cache_hits_count_toward_quota and not rate_limited,
    )
    if plan is not None and plan.reservation is not None:
        plan_settle(plan=plan, details=details)
    elif member is not None:
        denied = usage_record_cached(
            member=member, tier=tier, request_id=request_id, channel=where, details=details
        )
        if denied is not None:
            metrics.record_budget_refusal(tier=tier.name, kind=denied.kind)
            raise Refusal(denied.message)
    return answer


def plan_settle(*, plan: Plan, details: UsageDetails) -> None:
    """Settle the plan's reservation with `details`, once: the first settlement (made the
    moment a paid call returns) is the one that counts; later calls do nothing."""
    if plan.reservation is None or plan.settled:
        return
    usage_settle(reservation=plan.reservation, details=details)
    plan.settled = True


def plan_release(plan: Plan | None) -> None:
    """After a failure: settle what the model calls have cost so far (nothing, if none was
    billed), off the quota. Never 0 for a call the provider billed."""
    if plan is None:
        return
    charges = plan.charges
    last = charges[-1].step if charges else None
    plan_settle(
        plan=plan,
        details=UsageDetails(
            mode="error",
            provider=last.endpoint.name if last else "",
            model=last.model if last else "",
            tokens_in=sum(c.tokens_in for c in charges),
            tokens_out=sum(c.tokens_out for c in charges),
            cost=charges_cost(charges),
            counts_toward_quota=False,
        ),
    )


def plan_finish(*, plan: Plan | None, answer: Answer, details: UsageDetails) -> None:
    """Settle a fresh answer's reservation (a paid call's settlement, made the moment it
    returned, stays the one that counts) and put the soft-limit notice on the answer."""
    if plan is None or plan.reservation is None:
        return
    details.arm = plan.arm if details.mode == AnswerMode.GENERATED else ""
    soft = usage_finish(reservation=plan.reservation, details=details, already_settled=plan.settled)
    plan.settled = True
    if soft and not plan.notices:  # a hard-limit notice already says more
        answer.notices.insert(0, soft)
