"""The answer cache as `ask()` uses it: one scope and rule decision per question, lookups,
what may be stored, and serving a hit with its free ledger row."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np

from ragengine.answers import Answer, AnswerMode
from ragengine.cache import (
    CacheHit,
    CacheScope,
    RuleDecision,
    answer_from_hit,
    answer_payload,
    cache_key_for,
    cache_lookup,
    cache_rule_for,
    cache_scope,
    cache_store,
)
from ragengine.models import Member, Tier
from ragengine.services.budgets import Denied, UsageDetails, usage_record_cached
from ragengine.services.generation import Step
from ragengine.services.timing import Stopwatch

logger = logging.getLogger(__name__)


def _family(steps: Sequence[Step]) -> str:
    """The model family that answers: the chain's first model, or the extractive answerer."""
    return steps[0].label if steps else "extractive"


@dataclass(frozen=True, slots=True)
class AskCache:
    question: str
    set_ids: tuple[str, ...] | None
    scope: CacheScope
    decision: RuleDecision
    allow_semantic: bool
    key: str
    steps: tuple[Step, ...]

    @classmethod
    def build(
        cls,
        *,
        question: str,
        set_ids: tuple[str, ...] | None,
        steps: Sequence[Step],
        tier: Tier,
    ) -> AskCache:
        scope = cache_scope(set_ids=set_ids, model_family=_family(steps))
        decision = cache_rule_for(question=question)
        return cls(
            question=question,
            set_ids=set_ids,
            scope=scope,
            decision=decision,
            allow_semantic=tier.semantic_cache_enabled and decision.semantic,
            key=cache_key_for(question=question, scope=scope),
            steps=tuple(steps),
        )

    def for_steps(self, steps: Sequence[Step]) -> AskCache:
        """The same question answered by other models (a hard-limit policy changed them):
        same rule decision, scope of the new model family."""
        if _family(steps) == self.scope.model_family:
            return self
        scope = cache_scope(set_ids=self.set_ids, model_family=_family(steps))
        return replace(
            self,
            scope=scope,
            key=cache_key_for(question=self.question, scope=scope),
            steps=tuple(steps),
        )

    def lookup(self, vector: Callable[[], np.ndarray] | None, watch: Stopwatch) -> CacheHit | None:
        """Exact, then (with a vector) semantic; `vector=None` means exact only."""
        with watch.stage("cache"):
            return cache_lookup(
                question=self.question,
                query_vector=vector,
                scope=self.scope,
                allow_semantic=self.allow_semantic,
            )

    def store(self, answer: Answer, vector: Callable[[], np.ndarray], cost: Decimal) -> None:
        """Only answers of the scope's own kind: never a fallback or degraded one."""
        if self.steps:
            intended = (
                answer.mode == AnswerMode.GENERATED
                and answer.provider == self.steps[0].endpoint.name
            )
        else:
            intended = answer.mode == AnswerMode.EXTRACTIVE and not answer.notices
        if intended and self.decision.cacheable:
            cache_store(
                question=self.question,
                query_vector=vector(),
                scope=self.scope,
                answer=answer_payload(answer=answer),
                cost=cost,
                decision=self.decision,
            )


def cached_usage(*, answer: Answer, hit: CacheHit, counts: bool) -> UsageDetails:
    return UsageDetails(
        mode=AnswerMode.CACHED,
        provider=answer.provider,
        model=answer.model,
        cost_saved=hit.cost_saved,
        counts_toward_quota=counts,
    )


def serve_hit(
    *,
    hit: CacheHit,
    member: Member | None,
    tier: Tier,
    request_id: str,
    where: str,
    counts: bool,
    watch: Stopwatch,
) -> Answer | Denied:
    """A cached answer with one free ledger row (no reservation: nothing can be spent);
    Denied when the hit counts as a question and the member is over the quota."""
    answer = answer_from_hit(hit=hit, request_id=request_id)
    if member is not None:
        with watch.stage("budget"):
            denied = usage_record_cached(
                member=member,
                tier=tier,
                request_id=request_id,
                channel=where,
                details=cached_usage(answer=answer, hit=hit, counts=counts),
            )
        if denied is not None:
            return denied
    answer.timings_ms = watch.finish()
    logger.info(
        "question answered",
        extra={
            "request_id": request_id,
            "mode": "cached",
            "total_ms": round(answer.timings_ms["total"], 1),
        },
    )
    return answer
