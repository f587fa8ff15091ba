"""Storing an answer in the cache for its rule's TTL (row first, then the hot copy)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone

from ragengine.cache.entries import unit_vector, warm_entry
from ragengine.cache.keys import CacheScope, exact_key, fold_question
from ragengine.cache.paraphrase import semantic_key_for
from ragengine.cache.rules import RuleDecision
from ragengine.models import CachedAnswer, CacheEvent, CacheEventKind

logger = logging.getLogger(__name__)


def cache_store(
    *,
    question: str,
    query_vector: np.ndarray,
    scope: CacheScope,
    answer: dict[str, Any],
    cost: Decimal,
    decision: RuleDecision,
    now: datetime | None = None,
) -> CachedAnswer | None:
    """Keep `answer` for the rule's TTL; None when the rule says never cache.

    A newer answer to the same question (same scope) replaces the older one."""
    if decision.ttl_seconds is None:
        return None
    now = now or timezone.now()
    normalized = fold_question(question)
    key = exact_key(normalized, scope)
    entry = CachedAnswer(
        key=key,
        scope_digest=scope.digest,
        question=question.strip(),
        normalized_question=normalized,
        scope_sets=list(scope.set_ids),
        index_versions=scope.index_versions,
        model_family=scope.model_family,
        embedding=unit_vector(query_vector).tobytes(),
        semantic_enabled=decision.semantic,
        semantic_key=semantic_key_for(question=question, scope=scope) if decision.semantic else "",
        answer=answer,
        cost=cost,
        rule=decision.rule,
        created_at=now,
        expires_at=now + timedelta(seconds=decision.ttl_seconds),
    )
    try:
        with transaction.atomic():
            CachedAnswer.objects.filter(key=key).delete()
            entry.save(force_insert=True)
            CacheEvent.objects.create(
                kind=CacheEventKind.STORE,
                entry=entry,
                rule=decision.rule,
                rule_name=decision.rule.name if decision.rule else "",
                scope_sets=entry.scope_sets,
                created_at=now,
            )
    except IntegrityError:  # a concurrent store of the same question won
        logger.info("answer cache store raced", extra={"key": key[:12]})
        return CachedAnswer.objects.filter(key=key).first()
    warm_entry(entry)
    logger.info(
        "answer cached",
        extra={
            "entry": entry.pk,
            "rule": decision.rule.name if decision.rule else "(default)",
            "ttl_s": decision.ttl_seconds,
            "semantic": decision.semantic,
            "sets": entry.scope_sets,
            "family": scope.model_family,
        },
    )
    return entry
