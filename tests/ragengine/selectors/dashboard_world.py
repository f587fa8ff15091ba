"""A small, hand-countable world for the dashboard tests (selectors, the page, the
browser): three people in two tiers asking over two days through four doors, one
evaluation run's row, one row before the period, feedback and content gaps.

TODAY is 2026-03-10 (UTC); the 7-day period is 03-04..03-10. The expected figures the
tests assert are worked out by hand in the tests next to each assertion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial

from ragengine.models import Member, Tier
from tests.factories import (
    FeedbackFactory,
    KnowledgeSetFactory,
    MemberFactory,
    QuestionRecordFactory,
    TierFactory,
    UsageRecordFactory,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def at(day: int, hour: int, minute: int = 0, *, today: date = TODAY) -> datetime:
    """Day `day` of March 2026 at hh:mm UTC; with another `today`, the same distance
    from it (`at(9, ...)` is the day before, `at(2, ...)` eight days before)."""
    return datetime.combine(today + timedelta(days=day - 10), time(hour, minute), tzinfo=UTC)


@dataclass
class World:
    staff: Tier
    exec: Tier
    ana: Member
    bruno: Member
    carla: Member


def asked(
    *,
    member: Member,
    tier: Tier | None,
    when: datetime,
    door: str,
    sets: list[str],
    question: str,
    mode: str = "generated",
    cost: str = "0",
    saved: str = "0",
    model: str = "gpt-4o-mini",
    provider: str = "openai",
    latencies: dict | None = None,
    not_found: bool = False,
    ledger: bool = True,
) -> str:
    """One question: its ledger row (unless `ledger` is False) and its history row."""
    question_row = QuestionRecordFactory(
        member=member,
        door=door.split(":")[0],
        channel=door,
        knowledge_sets=sets,
        question=question,
        outcome=mode,
        not_found=not_found,
        provider=provider if mode != "error" else "",
        model=model if mode != "error" else "",
        cost=Decimal(cost),
        created_at=when,
    )
    if ledger:
        UsageRecordFactory(
            member=member,
            tier=tier,
            mode=mode,
            provider=provider if mode in ("generated", "extractive") else "",
            model=model if mode in ("generated", "extractive") else "",
            cost=Decimal(cost),
            cost_saved=Decimal(saved),
            latencies_ms=latencies or {},
            request_id=question_row.request_id,
            channel=door,
            created_at=when,
        )
    return question_row.request_id


def seed_world(*, today: date = TODAY) -> World:
    """The world with TODAY at `today` (the browser test seeds it around the real date)."""
    when = partial(at, today=today)
    KnowledgeSetFactory(name="handbook")
    KnowledgeSetFactory(name="it")
    staff = TierFactory(name="staff", daily_budget=Decimal("1"), monthly_budget=Decimal("10"))
    exec_ = TierFactory(name="exec")
    eval_tier = TierFactory(name="eval:run-1")
    ana = MemberFactory(display_name="Ana", tier=staff)
    bruno = MemberFactory(display_name="Bruno", tier=staff)
    carla = MemberFactory(display_name="Carla", tier=exec_)
    robot = MemberFactory(display_name="eval robot", tier=eval_tier)

    # Today (03-10)
    r1 = asked(
        member=ana, tier=staff, when=when(10, 9), door="slack:C1", sets=["handbook"],
        question="How many vacation days do I get?", cost="0.30",
        latencies={"retrieve": 10, "generate": 100, "total": 120},
    )  # fmt: skip
    asked(
        member=ana, tier=staff, when=when(10, 10), door="slack:C1", sets=["handbook", "it"],
        question="How do I reset my laptop password?", cost="0.50", model="gpt-4o",
        latencies={"retrieve": 20, "generate": 300, "total": 400},
    )  # fmt: skip
    asked(
        member=bruno, tier=staff, when=when(10, 11), door="discord:G1", sets=["handbook"],
        question="How many vacation days do I get?", mode="cached", saved="0.20",
    )  # fmt: skip
    asked(
        member=ana, tier=staff, when=when(10, 11, 30), door="slack:C1", sets=["it"],
        question="Why is the VPN down?", mode="error", ledger=False,
    )  # fmt: skip
    asked(
        member=ana, tier=staff, when=when(10, 11, 40), door="slack:C1", sets=["handbook"],
        question="What is the guest wifi password?", mode="extractive", provider="extractive",
        model="", not_found=True, latencies={"retrieve": 5, "total": 6},
    )  # fmt: skip
    # A question in flight: it holds 0.10 of Ana's budget, no cost yet.
    UsageRecordFactory(
        member=ana, tier=staff, status="reserved", mode="", provider="", model="",
        reserved=Decimal("0.10"), channel="slack:C1", created_at=when(10, 11, 59),
    )  # fmt: skip

    # Yesterday (03-09)
    asked(
        member=carla, tier=exec_, when=when(9, 15), door="api:token:1", sets=["it"],
        question="How do I request a new monitor?", cost="1.00", model="gpt-4o",
        latencies={"retrieve": 30, "generate": 500, "total": 600},
    )  # fmt: skip
    asked(
        member=carla, tier=exec_, when=when(9, 16), door="cli:", sets=[],
        question="How do I expense a taxi?", mode="extractive", provider="extractive", model="",
        not_found=True, latencies={"retrieve": 40, "total": 50},
    )  # fmt: skip
    r6 = asked(
        member=bruno, tier=staff, when=when(9, 17), door="slack:C1", sets=["handbook"],
        question="Can I expense taxi rides?", mode="refused",
    )  # fmt: skip

    # Outside the 7 days (03-02), and an evaluation run's question today.
    asked(
        member=ana, tier=staff, when=when(2, 9), door="slack:C1", sets=["handbook"],
        question="Old question", cost="2.00",
        latencies={"retrieve": 1, "generate": 1, "total": 2},
    )  # fmt: skip
    asked(
        member=robot, tier=eval_tier, when=when(10, 8), door="eval:run:1", sets=["handbook"],
        question="Eval question", cost="5.00", latencies={"total": 9999},
    )  # fmt: skip

    FeedbackFactory(
        member=ana, request_id=r1, value=1, comment="Spot on", created_at=when(10, 9, 5)
    )
    FeedbackFactory(
        member=bruno, request_id=r6, value=-1, comment="No answer at all", created_at=when(9, 17, 5)
    )
    FeedbackFactory(member=carla, request_id="other", value=1, created_at=when(9, 18))
    FeedbackFactory(
        member=robot, request_id="evalq", value=-1, platform="eval", created_at=when(10, 8)
    )
    return World(staff=staff, exec=exec_, ana=ana, bruno=bruno, carla=carla)
