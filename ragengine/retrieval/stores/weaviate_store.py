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
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import grpc
import numpy as np
import weaviate
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)
from weaviate.classes.aggregate import GroupByAggregate
from weaviate.classes.init import AdditionalConfig, Auth, Timeout
from weaviate.collections.classes.filters import FilterReturn
from weaviate.exceptions import (
    UnexpectedStatusCodeError,
    WeaviateBaseError,
    WeaviateConnectionError,
    WeaviateInsertManyAllFailedError,
    WeaviateStartUpError,
    WeaviateTimeoutError,
)

from ragengine.retrieval.stores import weaviate_query as wq
from ragengine.retrieval.types import SearchHit, SearchQuery, StoreRecord, VectorStoreError

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_COLLECTION = "AranduChunk"
DEFAULT_GRPC_PORT = 50051
_COLLECTION_NAME = re.compile(r"^[A-Z][_0-9A-Za-z]*$")
_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
# Upper bound on document groups returned by one aggregation; more is reported, not hidden.
MAX_GROUPS = 1_000_000
# Filters list at most this many values (keeps each request small).
_FILTER_CHUNK = 500
# `delete_many` removes at most QUERY_MAXIMUM_RESULTS objects per call; we loop until none
# match, and give up (loudly) after this many rounds.
_MAX_DELETE_ROUNDS = 10_000


# --------------------------------------------------------------------------- errors


class WeaviateStoreError(VectorStoreError):
    """A Weaviate operation failed; the message says what, where, and what was kept."""


class WeaviateUnavailableError(WeaviateStoreError):
    """Weaviate could not be reached: server down, wrong URL or port, or refused credentials."""


class WeaviateWriteError(WeaviateStoreError):
    """Weaviate rejected some objects of a write; `failures` lists (record id, reason)."""

    def __init__(self, message: str, *, failures: Sequence[tuple[str, str]]) -> None:
        super().__init__(message)
        self.failures = tuple(failures)


# --------------------------------------------------------------------------- config


@dataclass(frozen=True, slots=True)
class WeaviateConfig:
    """Where and how to reach Weaviate. The API key is referred to by env-var NAME only."""

    url: str
    grpc_port: int = DEFAULT_GRPC_PORT
    grpc_host: str = ""  # default: the host of `url`
    api_key_env: str = "WEAVIATE_API_KEY"
    timeout_s: float = 30.0
    collection: str = DEFAULT_COLLECTION

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"WEAVIATE_URL must look like http://host:8080 or https://host, got {self.url!r}"
            )
        if not 0 < self.grpc_port < 65536:
            raise ValueError(f"WEAVIATE_GRPC_PORT must be a TCP port, got {self.grpc_port}")
        if not self.timeout_s > 0:
            raise ValueError(f"WEAVIATE_TIMEOUT_S must be positive, got {self.timeout_s}")
        if not _COLLECTION_NAME.match(self.collection):
            raise ValueError(
                "WEAVIATE_COLLECTION must start with a capital letter and use letters, "
                f"digits and underscores only, got {self.collection!r}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WeaviateConfig:
        """Read WEAVIATE_URL, WEAVIATE_GRPC_PORT, WEAVIATE_GRPC_HOST, WEAVIATE_API_KEY_ENV,
        WEAVIATE_TIMEOUT_S and WEAVIATE_COLLECTION; fail loudly on a missing URL."""
        env = os.environ if environ is None else environ
        url = env.get("WEAVIATE_URL", "").strip()
        if not url:
            raise ValueError("WEAVIATE_URL is not set (e.g. http://weaviate:8080).")
        try:
            grpc_port = int(env.get("WEAVIATE_GRPC_PORT") or DEFAULT_GRPC_PORT)
            timeout_s = float(env.get("WEAVIATE_TIMEOUT_S") or 30.0)
        except ValueError as exc:
            raise ValueError(f"Bad Weaviate setting: {exc}") from exc
        return cls(
            url=url,
            grpc_port=grpc_port,
            grpc_host=env.get("WEAVIATE_GRPC_HOST", "").strip(),
            api_key_env=env.get("WEAVIATE_API_KEY_ENV", "").strip() or "WEAVIATE_API_KEY",
            timeout_s=timeout_s,
            collection=env.get("WEAVIATE_COLLECTION", "").strip() or DEFAULT_COLLECTION,
        )

    @property
    def http_host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def http_secure(self) -> bool:
        return urlsplit(self.url).scheme == "https"

    @property
    def http_port(self) -> int:
        return urlsplit(self.url).port or (443 if self.http_secure else 80)

    @property
    def grpc_target(self) -> str:
        return f"{self.grpc_host or self.http_host}:{self.grpc_port}"

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env, "").strip() or None


