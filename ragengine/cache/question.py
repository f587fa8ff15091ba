"""The cache as one question sees it: its scope and rule decided once, then lookups, the
generation lock and the store, in the order `ask()` needs them.

The answering model family is given by name (a chain's first model, or "extractive"),
and so is the provider whose answers may be stored: the cache knows nothing of tiers or
chains, only whose answers belong to a scope.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np

from ragengine.ask_types import Answer, AnswerMode
from ragengine.cache.keys import CacheScope, cache_key_for, cache_scope
from ragengine.cache.lock import generation_lock
from ragengine.cache.lookup import CacheHit, cache_lookup
from ragengine.cache.replies import answer_payload
from ragengine.cache.rules import RuleDecision, cache_rule_for
from ragengine.cache.store import cache_store

EXTRACTIVE_FAMILY = "extractive"


@dataclass(frozen=True, slots=True)
class ModelFamily:
    """Who answers: `label` scopes the entries ("endpoint:model" or "extractive"), and
    only answers from `provider` (an endpoint's name, or "extractive") are stored."""

    label: str = EXTRACTIVE_FAMILY
    provider: str = EXTRACTIVE_FAMILY


@dataclass(frozen=True, slots=True)
class QuestionCache:
    question: str
    set_ids: tuple[str, ...] | None
    family: ModelFamily
    scope: CacheScope
    decision: RuleDecision
    allow_semantic: bool
    semantic_threshold: float
    key: str

    @classmethod
    def open(
        cls,
        *,
        question: str,
        set_ids: tuple[str, ...] | None,
        family: ModelFamily,
        semantic_allowed: bool,
        semantic_threshold: float,
    ) -> tuple[RuleDecision, QuestionCache | None]:
        """The rule in force for `question`, and the cache for it, or None when the rule
        says never cache (real-time questions are never served stale).
        `semantic_threshold`: the cosine a paraphrase needs with the question's embedder."""
        decision = cache_rule_for(question=question)
        if not decision.cacheable:
            return decision, None
        scope = cache_scope(set_ids=set_ids, model_family=family.label)
        return decision, cls(
            question=question,
            set_ids=set_ids,
            family=family,
            scope=scope,
            decision=decision,
            allow_semantic=semantic_allowed and decision.semantic,
            semantic_threshold=semantic_threshold,
            key=cache_key_for(question=question, scope=scope),
        )

    def for_family(self, family: ModelFamily) -> QuestionCache:
        """The same question answered by other models (a hard-limit policy changed them):
        same rule decision, the new family's scope."""
        if family == self.family:
            return self
        scope = cache_scope(set_ids=self.set_ids, model_family=family.label)
        return replace(
            self,
            family=family,
            scope=scope,
            key=cache_key_for(question=self.question, scope=scope),
        )

    def lookup(self, vector: Callable[[], np.ndarray] | None) -> CacheHit | None:
        """Exact, then (with a vector) semantic; `vector=None` means exact only."""
        return cache_lookup(
            question=self.question,
            query_vector=vector,
            scope=self.scope,
            allow_semantic=self.allow_semantic,
            semantic_threshold=self.semantic_threshold,
        )

    def generation_lock(self) -> AbstractContextManager[bool]:
        """One asker at a time generates this answer; the others then find it stored."""
        return generation_lock(key=self.key)

    def store(self, *, answer: Answer, vector: Callable[[], np.ndarray], cost: Decimal) -> bool:
        """Keep `answer` if it is of the scope's own kind (never a fallback's or a
        degraded one); True when stored."""
        if self.family.provider == EXTRACTIVE_FAMILY:
            intended = answer.mode == AnswerMode.EXTRACTIVE and not answer.notices
        else:
            intended = (
                answer.mode == AnswerMode.GENERATED and answer.provider == self.family.provider
            )
        if not intended:
            return False
        stored = cache_store(
            question=self.question,
            query_vector=vector(),
            scope=self.scope,
            answer=answer_payload(answer=answer),
            cost=cost,
            decision=self.decision,
        )
        return stored is not None
