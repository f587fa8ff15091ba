"""Reads over the answer cache: hit rate and savings per day, per knowledge set, per rule.

Two sources, each the authority for what it knows:
- per day and in total, the usage ledger: every answered question is a `UsageRecord`
  (mode generated, extractive or cached), a hit is one with mode `cached` and its
  `cost_saved`. Hit rate = cached / answered.
- per knowledge set and per rule, `CacheEvent`: the ledger doesn't know which entry
  served a hit. Each hit (exact or semantic) and each store (a cacheable question that
  missed and was answered) is an event carrying the entry's sets and rule. Hit rate =
  hits / (hits + stores): the share of cacheable questions the cache served. A hit over
  several sets counts for each of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, TruncDate

from ragengine.models import (
    CachedAnswer,
    CacheEvent,
    CacheEventKind,
    KnowledgeSet,
    UsageRecord,
    UsageStatus,
)

ZERO = Decimal("0")
ANSWERED_MODES = ("generated", "extractive", "cached")
NO_RULE = "(default TTL)"
NO_SETS = "(no knowledge sets)"


@dataclass(frozen=True, slots=True)
class CacheStatsRow:
    key: str
    questions: int
    hits: int
    exact_hits: int
    semantic_hits: int
    cost_saved: Decimal

    @property
    def hit_rate(self) -> float:
        return self.hits / self.questions if self.questions else 0.0


@dataclass(frozen=True, slots=True)
class CacheStats:
    total: CacheStatsRow
    per_day: list[CacheStatsRow]
    per_set: list[CacheStatsRow]
    per_rule: list[CacheStatsRow]


def cache_stats(*, start: datetime, end: datetime) -> CacheStats:
    """Cache effectiveness in [start, end); days in ARANDU_TIME_ZONE."""
    zone = ZoneInfo(settings.TIME_ZONE)
    events = CacheEvent.objects.filter(created_at__gte=start, created_at__lt=end)
    kinds_by_day: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in (
        events.exclude(kind=CacheEventKind.STORE)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day", "kind")
        .annotate(n=Count("pk"))
    ):
        kinds_by_day[row["day"]][row["kind"]] += row["n"]

    ledger = UsageRecord.objects.filter(
        status=UsageStatus.SETTLED,
        mode__in=ANSWERED_MODES,
        created_at__gte=start,
        created_at__lt=end,
    )
    aggregates = {
        "questions": Count("pk"),
        "hits": Count("pk", filter=Q(mode="cached")),
        "saved": Coalesce(Sum("cost_saved"), ZERO),
    }
    per_day = []
    for row in (
        ledger.annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day")
        .annotate(**aggregates)
        .order_by("day")
    ):
        kinds = kinds_by_day.get(row["day"], {})
        per_day.append(
            CacheStatsRow(
                key=row["day"].isoformat(),
                questions=row["questions"],
                hits=row["hits"],
                exact_hits=kinds.get(CacheEventKind.EXACT, 0),
                semantic_hits=kinds.get(CacheEventKind.SEMANTIC, 0),
                cost_saved=row["saved"],
            )
        )
    totals = ledger.aggregate(**aggregates)
    total = CacheStatsRow(
        key="total",
        questions=totals["questions"],
        hits=totals["hits"],
        exact_hits=sum(k.get(CacheEventKind.EXACT, 0) for k in kinds_by_day.values()),
        semantic_hits=sum(k.get(CacheEventKind.SEMANTIC, 0) for k in kinds_by_day.values()),
        cost_saved=totals["saved"],
    )
    per_set, per_rule = _by_set_and_rule(events)
    return CacheStats(total=total, per_day=per_day, per_set=per_set, per_rule=per_rule)


def _by_set_and_rule(events) -> tuple[list[CacheStatsRow], list[CacheStatsRow]]:
    """Grouped in Python: a JSON list of set ids can't be grouped portably (SQLite)."""
    by_set: dict[int | None, dict] = defaultdict(_counter)
    by_rule: dict[str, dict] = defaultdict(_counter)
    for kind, sets, rule_name, saved in events.values_list(
        "kind", "scope_sets", "rule_name", "cost_saved"
    ):
        for bucket in [by_set[s] for s in (sets or [None])] + [by_rule[rule_name or NO_RULE]]:
            bucket[kind] += 1
            bucket["saved"] += saved if kind != CacheEventKind.STORE else ZERO
    names = dict(
        KnowledgeSet.objects.filter(pk__in=[s for s in by_set if s is not None]).values_list(
            "pk", "name"
        )
    )

    def set_name(set_id: int | None) -> str:
        if set_id is None:
            return NO_SETS
        return names.get(set_id, f"#{set_id} (deleted)")

    return (
        _rows({set_name(s): c for s, c in by_set.items()}),
        _rows(dict(by_rule)),
    )


def _counter() -> dict:
    return {
        CacheEventKind.EXACT: 0,
        CacheEventKind.SEMANTIC: 0,
        CacheEventKind.STORE: 0,
        "saved": ZERO,
    }


def _rows(counters: dict[str, dict]) -> list[CacheStatsRow]:
    rows = []
    for key, c in counters.items():
        hits = c[CacheEventKind.EXACT] + c[CacheEventKind.SEMANTIC]
        rows.append(
            CacheStatsRow(
                key=key,
                questions=hits + c[CacheEventKind.STORE],
                hits=hits,
                exact_hits=c[CacheEventKind.EXACT],
                semantic_hits=c[CacheEventKind.SEMANTIC],
                cost_saved=c["saved"],
            )
        )
    return sorted(rows, key=lambda r: (-r.cost_saved, -r.hits, r.key))


def cached_answers_to_purge(
    *,
    knowledge_set_ids: Sequence[int] = (),
    rule_ids: Sequence[int] = (),
    everything: bool = False,
) -> int:
    """How many cached answers `cache_purge` would delete for these knowledge sets and
    rules (those built over any of the sets or stored under any of the rules), or for
    `everything`: the figure a confirmation page shows before a purge."""
    if everything:
        return CachedAnswer.objects.count()
    sets, rules = {int(s) for s in knowledge_set_ids}, set(rule_ids)
    rows = CachedAnswer.objects.values_list("scope_sets", "rule_id")
    # JSON "contains" isn't portable (SQLite): filtered here, as cache_purge does.
    return sum(1 for scope_sets, rule in rows if rule in rules or sets.intersection(scope_sets))
