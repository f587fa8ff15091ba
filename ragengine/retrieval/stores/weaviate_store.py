"""Weaviate as the `VectorStore`: hybrid BM25 + dense search served by a shared server.

Why Weaviate: the local store lives in one host's files; several web / worker / bot hosts
need one index they can all reach. Same semantics as the local store, so answers do not
change when an operator switches.

Layout: ONE collection (`WEAVIATE_COLLECTION`, default "AranduChunk") for every knowledge
set, with `knowledge_set` and `document_id` as filterable properties. A channel bound to
several sets is then one hybrid query with one fusion over all of them, exactly like the
local store. Multi-tenancy (or a collection per set) cannot query across tenants, so the
same question would need one query per set plus a fusion of our own, with different
min-max normalisation and BM25 statistics per set. The cost of one collection is that all
sets share one vector dimension (one embedder), which the local store requires as well.

Vectors are ours (`self_provided`, cosine, HNSW): the embedder that built the local store
builds these. BM25 runs on `search_text`, our own `analyze()` terms (see weaviate_query).

Scores, matched to the local store:
- `score` is Weaviate's fused score (relativeScore = alpha * minmax(vector) + (1 - alpha) *
  minmax(BM25), or rankedFusion), with `alpha` and fusion passed through.
- `similarity` is the dot product of the query vector with the hit's returned vector
  (vectors are L2-normalised, so it is the cosine), computed here because hybrid results
  carry no distance.
- `lexical_score` is the raw BM25 score, fetched with a second, id-restricted BM25 query.
- `min_similarity` goes to the server as `max_vector_distance` and is enforced again here
  on every hit, whichever list it came from. Known difference: Weaviate min-max normalises
  each leg over max(limit, 100) candidates (we ask for max(4 * top_k, 50)), and keyword
  hits that only fail the threshold client-side still took part in the normalisation, so
  fused scores can differ slightly from the local store's; rankings agree closely (the
  `migrate_store --verify` report measures the top-k overlap).

Atomicity: Weaviate has no transactions, so `replace_documents` narrows the window instead:
1. write every new object, each stamped with a fresh `write_version` (microseconds). Object
   UUIDs are uuid5 of our record ids, and ingestion ids are "<document>:<ordinal>", so a
   chunk that still exists is overwritten in place and the document never disappears;
2. only when every object was accepted, delete the documents' objects with an OLDER
   `write_version`: exactly the objects whose UUIDs are not in the new set. (The stamp
   makes that one filtered delete, with no listing of UUIDs, which would be paged by
   QUERY_MAXIMUM_RESULTS, and no ContainsNone filter, which 1.28 servers lack.)
A reader during the write sees some chunks already new and, until step 2, the old tail
beyond the new length; never an empty document. If step 1 fails nothing is deleted and
the error names each rejected object; ingestion then leaves `indexed_hash` stale and the
next run redoes the document. Two processes replacing the SAME document at the same
moment are not isolated from each other (either one's delete may remove the other's new
chunks); overlapping ingestion runs of the same files must be avoided.

Beside this module: `weaviate_config` (where the server is), `weaviate_connection`
(connecting, retries, readable errors, the collection check) and `weaviate_query` (the
exact schema, objects, filters and query arguments sent).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
import weaviate
from weaviate.classes.aggregate import GroupByAggregate
from weaviate.collections.classes.filters import FilterReturn
from weaviate.exceptions import WeaviateInsertManyAllFailedError

from ragengine.retrieval.stores import weaviate_query as wq
from ragengine.retrieval.stores.local_search import cap_per_document
from ragengine.retrieval.stores.weaviate_config import WeaviateConfig
from ragengine.retrieval.stores.weaviate_connection import (
    WeaviateConnection,
    WeaviateStoreError,
    WeaviateUnavailableError,
    WeaviateWriteError,
)
from ragengine.retrieval.types import SearchHit, SearchQuery, StoreRecord

__all__ = [
    "WeaviateConfig",
    "WeaviateStore",
    "WeaviateStoreError",
    "WeaviateUnavailableError",
    "WeaviateWriteError",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Upper bound on document groups returned by one aggregation; more is reported, not hidden.
MAX_GROUPS = 1_000_000
# Filters list at most this many values (keeps each request small).
_FILTER_CHUNK = 500
# `delete_many` removes at most QUERY_MAXIMUM_RESULTS objects per call; we loop until none
# match, and give up (loudly) after this many rounds.
_MAX_DELETE_ROUNDS = 10_000


def _chunks(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _as_names(values: Sequence[str], what: str) -> list[str]:
    if isinstance(values, str):
        raise TypeError(f"{what} must be a sequence of strings, not a single string")
    return list(dict.fromkeys(values))


class WeaviateStore:
    """`VectorStore` over one Weaviate collection; thread-safe, and every process or host
    using the same collection sees every committed write.

    Connects (with retries) and creates the collection when it is missing on
    construction, so a down or misconfigured server fails here with a readable
    `WeaviateUnavailableError`, before a caller has changed anything. Pass `client` to
    use an already built `weaviate.WeaviateClient` (it is then not closed by `close()`).
    """

    def __init__(
        self,
        *,
        config: WeaviateConfig,
        client: weaviate.WeaviateClient | None = None,
        batch_size: int = 200,
        retry_attempts: int = 3,
        retry_wait_s: float = 0.25,
    ) -> None:
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        self.config = config
        self.batch_size = batch_size
        self._version_lock = threading.Lock()
        self._last_version = 0
        self._connection = WeaviateConnection(
            config=config, client=client, retry_attempts=retry_attempts, retry_wait_s=retry_wait_s
        )
        self._client = self._connection.client
        self._collection = self._connection.collection

    # ----------------------------------------------------------------- lifecycle

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> WeaviateStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def health(self) -> dict[str, Any]:
        """For the readiness endpoint: never raises, no retries, one or two quick calls."""
        return self._connection.health()

    # ----------------------------------------------------------------- reading

    def search(self, query: SearchQuery) -> list[SearchHit]:
        where = wq.scope(knowledge_sets=query.knowledge_sets, document_ids=query.document_ids)
        plan = wq.hybrid_plan(query, filters=where.filter)
        if where.empty or plan is None:
            return []
        keyword_only = "vector" not in plan.arguments
        vector = None if keyword_only else np.asarray(query.vector, np.float32).reshape(-1)
        run = self._collection.query.bm25 if keyword_only else self._collection.query.hybrid
        response = self._connection.call(lambda: run(**plan.arguments), what="run a search")
        kept: list[tuple[Any, float, float]] = []
        for obj in response.objects:
            similarity = 0.0
            if vector is not None:
                stored = np.asarray(obj.vector[wq.VECTOR_NAME], dtype=np.float32)
                similarity = float(stored @ vector)
                if similarity < query.min_similarity:
                    continue
            score = float(obj.metadata.score or 0.0) * plan.score_scale
            kept.append((obj, score, similarity))
        lexical = self._lexical_scores(plan, [str(obj.uuid) for obj, _, _ in kept])
        hits = [
            SearchHit(
                id=obj.properties[wq.RECORD_ID],
                knowledge_set=obj.properties[wq.KNOWLEDGE_SET],
                document_id=obj.properties[wq.DOCUMENT_ID],
                ordinal=int(obj.properties[wq.ORDINAL]),
                text=obj.properties[wq.TEXT],
                metadata=_metadata(obj.properties.get(wq.METADATA_JSON)),
                score=score,
                similarity=similarity,
                lexical_score=lexical.get(str(obj.uuid), 0.0),
            )
            for obj, score, similarity in kept
        ]
        hits.sort(key=lambda h: (-h.score, -h.similarity, -h.lexical_score, h.id))
        order = cap_per_document(
            np.arange(len(hits)),
            documents=np.asarray([h.document_id for h in hits], dtype=object),
            top_k=query.top_k,
            cap=query.per_document,
        )
        return [hits[i] for i in order]

    def _lexical_scores(self, plan: wq.HybridPlan, uuids: list[str]) -> dict[str, float]:
        if not plan.keyword or not uuids:
            return {}
        arguments = wq.bm25_arguments(plan.terms, uuids)
        response = self._connection.call(
            lambda: self._collection.query.bm25(**arguments), what="score keywords"
        )
        return {str(obj.uuid): float(obj.metadata.score or 0.0) for obj in response.objects}

    def count(
        self,
        *,
        knowledge_sets: Sequence[str] | None = None,
        document_ids: Sequence[str] | None = None,
    ) -> int:
        where = wq.scope(knowledge_sets=knowledge_sets, document_ids=document_ids)
        if where.empty:
            return 0
        result = self._connection.call(
            lambda: self._collection.aggregate.over_all(total_count=True, filters=where.filter),
            what="count objects",
        )
        return int(result.total_count or 0)

    def document_counts(self, *, knowledge_set: str | None = None) -> dict[str, int]:
        """Objects per document id, in one aggregation (migration progress, reconciliation)."""
        where = wq.knowledge_set_filter(knowledge_set) if knowledge_set is not None else None
        result = self._connection.call(
            lambda: self._collection.aggregate.over_all(
                group_by=GroupByAggregate(prop=wq.DOCUMENT_ID, limit=MAX_GROUPS),
                total_count=True,
                filters=where,
            ),
            what="count objects per document",
        )
        counts = {
            str(group.grouped_by.value): int(group.total_count or 0)
            for group in result.groups
            if group.total_count
        }
        if len(result.groups) >= MAX_GROUPS:
            logger.warning(
                "weaviate document listing truncated",
                extra={"knowledge_set": knowledge_set, "groups": len(result.groups)},
            )
        return counts

    def document_ids(self, *, knowledge_set: str | None = None) -> set[str]:
        return set(self.document_counts(knowledge_set=knowledge_set))

    def record_hashes(self, *, document_ids: Sequence[str], limit: int) -> dict[str, str] | None:
        """record id -> sha256 of its text for `document_ids`; None when more than `limit`
        objects match (the caller then treats those documents as changed)."""
        ids = _as_names(document_ids, "document_ids")
        if not ids:
            return {}
        response = self._connection.call(
            lambda: self._collection.query.fetch_objects(
                filters=wq.documents_filter(ids),
                limit=limit + 1,
                return_properties=[wq.RECORD_ID, wq.TEXT_SHA],
            ),
            what="read chunk hashes",
        )
        if len(response.objects) > limit:
            return None
        return {
            str(obj.properties[wq.RECORD_ID]): str(obj.properties.get(wq.TEXT_SHA) or "")
            for obj in response.objects
        }

    # ----------------------------------------------------------------- writing

    def replace_documents(
        self, *, document_ids: Sequence[str], records: Sequence[StoreRecord]
    ) -> None:
        """Write `records`, then drop what is left of older versions of `document_ids`.

        Not atomic (see the module docstring): new objects first, stale ones after, and
        nothing is deleted unless every object was accepted.
        """
        documents = _as_names(document_ids, "document_ids")
        fresh = wq.checked_records(records)
        if not documents and not fresh:
            return
        version = self._next_version()
        self._insert(fresh, write_version=version)
        for group in _chunks(documents, _FILTER_CHUNK):
            self._delete_where(
                wq.stale_filter(group, write_version=version), what="delete replaced chunks"
            )
        logger.info(
            "weaviate replace",
            extra={
                "documents": len(documents),
                "records": len(fresh),
                "write_version": version,
                "collection": self.config.collection,
            },
        )

    def delete_documents(self, *, document_ids: Sequence[str]) -> None:
        documents = _as_names(document_ids, "document_ids")
        deleted = sum(
            self._delete_where(wq.documents_filter(group), what="delete documents")
            for group in _chunks(documents, _FILTER_CHUNK)
        )
        logger.info(
            "weaviate delete documents", extra={"documents": len(documents), "objects": deleted}
        )

    def delete_knowledge_set(self, *, knowledge_set: str) -> None:
        deleted = self._delete_where(
            wq.knowledge_set_filter(knowledge_set), what="delete a knowledge set"
        )
        logger.info(
            "weaviate delete knowledge set",
            extra={"knowledge_set": knowledge_set, "objects": deleted},
        )

    def _next_version(self) -> int:
        """Microseconds since the epoch, strictly increasing within this process (and
        below 2**53, so it survives any JSON path as an exact number)."""
        with self._version_lock:
            self._last_version = max(time.time_ns() // 1000, self._last_version + 1)
            return self._last_version

    def _insert(self, records: Sequence[StoreRecord], *, write_version: int) -> None:
        """Batch upserts (`insert_many`, one gRPC batch per `batch_size` objects).

        A batch is idempotent (fixed UUIDs), so transient failures are retried whole;
        per-object rejections are not retried and stop the write before any delete.
        """
        written = 0
        for batch in _chunks(records, self.batch_size):
            objects = [wq.data_object(r, write_version=write_version) for r in batch]
            kept = (
                f"Chunks written before the failure: {written} of {len(records)}; nothing "
                "was deleted, so the previous chunks stay searchable"
            )
            try:
                result = self._connection.call(
                    lambda objects=objects: self._collection.data.insert_many(objects),
                    what="write chunks",
                )
            except WeaviateStoreError as exc:
                if isinstance(exc.__cause__, WeaviateInsertManyAllFailedError):
                    reason = " ".join(str(exc.__cause__).split())[:300]
                    raise WeaviateWriteError(
                        f"Weaviate rejected all {len(batch)} chunks of a batch ({reason}). {kept}.",
                        failures=[(r.id, reason) for r in batch],
                    ) from exc
                unavailable = isinstance(exc, WeaviateUnavailableError)
                cls = WeaviateUnavailableError if unavailable else WeaviateStoreError
                raise cls(f"{exc} {kept}.") from exc
            if result.errors:
                failures = [
                    (batch[index].id, " ".join(error.message.split())[:300])
                    for index, error in sorted(result.errors.items())
                ]
                shown = "; ".join(f"{rid}: {reason}" for rid, reason in failures[:5])
                more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
                logger.error(
                    "weaviate rejected objects",
                    extra={"rejected": len(failures), "first": shown[:500]},
                )
                raise WeaviateWriteError(
                    f"Weaviate rejected {len(failures)} of {len(batch)} chunks in a batch: "
                    f"{shown}{more}. {kept}; fix the cause and write again.",
                    failures=failures,
                )
            written += len(batch)

    def _delete_where(self, where: FilterReturn, *, what: str) -> int:
        deleted = 0
        for _ in range(_MAX_DELETE_ROUNDS):
            result = self._connection.call(
                lambda: self._collection.data.delete_many(where=where), what=what
            )
            if result.failed:
                raise WeaviateStoreError(
                    f"Weaviate could not {what}: {result.failed} of {result.matches} objects "
                    "failed to delete; run the operation again."
                )
            deleted += result.successful
            if result.matches == 0:
                return deleted
        raise WeaviateStoreError(f"Weaviate did not finish: {what} (still matching objects)")


def _metadata(raw: object) -> dict[str, Any]:
    if not raw:
        return {}
    value = json.loads(str(raw))
    return value if isinstance(value, dict) else {}
