"""Finding a cached answer: exact first (folded question + scope), then semantic (cosine
of question embeddings ≥ threshold within the same scope, behind the paraphrase checks).
The threshold is the caller's: cosines mean "close" at a different level for each
embedder, so it is the one measured for the embedder of the query vector (or the
operator's).

A semantic lookup's candidates are only the entries of the scope with the same paraphrase
key, so it is one indexed query whatever the cache size, and the embedding is computed
only when there is a candidate. The Django cache holds hot copies; the `CachedAnswer`
rows are the record, so a cold cache or a restart falls back to the database and
re-warms. Every served entry is re-checked against its row (the hit counter update), so
a purge is honoured even by a process whose local cache still holds a copy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import numpy as np
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ragengine.cache.backend import cache_backend
from ragengine.cache.entries import entry_payload, unit_vector, warm_entry
from ragengine.cache.keys import CacheScope, entry_cache_key, exact_key, fold_question
from ragengine.cache.paraphrase import signature_key, signature_mismatch, signature_of
from ragengine.models import CachedAnswer, CacheEvent
from ragengine.transactions import relax_commit_durability

logger = logging.getLogger(__name__)

# Candidates re-scored per semantic lookup (the newest first); entries sharing a semantic
# key in one scope are rewordings of one question, so there are seldom more than a few.
SEMANTIC_CANDIDATES = 20

HitKind = Literal["exact", "semantic"]
QueryVector = np.ndarray | Callable[[], np.ndarray] | None


@dataclass(frozen=True, slots=True)
class CacheHit:
    entry_id: int
    kind: HitKind
    answer: dict[str, Any]
    cost_saved: Decimal
    similarity: float
    question: str = ""  # the cached question (differs from the asked one on semantic hits)


def cache_lookup(
    *,
    question: str,
    query_vector: QueryVector,
    scope: CacheScope,
    allow_semantic: bool,
    semantic_threshold: float,
    now: datetime | None = None,
) -> CacheHit | None:
    """A non-expired answer for `question` in `scope`: exact first, then semantic.

    `query_vector` may be a callable: it is then only called when a semantic candidate
    exists, so exact hits and most misses never pay for the embedding (which takes
    longer than a whole exact hit). None means exact only. Pass
    `allow_semantic = tier flag and rule decision.semantic`, and the cosine a paraphrase
    needs on the query vector's embedder as `semantic_threshold`."""
    now = now or timezone.now()
    hit = _exact_lookup(exact_key(fold_question(question), scope), now=now)
    if hit is not None or not allow_semantic or query_vector is None:
        return hit
    return _semantic_lookup(
        question=question,
        query_vector=query_vector,
        scope=scope,
        threshold=semantic_threshold,
        now=now,
    )


def _record_hit(
    *, payload: dict[str, Any], kind: HitKind, similarity: float, now: datetime
) -> bool:
    """Count the hit on its row; False when the row is gone (purged), so it isn't served.

    On PostgreSQL the commit doesn't wait for the WAL flush: these are statistics, and
    an fsync per hit would triple the latency of a cached answer (a crash may lose the
    last few counts, never an answer)."""
    with transaction.atomic():
        relax_commit_durability()
        updated = CachedAnswer.objects.filter(pk=payload["id"]).update(
            hits=F("hits") + 1, last_hit_at=now
        )
        if updated:
            CacheEvent.objects.create(
                kind=kind,
                entry_id=payload["id"],
                rule_id=payload["rule_id"],
                rule_name=payload["rule_name"],
                scope_sets=payload["scope_sets"],
                cost_saved=Decimal(payload["cost"]),
                similarity=similarity,
                created_at=now,
            )
    return bool(updated)


def _hit(payload: dict[str, Any], kind: HitKind, similarity: float) -> CacheHit:
    return CacheHit(
        entry_id=payload["id"],
        kind=kind,
        answer=payload["answer"],
        cost_saved=Decimal(payload["cost"]),
        similarity=similarity,
        question=payload["question"],
    )


def _exact_lookup(key: str, *, now: datetime) -> CacheHit | None:
    payload = cache_backend().get(entry_cache_key(key))
    if payload is not None and payload["expires"] > now.timestamp():
        if _record_hit(payload=payload, kind="exact", similarity=1.0, now=now):
            logger.info("answer cache hit", extra={"kind": "exact", "entry": payload["id"]})
            return _hit(payload, "exact", 1.0)
        # purged (seen by a process with its own locmem)
        cache_backend().delete(entry_cache_key(key))
    entry = CachedAnswer.objects.select_related("rule").filter(key=key, expires_at__gt=now).first()
    if entry is None:
        return None
    payload = warm_entry(entry)  # a cold cache (restart, eviction, another process stored it)
    if not _record_hit(payload=payload, kind="exact", similarity=1.0, now=now):
        return None
    logger.info("answer cache hit", extra={"kind": "exact", "entry": entry.pk, "source": "db"})
    return _hit(payload, "exact", 1.0)


def _semantic_lookup(
    *,
    question: str,
    query_vector: QueryVector,
    scope: CacheScope,
    threshold: float,
    now: datetime,
) -> CacheHit | None:
    asked = signature_of(question)
    key = signature_key(asked, scope)
    if not key:
        return None
    candidates = list(
        CachedAnswer.objects.select_related("rule")
        .filter(semantic_key=key, expires_at__gt=now)
        .order_by("-pk")[:SEMANTIC_CANDIDATES]
    )
    if not candidates:
        return None
    query = unit_vector(query_vector() if callable(query_vector) else query_vector)
    scored = []
    for entry in candidates:
        vector = np.frombuffer(bytes(entry.embedding), dtype=np.float32)
        if vector.shape == query.shape:  # else embedded by another model: not comparable
            scored.append((float(vector @ query), entry))
    scored.sort(key=lambda pair: -pair[0])
    for similarity, entry in scored:
        if similarity < threshold:
            break
        refusal = signature_mismatch(asked, signature_of(entry.question))
        if refusal is not None:
            logger.info(
                "semantic cache candidate refused",
                extra={"entry": entry.pk, "similarity": round(similarity, 4), "why": refusal},
            )
            continue
        payload = entry_payload(entry)
        if _record_hit(payload=payload, kind="semantic", similarity=similarity, now=now):
            logger.info(
                "answer cache hit",
                extra={"kind": "semantic", "entry": entry.pk, "similarity": round(similarity, 4)},
            )
            return _hit(payload, "semantic", similarity)
    return None
