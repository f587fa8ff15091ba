"""What a case's `ask()` did, read from its trace: the ranked documents retrieval found
(for the retrieval metrics) and the models that failed (for failed and fallback cases).

An answer lists only the sources it cites; hit@k, MRR@k and the rest need the ranking
itself. The runner reads it from the trace of the `ask()` call (`ranking_from_trace`):
the passages `ask()` retrieved, no second search. When `ask()` did not search (a cached
answer, a refusal) or searched fewer passages than k, `retrieve_for_evaluation` searches
the store with the query `ask()` builds (`document_search_query`: the same similarity
floor, hybrid weight, fusion and per-document cap) over the top max(k, ARANDU_TOP_K)
passages. Either way each document keeps its best rank.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.conf import settings

from ragengine.retrieval import registry
from ragengine.services.document_answers import document_search_query
from ragengine.services.vector_spaces import documents_search
from ragengine.trace import Trace


def ranking_from_trace(trace: Trace, *, k: int) -> list[int] | None:
    """Distinct document ids in the order `ask()` ranked them; None when it did not
    search, or searched fewer than k passages (the metrics at k need k)."""
    record = trace.last("retrieval")
    if record is None or record["top_k"] < k:
        return None
    return list(dict.fromkeys(int(hit.document_id) for hit in record["hits"]))


def retrieve_for_evaluation(*, question: str, set_ids: tuple[str, ...], k: int) -> list[int]:
    """Distinct document ids in rank order (at most max(k, ARANDU_TOP_K) passages)."""
    if not set_ids:
        return []  # never "every set"
    keyword_only = settings.ARANDU_HYBRID_ALPHA == 0  # ask() embeds nothing then either
    vector = None if keyword_only else registry.get_embedder().embed_query(question)
    query = document_search_query(text=question, vector=vector, set_ids=set_ids)
    hits = documents_search(
        query=replace(query, top_k=max(k, settings.ARANDU_TOP_K)),
        configured_vector=None if vector is None else lambda: vector,
    ).hits
    return list(dict.fromkeys(int(hit.document_id) for hit in hits))


@dataclass(frozen=True, slots=True)
class ModelAttempts:
    """What the models of `ask()`'s chain did: each failure as "endpoint:model: reason",
    and whether none of them answered (the answer then came from the documents)."""

    failures: tuple[str, ...] = ()
    all_failed: bool = False


def models_from_trace(trace: Trace) -> ModelAttempts:
    """The chain's failures from the trace (no model asked: nothing failed)."""
    record = trace.last("generation")
    if record is None:
        return ModelAttempts()
    generation = record["generation"]
    failures = tuple(f"{step.label}: {error}" for step, error in generation.failures)
    return ModelAttempts(failures=failures, all_failed=generation.result is None)
