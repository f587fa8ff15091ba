"""Cache hit rate and savings per day (ledger), per knowledge set and per rule (events)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ragengine.cache import (
    RuleDecision,
    cache_lookup,
    cache_scope,
    cache_store,
)
from ragengine.models import CacheRule, KnowledgeSet, UsageRecord, UsageStatus
from ragengine.selectors.cache import NO_RULE, cache_stats
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

DAY1 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


def ledger(member, mode: str, at: datetime, *, saved="0", status=UsageStatus.SETTLED):
    row = UsageRecord.objects.create(
        member=member, status=status, mode=mode, cost_saved=Decimal(saved), request_id="r"
    )
    UsageRecord.objects.filter(pk=row.pk).update(created_at=at)


@pytest.fixture
def activity(embedder):
    handbook = KnowledgeSet.objects.create(name="handbook")
    it = KnowledgeSet.objects.create(name="it")
    rule = CacheRule.objects.create(name="facts", category="factual", ttl_seconds=864000)
    one = cache_scope(set_ids=[handbook.pk], model_family="f")
    both = cache_scope(set_ids=[handbook.pk, it.pk], model_family="f")
    week = RuleDecision(rule=rule, ttl_seconds=864000, semantic=True)
    default = RuleDecision(rule=None, ttl_seconds=864000, semantic=True)

    def store(question, scope, decision, cost):
        cache_store(
            question=question,
            query_vector=embedder.embed_query(question),
            scope=scope,
            answer={"text": "..."},
            cost=Decimal(cost),
            decision=decision,
            now=DAY1,
        )

    def ask(question, scope, at):
        hit = cache_lookup(
            question=question,
            query_vector=embedder.embed_query(question),
            scope=scope,
            allow_semantic=True,
            semantic_threshold=0.87,
            now=at,
        )
        assert hit is not None

    store("How many vacation days do I get?", one, week, "0.01")
    store("Are pets allowed?", both, default, "0.02")
    ask("How many vacation days do I get?", one, DAY1 + timedelta(minutes=1))
    ask("how many vacation days do i get", one, DAY1 + timedelta(minutes=2))
    ask("How many vacation days do I get?", one, DAY2)
    ask("Is a pet allowed?", both, DAY2 + timedelta(minutes=1))  # semantic

    member = MemberFactory()
    for _ in range(2):
        ledger(member, "generated", DAY1)
    for _ in range(2):
        ledger(member, "cached", DAY1 + timedelta(minutes=1), saved="0.01")
    ledger(member, "extractive", DAY2)
    ledger(member, "cached", DAY2, saved="0.01")
    ledger(member, "cached", DAY2, saved="0.02")
    ledger(member, "refused", DAY2)  # not an answer
    ledger(member, "generated", DAY2, status=UsageStatus.RESERVED)  # still in flight
    ledger(member, "cached", DAY2 + timedelta(days=5), saved="9")  # outside the window
    return {"handbook": handbook, "it": it, "rule": rule}


def test_totals_and_per_day_come_from_the_ledger(activity):
    stats = cache_stats(start=DAY1 - timedelta(hours=1), end=DAY2 + timedelta(hours=1))

    assert stats.total.questions == 7 and stats.total.hits == 4
    assert stats.total.cost_saved == Decimal("0.05")
    assert (stats.total.exact_hits, stats.total.semantic_hits) == (3, 1)
    assert [(r.key, r.questions, r.hits, r.cost_saved) for r in stats.per_day] == [
        ("2026-03-02", 4, 2, Decimal("0.02")),
        ("2026-03-03", 3, 2, Decimal("0.03")),
    ]
    assert [(r.exact_hits, r.semantic_hits) for r in stats.per_day] == [(2, 0), (1, 1)]
    assert stats.per_day[0].hit_rate == 0.5


def test_per_set_and_per_rule_come_from_the_cache_events(activity):
    stats = cache_stats(start=DAY1 - timedelta(hours=1), end=DAY2 + timedelta(hours=1))

    by_set = {r.key: r for r in stats.per_set}
    assert (by_set["handbook"].hits, by_set["handbook"].questions) == (4, 6)
    assert by_set["handbook"].cost_saved == Decimal("0.05")
    assert (by_set["it"].hits, by_set["it"].semantic_hits, by_set["it"].questions) == (1, 1, 2)
    by_rule = {r.key: r for r in stats.per_rule}
    assert (by_rule["facts"].hits, by_rule["facts"].questions) == (3, 4)
    assert by_rule["facts"].hit_rate == 0.75
    assert by_rule[NO_RULE].cost_saved == Decimal("0.02")


def test_names_survive_deletions_and_the_window_is_respected(activity):
    it_id = activity["it"].pk
    activity["rule"].delete()
    activity["it"].delete()
    stats = cache_stats(start=DAY2, end=DAY2 + timedelta(hours=1))

    assert {r.key for r in stats.per_rule} == {"facts", NO_RULE}
    assert {r.key for r in stats.per_set} == {"handbook", f"#{it_id} (deleted)"}
    assert stats.total.hits == 2 and stats.total.questions == 3


def test_days_are_counted_in_the_configured_time_zone(settings):
    settings.TIME_ZONE = "America/Sao_Paulo"
    member = MemberFactory()
    ledger(member, "cached", datetime(2026, 3, 3, 2, 0, tzinfo=UTC), saved="0.5")

    stats = cache_stats(start=DAY1, end=DAY2 + timedelta(days=1))

    assert [r.key for r in stats.per_day] == ["2026-03-02"]  # 23:00 the day before, locally


def test_an_empty_window_is_all_zero():
    stats = cache_stats(start=DAY1, end=DAY2)
    assert stats.total.questions == 0 and stats.total.hit_rate == 0.0
    assert stats.per_day == stats.per_set == stats.per_rule == []
