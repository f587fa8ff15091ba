"""The ranked documents retrieval finds for a case, for the retrieval metrics.

An answer lists only the sources it cites; hit@k, MRR@k and the rest need the ranking
itself. This searches the store with the settings `ask()` uses (see
services/answering.py: same top-k, similarity floor, hybrid weight and fusion), over the
top max(k, ARANDU_TOP_K) passages, and keeps each document at its best rank. It does not
depend on the target: a run computes it once per case and shares it between targets.
"""

from __future__ import annotations

from django.conf import settings

from ragengine.retrieval import registry
from ragengine.retrieval.types import SearchQuery


def retrieve_for_evaluation(*, question: str, set_ids: tuple[str, ...], k: int) -> list[int]:
    """Distinct document ids in rank order (at most max(k, ARANDU_TOP_K) passages)."""
    if not set_ids:
        return []  # never "every set"
    vector = registry.get_embedder().embed_query(question)
    hits = registry.get_vector_store().search(
        SearchQuery(
            text=question,
            vector=vector,
            top_k=max(k, settings.ARANDU_TOP_K),
            knowledge_sets=set_ids,
            min_similarity=settings.ARANDU_MIN_SIMILARITY,
            alpha=settings.ARANDU_HYBRID_ALPHA,
            fusion=settings.ARANDU_FUSION,
        )
    )
    return list(dict.fromkeys(int(hit.document_id) for hit in hits))
