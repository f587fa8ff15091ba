"""Budgets and rate limits over the usage ledger: the room below `spending.py`, which
calls it once per phase of a question and is never called back from here.

Spend for a period is a sum over `UsageRecord` rows in that period's window (in the
configured time zone), so nothing is ever reset. Before a call the worst-case cost is
reserved in a ledger row inside a transaction that holds the member's row lock (and, on
SQLite, the database write lock), so concurrent requests are checked one after another
and can never push spend past the hard limit. Near the limit a caller may accept less
than the worst case (`minimum`): it then gets what is left and must keep the call within
it. A question's whole visit (`usage_open_question`) decides in that one transaction:
the rate limit, the chain's reservation, or at the hard limit the tier's policy (the
cheaper chain's reservation, a free one, or a refusal row). After the call the row is
settled to the real cost; a row its process never settled stops counting after
`reservation_life()` and is swept as abandoned.

One module on purpose, though longer than most: every decision here (rate, budget, the
policy at the hard limit, the notices quoting them) reads the same totals under the same
member lock and writes its row in that transaction; split, the lock and the totals would
have to travel between modules, and the one place that keeps spend under the limit would
be two.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import partial
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ragengine.models import HardLimitPolicy, Member, Tier, UsageRecord, UsageStatus
from ragengine.selectors.usage import (
    Periods,
    SpendTotals,
    member_totals,
    periods_at,
    reservation_life,
)
from ragengine.services.dashboard_rollups import rollups_invalidate_at
from ragengine.transactions import relax_commit_durability

logger = logging.getLogger(__name__)

ZERO = Decimal("0")


@dataclass(frozen=True, slots=True)
class BudgetState:
    """Where the member stands after this reservation (for notices)."""

    daily_spent: Decimal
    monthly_spent: Decimal
    daily_budget: Decimal | None
    monthly_budget: Decimal | None
    soft_limit_percent: int
    periods: Periods

    def soft_limit_notice(self, *, extra: Decimal = ZERO) -> str | None:
        """Notice once spend (plus `extra`, this answer's real cost) passes the soft limit."""
        for label, spent, budget, renews in (
            ("daily", self.daily_spent + extra, self.daily_budget, self.periods.day_end),
            ("monthly", self.monthly_spent + extra, self.monthly_budget, self.periods.month_end),
        ):
            if budget and spent >= budget * Decimal(self.soft_limit_percent) / 100:
                percent = int(spent / budget * 100)
                return (
                    f"You have used {percent}% of your {label} budget "
                    f"({_money(spent)} of {_money(budget)}); it renews {_when(renews)}."
                )
        return None


@dataclass(frozen=True, slots=True)
class Reservation:
    record_id: int
    state: BudgetState
    amount: Decimal = ZERO  # what is reserved: the call(s) must cost no more
    member_id: int = 0
    tier_id: int | None = None
    request_id: str = ""
    channel: str = ""
    counts_toward_quota: bool = True
    created_at: datetime | None = None  # the ledger row's time (the day it counts on)


@dataclass(frozen=True, slots=True)
class Denied:
    """Why a call can't go ahead. `kind` is "rate" (ask later), "budget" (used up: the
    policy applies) or "busy" (the member's questions in flight hold what is left; it
    frees when they settle to their real cost)."""

    kind: str
    message: str
    renews_at: datetime
    settles_by: datetime | None = None  # "busy": when the calls in flight must have ended


@dataclass(slots=True)
class UsageDetails:
    mode: str
    provider: str = ""
    model: str = ""
    arm: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Decimal = ZERO
    cost_saved: Decimal = ZERO
    latencies_ms: dict[str, float] = field(default_factory=dict)
    counts_toward_quota: bool | None = None  # None: keep what the reservation said


@dataclass(frozen=True, slots=True)
class Claim:
    """What a chain of models may cost one question: its worst case and, near the limit,
    the least worth reserving (None: the worst case or nothing)."""

    worst_case: Decimal
    minimum: Decimal | None = None


class Outcome(StrEnum):
    """What the ledger did for a question (`usage_open_question`)."""

    CHAIN = "chain"  # the chain's claim reserved
    RATE = "rate"  # rate-limited: nothing written
    WAIT = "wait"  # the member's questions in flight hold what is left: nothing written yet
    CHEAPER = "cheaper"  # hard limit, downgrade: the cheaper chain's claim reserved
    FREE = "free"  # hard limit: a reservation of 0 (answers quote the documents)
    REFUSED = "refused"  # hard limit, refuse: a free, off-quota refusal row


@dataclass(frozen=True, slots=True)
class Opening:
    """The ledger's answer to a question: what it did, the reservation it made (CHAIN,
    CHEAPER, FREE) and why the chain's claim was not reserved (every other outcome)."""

    outcome: Outcome
    reservation: Reservation | None = None
    denial: Denied | None = None


def _money(value: Decimal) -> str:
    return f"${value.quantize(Decimal('0.01'))}" if value >= Decimal("0.01") else f"${value:.4f}"


def _when(moment: datetime) -> str:
    local = moment.astimezone(ZoneInfo(settings.TIME_ZONE))
    now = timezone.now().astimezone(local.tzinfo)
    if local.date() == now.date():
        return f"at {local:%H:%M} ({settings.TIME_ZONE})"
    if local.date() == (now + timedelta(days=1)).date():
        return f"at {local:%H:%M} tomorrow ({settings.TIME_ZONE})"
    return f"on {local:%Y-%m-%d %H:%M} ({settings.TIME_ZONE})"


def _rate_denial(tier: Tier, totals: SpendTotals, periods: Periods) -> Denied | None:
    per_hour = tier.questions_per_hour
    if per_hour is not None and totals.hour_questions >= per_hour:
        # The oldest question in the window leaves it first.
        free_at = (totals.oldest_in_hour or periods.hour_start) + timedelta(hours=1)
        return Denied(
            kind="rate",
            message=(
                f"You've reached the limit of {per_hour} questions per hour. "
                f"You can ask again {_when(free_at)}."
            ),
            renews_at=free_at,
        )
    per_day = tier.questions_per_day
    if per_day is not None and totals.day_questions >= per_day:
        return Denied(
            kind="rate",
            message=(
                f"You've reached the limit of {per_day} questions per day. "
                f"You can ask again {_when(periods.day_end)}."
            ),
            renews_at=periods.day_end,
        )
    return None


def _budget_grant(
    tier: Tier, totals: SpendTotals, worst_case: Decimal, minimum: Decimal | None, periods: Periods
) -> Decimal | Denied:
    """What to reserve: `worst_case` when every budget has room for it, else (when the
    caller accepts `minimum`) what the tightest budget has left, if at least `minimum`.

    Denied "budget" when settled spend alone leaves too little (truly used up), "busy"
    when what is missing is held by the member's reservations in flight."""
    if worst_case <= 0:
        return ZERO  # nothing can be spent: no budget to check
    need = worst_case if minimum is None else min(minimum, worst_case)
    grant, busy = worst_case, None
    for label, spent, reserved, budget, renews in (
        ("daily", totals.day_spent, totals.day_reserved, tier.daily_budget, periods.day_end),
        (
            "monthly",
            totals.month_spent,
            totals.month_reserved,
            tier.monthly_budget,
            periods.month_end,
        ),
    ):
        if budget is None:
            continue
        settled = spent - reserved
        if settled + need > budget:
            return Denied(
                kind="budget",
                message=(
                    f"Your {label} budget of {_money(budget)} is used up "
                    f"({_money(settled)} spent); it renews {_when(renews)}."
                ),
                renews_at=renews,
            )
        left = budget - spent
        if left < need:
            busy = busy or _busy_denial(label, budget, settled, reserved, totals)
        grant = min(grant, left)
    return busy if busy is not None else grant


def _busy_denial(
    label: str, budget: Decimal, settled: Decimal, reserved: Decimal, totals: SpendTotals
) -> Denied:
    """What is missing is held by reservations in flight: not "used up". They are
    released when their questions end (settled at their real cost) or, for a question
    whose process died, once no call of it can still be running."""
    newest = totals.newest_in_flight or timezone.now()
    free_at = newest + reservation_life()
    count = totals.in_flight
    questions = "1 unfinished question" if count == 1 else f"{count} unfinished questions"
    return Denied(
        kind="busy",
        message=(
            f"The rest of your {label} budget of {_money(budget)} is held by {questions} "
            f"({_money(reserved)} reserved, {_money(settled)} spent); it is released when "
            f"they end, {_when(free_at)} at the latest."
        ),
        renews_at=free_at,
        settles_by=newest + timedelta(seconds=settings.ARANDU_MODEL_DEADLINE_S),
    )


def usage_open_question(
    *,
    member: Member,
    tier: Tier,
    claim: Claim,
    cheaper: Claim | None,
    request_id: str,
    channel: str,
    may_wait: bool,
) -> Opening:
    """A question's visit to the ledger before its model calls, decided in one transaction
    under the member's lock: the rate limit, then the chain's `claim` reserved (or what is
    left, down to its minimum); at the hard limit the tier's policy: refuse (a refusal
    row), or downgrade (the `cheaper` chain's claim, when given and affordable), else a
    reservation of 0 (answers quote the documents).

    When what is missing is held by the member's questions in flight and their calls may
    still be running, a caller that `may_wait` gets WAIT and nothing is written: they
    settle to their real cost within seconds, and it asks again."""
    now = timezone.now()
    periods = periods_at(now)
    with _member_locked(member, periods=periods, now=now) as totals:
        rate = _rate_denial(tier, totals, periods)
        if rate:
            return Opening(Outcome.RATE, denial=rate)
        reserve = partial(
            _reserve,
            member=member,
            tier=tier,
            state=_budget_state(tier, totals, periods),
            request_id=request_id,
            channel=channel,
        )
        grant = _budget_grant(tier, totals, claim.worst_case, claim.minimum, periods)
        if not isinstance(grant, Denied):
            return Opening(Outcome.CHAIN, reservation=reserve(amount=grant))
        if grant.kind == "busy" and may_wait and not _calls_over(grant):
            return Opening(Outcome.WAIT, denial=grant)
        if tier.hard_limit_policy == HardLimitPolicy.REFUSE:
            _record_refusal(member=member, tier=tier, request_id=request_id, channel=channel)
            return Opening(Outcome.REFUSED, denial=grant)
        if tier.hard_limit_policy == HardLimitPolicy.DOWNGRADE and cheaper is not None:
            lower = _budget_grant(tier, totals, cheaper.worst_case, cheaper.minimum, periods)
            if not isinstance(lower, Denied):
                return Opening(Outcome.CHEAPER, reservation=reserve(amount=lower), denial=grant)
        return Opening(Outcome.FREE, reservation=reserve(amount=ZERO), denial=grant)


def usage_open(
    *,
    member: Member,
    tier: Tier,
    worst_case: Decimal,
    request_id: str,
    minimum: Decimal | None = None,
    channel: str = "",
    counts_toward_quota: bool = True,
    now: datetime | None = None,
) -> Reservation | Denied:
    """Check rate limits and budgets, then reserve `worst_case` in a new ledger row, or
    (given a `minimum`) less when that is all the budget has left: `Reservation.amount`
    says how much, and the caller must keep the call within it. The reservation alone,
    without a hard-limit policy: a question's visit (`usage_open_question`) does this
    first, then the policy, in the same transaction.

    The member row lock serialises this member's concurrent requests on PostgreSQL; on
    SQLite the IMMEDIATE transaction mode (see settings) serialises all writers.
    """
    now = now or timezone.now()
    periods = periods_at(now)
    with _member_locked(member, periods=periods, now=now) as totals:
        denial = _rate_denial(tier, totals, periods)
        if denial:
            return denial
        grant = _budget_grant(tier, totals, worst_case, minimum, periods)
        if isinstance(grant, Denied):
            return grant
        return _reserve(
            member=member,
            tier=tier,
            amount=grant,
            state=_budget_state(tier, totals, periods),
            request_id=request_id,
            channel=channel,
            counts_toward_quota=counts_toward_quota,
        )


@contextmanager
def _member_locked(member: Member, *, periods: Periods, now: datetime) -> Iterator[SpendTotals]:
    """A transaction holding the member's lock, with their totals read under it. Its
    commit does not wait for the disk flush: a reservation lost in a database crash is
    recorded when it settles (`usage_settle`), a refusal row costs nothing."""
    with transaction.atomic():
        relax_commit_durability()
        _lock_member(member)
        yield member_totals(member=member, periods=periods, now=now)


def _lock_member(member: Member) -> None:
    """Serialise this member's checks. PostgreSQL: a row lock (one cheap statement; the
    ORM's select_for_update().first() fetched and ordered the whole row). SQLite: the
    IMMEDIATE transaction already holds the database write lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT 1 FROM {Member._meta.db_table} WHERE id = %s FOR UPDATE", [member.pk]
            )


def _budget_state(tier: Tier, totals: SpendTotals, periods: Periods) -> BudgetState:
    return BudgetState(
        daily_spent=totals.day_spent,
        monthly_spent=totals.month_spent,
        daily_budget=tier.daily_budget,
        monthly_budget=tier.monthly_budget,
        soft_limit_percent=tier.soft_limit_percent,
        periods=periods,
    )


def _calls_over(denial: Denied) -> bool:
    """A "busy" denial whose calls in flight should have ended: their process died, and
    waiting frees nothing (the reservation only ages out, see `reservation_life`)."""
    return denial.settles_by is not None and denial.settles_by <= timezone.now()


def _reserve(
    *,
    member: Member,
    tier: Tier,
    amount: Decimal,
    state: BudgetState,
    request_id: str,
    channel: str,
    counts_toward_quota: bool = True,
) -> Reservation:
    """The ledger row holding `amount` until its question settles."""
    record = UsageRecord.objects.create(
        member=member,
        tier=tier if tier.pk else None,
        status=UsageStatus.RESERVED,
        reserved=amount,
        request_id=request_id,
        channel=channel[:120],
        counts_toward_quota=counts_toward_quota,
    )
    return Reservation(
        record_id=record.pk,
        state=state,
        amount=amount,
        member_id=member.pk,
        tier_id=record.tier_id,
        request_id=request_id,
        created_at=record.created_at,
        channel=record.channel,
        counts_toward_quota=counts_toward_quota,
    )


def _record_refusal(*, member: Member, tier: Tier | None, request_id: str, channel: str) -> None:
    """A question refused by the budget policy: in the ledger, but free and off-quota."""
    UsageRecord.objects.create(
        member=member,
        tier=tier if tier and tier.pk else None,
        status=UsageStatus.SETTLED,
        mode="refused",
        request_id=request_id,
        channel=channel[:120],
        counts_toward_quota=False,
    )


def usage_settle(*, reservation: Reservation, details: UsageDetails) -> None:
    """Replace the reservation by the real cost, in one update."""
    fields = {
        "counts_toward_quota": (
            reservation.counts_toward_quota
            if details.counts_toward_quota is None
            else details.counts_toward_quota
        )
    }
    fields.update(
        status=UsageStatus.SETTLED,
        reserved=ZERO,
        cost=details.cost,
        cost_saved=details.cost_saved,
        mode=details.mode,
        provider=details.provider[:60],
        model=details.model[:120],
        arm=details.arm,
        tokens_in=details.tokens_in,
        tokens_out=details.tokens_out,
        latencies_ms={k: round(v, 3) for k, v in details.latencies_ms.items()},
    )
    updated = UsageRecord.objects.filter(pk=reservation.record_id).update(**fields)
    # Settled after its day closed (a question across midnight): that day's rollup is stale.
    rollups_invalidate_at(created_at=reservation.created_at)
    if not updated:
        # The reservation was lost (database crash before its flush): record the usage.
        UsageRecord.objects.create(
            member_id=reservation.member_id,
            tier_id=reservation.tier_id,
            request_id=reservation.request_id,
            channel=reservation.channel,
            **fields,
        )
        logger.warning(
            "reservation lost; usage recorded at settlement",
            extra={"request_id": reservation.request_id},
        )


def usage_finish(
    *, reservation: Reservation, details: UsageDetails, already_settled: bool
) -> str | None:
    """An answered question's end in the ledger: its reservation settled with `details`
    (unless a paid call's settlement, made the moment it returned, already did: that one
    counts), and the soft-limit notice when the member's spend with this answer's cost
    passes the soft limit."""
    if not already_settled:
        usage_settle(reservation=reservation, details=details)
    return reservation.state.soft_limit_notice(extra=details.cost)


def usage_record_cached(
    *,
    member: Member,
    tier: Tier,
    request_id: str,
    channel: str,
    details: UsageDetails,
    now: datetime | None = None,
) -> Denied | None:
    """A cache hit: rate-limit check (when hits count) and a settled, free ledger row in
    one transaction; no reservation is needed since nothing can be spent."""
    now = now or timezone.now()
    periods = periods_at(now)
    counts = bool(details.counts_toward_quota)
    with transaction.atomic():
        relax_commit_durability()  # a free row: losing it in a crash loses no money
        if counts:
            _lock_member(member)
            denial = _rate_denial(
                tier, member_totals(member=member, periods=periods, now=now), periods
            )
            if denial:
                return denial
        UsageRecord.objects.create(
            member=member,
            tier=tier if tier.pk else None,
            status=UsageStatus.SETTLED,
            mode=details.mode,
            provider=details.provider[:60],
            model=details.model[:120],
            cost_saved=details.cost_saved,
            counts_toward_quota=counts,
            request_id=request_id,
            channel=channel[:120],
        )
    return None


def usage_sweep(*, now: datetime | None = None) -> int:
    """Mark reservations that outlived every call they could pay for as abandoned (their
    process died between reserving and settling); returns how many.

    They had already stopped counting as spend (`reservation_life`); abandoned, they no
    longer look like calls in flight. Their amount stays in `reserved` and they are
    logged, because the call may have been made and billed before the process died:
    admins can match them against the provider's bill (admin → Usage records, status)."""
    now = now or timezone.now()
    stale = UsageRecord.objects.filter(
        status=UsageStatus.RESERVED, created_at__lt=now - reservation_life()
    )
    found = list(stale.values_list("pk", "request_id", "reserved")[:1000])
    if not found:
        return 0
    swept = UsageRecord.objects.filter(
        pk__in=[pk for pk, _, _ in found], status=UsageStatus.RESERVED
    ).update(status=UsageStatus.ABANDONED)
    logger.warning(
        "abandoned reservations swept",
        extra={
            "reservations": swept,
            "reserved": str(sum((amount for _, _, amount in found), ZERO)),
            "request_ids": [request_id for _, request_id, _ in found[:20]],
        },
    )
    return swept