# --------------------------------------------------------------------------- helpers


def _is_transient(exc: BaseException) -> bool:
    """Worth another try: the network or an overloaded server, never a bad request.

    (The client already retries gRPC UNAVAILABLE itself, with backoff.)"""
    if isinstance(exc, WeaviateConnectionError | WeaviateTimeoutError | WeaviateStartUpError):
        return True
    return isinstance(exc, UnexpectedStatusCodeError) and exc.status_code in _TRANSIENT_STATUS


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _chunks(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _as_names(values: Sequence[str], what: str) -> list[str]:
    if isinstance(values, str):
        raise TypeError(f"{what} must be a sequence of strings, not a single string")
    return list(dict.fromkeys(values))


# --------------------------------------------------------------------------- store


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
        self._retry_attempts = max(1, retry_attempts)
        self._retry_wait_s = retry_wait_s
        self._version_lock = threading.Lock()
        self._last_version = 0
        self._owns_client = client is None
        self._client = client if client is not None else self._connect()
        try:
            self._ensure_collection()
        except BaseException:
            self.close()
            raise
        self._collection = self._client.collections.use(config.collection)

    # ----------------------------------------------------------------- lifecycle

    def close(self) -> None:
        if self._owns_client and getattr(self, "_client", None) is not None:
            self._client.close()

    def __enter__(self) -> WeaviateStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, operation: Callable[[], T], *, what: str) -> T:
        """Run a client call with retries on transient errors; wrap failures readably."""

        def log_retry(state: RetryCallState) -> None:
            outcome = state.outcome
            error = outcome.exception() if outcome is not None else None
            logger.warning(
                "weaviate retry",
                extra={
                    "operation": what,
                    "attempt": state.attempt_number,
                    "error": _reason(error) if error else "",
                    "url": self.config.url,
                },
            )

        retrying = Retrying(
            stop=stop_after_attempt(self._retry_attempts),
            wait=wait_exponential(multiplier=self._retry_wait_s, max=8.0),
            retry=retry_if_exception(_is_transient),
            before_sleep=log_retry,
            reraise=True,
        )
        try:
            return retrying(operation)
        except WeaviateBaseError as exc:
            if isinstance(exc, UnexpectedStatusCodeError) and exc.status_code in (401, 403):
                state = "set" if self.config.api_key() else "empty or unset"
                raise WeaviateUnavailableError(
                    f"Weaviate at {self.config.url} refused our credentials ({what}, HTTP "
                    f"{exc.status_code}). The API key is read from the environment variable "
                    f"named by WEAVIATE_API_KEY_ENV ({self.config.api_key_env}, {state})."
                ) from exc
            if _is_transient(exc):
                raise WeaviateUnavailableError(
                    f"Weaviate at {self.config.url} is unavailable ({what}, "
                    f"{self._retry_attempts} attempt(s)): {_reason(exc)}. Check that the "
                    "server is running and WEAVIATE_URL / WEAVIATE_GRPC_PORT point at it."
                ) from exc
            raise WeaviateStoreError(
                f"Weaviate at {self.config.url} failed to {what}: {_reason(exc)}"
            ) from exc

    def _connect(self) -> weaviate.WeaviateClient:
        config = self.config
        key = config.api_key()
        additional = AdditionalConfig(
            timeout=Timeout(
                init=min(config.timeout_s, 10.0),
                query=config.timeout_s,
                insert=config.timeout_s * 2,
            )
        )

        def connect() -> weaviate.WeaviateClient:
            # skip_init_checks: the client's own checks also query PyPI for a newer
            # version; reachability of gRPC is checked below instead.
            return weaviate.connect_to_custom(
                http_host=config.http_host,
                http_port=config.http_port,
                http_secure=config.http_secure,
                grpc_host=config.grpc_host or config.http_host,
                grpc_port=config.grpc_port,
                grpc_secure=config.http_secure,
                auth_credentials=Auth.api_key(key) if key else None,
                additional_config=additional,
                skip_init_checks=True,
            )

        client = self._call(connect, what="connect")
        try:
            self._check_grpc()
        except BaseException:
            client.close()
            raise
        logger.info(
            "weaviate connected",
            extra={
                "url": config.url,
                "grpc": config.grpc_target,
                "collection": config.collection,
                "api_key_env": config.api_key_env if key else "",
            },
        )
        return client

    def _check_grpc(self) -> None:
        """Fail fast on a wrong gRPC port: searches and writes go over gRPC, and the
        client would otherwise back off for a minute on every call."""
        target = self.config.grpc_target
        channel = (
            grpc.secure_channel(target, grpc.ssl_channel_credentials())
            if self.config.http_secure
            else grpc.insecure_channel(target)
        )
        try:
            grpc.channel_ready_future(channel).result(timeout=min(self.config.timeout_s, 10.0))
        except grpc.FutureTimeoutError as exc:
            raise WeaviateUnavailableError(
                f"Weaviate answers at {self.config.url} but its gRPC port {target} does not. "
                "Set WEAVIATE_GRPC_PORT (and WEAVIATE_GRPC_HOST if gRPC is on another host)."
            ) from exc
        finally:
            channel.close()

    def _ensure_collection(self) -> None:
        name = self.config.collection
        collections = self._client.collections
        if self._call(lambda: collections.exists(name), what="check the collection"):
            self._check_schema()
            return
        try:
            self._call(
                lambda: collections.create(name, **wq.collection_settings()),
                what=f"create collection {name}",
            )
            logger.info("weaviate collection created", extra={"collection": name})
        except WeaviateStoreError:
            # Another process may have created it first; that is fine.
            if not self._call(lambda: collections.exists(name), what="check the collection"):
                raise

    def _check_schema(self) -> None:
        name = self.config.collection
        config = self._call(
            lambda: self._client.collections.use(name).config.get(), what="read the schema"
        )
        present = {p.name for p in config.properties}
        missing = sorted(wq.REQUIRED_PROPERTIES - present)
        vectors = set(config.vector_config or {})
        if missing or wq.VECTOR_NAME not in vectors:
            raise WeaviateStoreError(
                f"Weaviate collection {name!r} exists but was not created by Arandu (missing "
                f"properties {missing or 'none'}, vectors {sorted(vectors)}). Set "
                "WEAVIATE_COLLECTION to another name or delete that collection."
            )

    def health(self) -> dict[str, Any]:
        """For the readiness endpoint: never raises, no retries, one or two quick calls."""
        started = time.perf_counter()
        report: dict[str, Any] = {
            "backend": "weaviate",
            "url": self.config.url,
            "collection": self.config.collection,
        }
        try:
            meta = self._client.get_meta()
            exists = self._client.collections.exists(self.config.collection)
        except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
            report.update(ok=False, error=_reason(exc))
        else:
            report.update(ok=bool(exists), version=str(meta.get("version", "")))
            if not exists:
                report["error"] = "collection is missing"
        report["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return report

    # ----------------------------------------------------------------- reading

    def search(self, query: SearchQuery) -> list[SearchHit]:
        where = wq.scope(knowledge_sets=query.knowledge_sets, document_ids=query.document_ids)
        plan = wq.hybrid_plan(query, filters=where.filter)
        if where.empty or plan is None:
            return []
        vector = np.asarray(query.vector, dtype=np.float32).reshape(-1)
        response = self._call(
            lambda: self._collection.query.hybrid(**plan.arguments), what="run a hybrid search"
        )
        kept: list[tuple[Any, float, float]] = []
        for obj in response.objects:
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
        return hits[: query.top_k]

    def _lexical_scores(self, plan: wq.HybridPlan, uuids: list[str]) -> dict[str, float]:
        if not plan.keyword or not uuids:
            return {}
        arguments = wq.bm25_arguments(plan.terms, uuids)
        response = self._call(
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
        result = self._call(
            lambda: self._collection.aggregate.over_all(total_count=True, filters=where.filter),
            what="count objects",
        )
        return int(result.total_count or 0)

    def document_counts(self, *, knowledge_set: str | None = None) -> dict[str, int]:
        """Objects per document id, in one aggregation (migration progress, reconciliation)."""
        where = wq.knowledge_set_filter(knowledge_set) if knowledge_set is not None else None
        result = self._call(
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
        response = self._call(
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
                result = self._call(
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
            result = self._call(lambda: self._collection.data.delete_many(where=where), what=what)
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
