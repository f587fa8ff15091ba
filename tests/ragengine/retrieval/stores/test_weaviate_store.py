"""WeaviateStore: the shared contract against a live server, and without one, the exact
requests the weaviate client builds from our arguments.

Live: set WEAVIATE_URL (loopback, e.g. http://127.0.0.1:8080 with the compose service's
ports published) and the contract suite runs against a fresh collection per test.

Without a server, `Wire` keeps the real `weaviate.WeaviateClient` and every one of its
request builders, and replaces only the transport on its connection object (REST get/post,
gRPC search/batch/delete): each request the client would send is recorded as the client
built it (schema JSON, SearchRequest / BatchObjectsRequest / BatchDeleteRequest protos,
GraphQL), and replies are real reply formats queued by the test.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import os
import socket
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import weaviate
from weaviate.connect import ConnectionParams
from weaviate.exceptions import (
    UnexpectedStatusCodeError,
    WeaviateBatchError,
    WeaviateConnectionError,
)
from weaviate.proto.v1 import (
    base_pb2,
    base_search_pb2,
    batch_delete_pb2,
    batch_pb2,
    properties_pb2,
    search_get_pb2,
)
from weaviate.util import _ServerVersion, generate_uuid5

from ragengine.retrieval.stores import weaviate_query as wq
from ragengine.retrieval.stores.weaviate_store import (
    WeaviateConfig,
    WeaviateStore,
    WeaviateStoreError,
    WeaviateUnavailableError,
    WeaviateWriteError,
)
from ragengine.retrieval.types import (
    SearchQuery,
    StoreRecord,
    VectorStore,
    lexical_text,
    text_hash,
)
from ragengine.text_analysis import analyze
from tests.ragengine.retrieval.stores.contract import (
    VectorStoreContract,
    query,
    record,
    unit,
)

LIVE_URL = os.environ.get("WEAVIATE_URL", "")
PINNED_SERVER = (1, 28, 4)  # docker-compose.yml's image
COLLECTION = "AranduUnit"
Base = base_pb2.Filters


# =========================================================================== live contract


@pytest.mark.weaviate
@pytest.mark.skipif(
    not LIVE_URL,
    reason="needs a Weaviate server: set WEAVIATE_URL (loopback, e.g. http://127.0.0.1:8080)",
)
class TestWeaviateStoreContract(VectorStoreContract):
    @pytest.fixture
    def live_config(self) -> Iterator[WeaviateConfig]:
        config = dataclasses.replace(
            WeaviateConfig.from_env(), collection=f"AranduTest{uuid.uuid4().hex[:12]}"
        )
        yield config
        with WeaviateStore(config=config) as cleanup:
            cleanup._client.collections.delete(config.collection)

    @pytest.fixture
    def store(self, live_config: WeaviateConfig) -> Iterator[VectorStore]:
        with WeaviateStore(config=live_config) as opened:
            yield opened

    @pytest.fixture
    def reopen_store(self, live_config: WeaviateConfig) -> Iterator[Callable[[], VectorStore]]:
        opened: list[WeaviateStore] = []

        def reopen() -> VectorStore:
            opened.append(WeaviateStore(config=live_config))
            return opened[-1]

        yield reopen
        for store in opened:
            store.close()

    def test_replace_is_atomic_for_concurrent_readers(self, seeded: VectorStore) -> None:
        """Weaviate has no transactions (see the module docstring), so this backend
        promises less than the local store: while a document is replaced, readers never
        see it vanish or grow beyond the larger version, and the end state is exact."""
        sizes = (12, 4)

        def chunks(n: int, version: int) -> list[StoreRecord]:
            return [
                record(f"big#{i}", f"version {version} chunk {i}", unit(e7=1.0, e1=i / n))
                for i in range(n)
            ]

        seeded.replace_documents(document_ids=["big"], records=chunks(sizes[0], 0))
        seen: list[int] = []
        done = threading.Event()

        def read() -> None:
            while not done.is_set():
                seen.append(seeded.count(document_ids=["big"]))

        reader = threading.Thread(target=read)
        reader.start()
        try:
            for version in range(1, 7):
                seeded.replace_documents(
                    document_ids=["big"], records=chunks(sizes[version % 2], version)
                )
        finally:
            done.set()
            reader.join()
        assert seen and min(seen) >= min(sizes) and max(seen) <= max(sizes)
        assert seeded.count(document_ids=["big"]) == sizes[0]

    def test_health_and_reopening_an_existing_collection(
        self, seeded: VectorStore, reopen_store: Callable[[], VectorStore]
    ) -> None:
        reopened = reopen_store()  # exercises the schema check of an existing collection
        assert isinstance(reopened, WeaviateStore)
        report = reopened.health()
        assert report["ok"] is True and report["version"]
        assert reopened.document_counts(knowledge_set="hr") == {"handbook": 2, "benefits": 1}


# =========================================================================== the wire


def _search_result(
    *, record_id: str, score: float, vector: np.ndarray, **overrides: Any
) -> search_get_pb2.SearchResult:
    document, _, ordinal = record_id.partition("#")
    props: dict[str, Any] = {
        wq.RECORD_ID: record_id,
        wq.KNOWLEDGE_SET: overrides.pop("knowledge_set", "hr"),
        wq.DOCUMENT_ID: document,
        wq.ORDINAL: int(ordinal or 0),
        wq.TEXT: overrides.pop("text", f"text of {record_id}"),
        wq.METADATA_JSON: json.dumps(overrides.pop("metadata", {"title": document})),
    }
    fields = {
        name: properties_pb2.Value(int_value=value)
        if isinstance(value, int)
        else properties_pb2.Value(text_value=value)
        for name, value in props.items()
    }
    return search_get_pb2.SearchResult(
        properties=search_get_pb2.PropertiesResult(
            non_ref_props=properties_pb2.Properties(fields=fields)
        ),
        metadata=search_get_pb2.MetadataResult(
            id_as_bytes=uuid.UUID(wq.object_uuid(record_id)).bytes,
            score=score,
            score_present=True,
            vectors=[
                base_pb2.Vectors(
                    name=wq.VECTOR_NAME,
                    vector_bytes=np.asarray(vector, dtype="<f4").tobytes(),
                    type=base_pb2.Vectors.VECTOR_TYPE_SINGLE_FP32,
                )
            ],
        ),
    )


def search_reply(*results: search_get_pb2.SearchResult) -> search_get_pb2.SearchReply:
    return search_get_pb2.SearchReply(results=list(results))


def bm25_reply(scores: dict[str, float]) -> search_get_pb2.SearchReply:
    return search_get_pb2.SearchReply(
        results=[
            search_get_pb2.SearchResult(
                metadata=search_get_pb2.MetadataResult(
                    id_as_bytes=uuid.UUID(wq.object_uuid(rid)).bytes,
                    score=score,
                    score_present=True,
                )
            )
            for rid, score in scores.items()
        ]
    )


def deleted(matches: int) -> batch_delete_pb2.BatchDeleteReply:
    return batch_delete_pb2.BatchDeleteReply(matches=matches, successful=matches, failed=0)


class Wire:
    """A real WeaviateClient (never connected) whose transport records and replies."""

    def __init__(self, version: tuple[int, int, int] = PINNED_SERVER) -> None:
        self.client = weaviate.WeaviateClient(
            connection_params=ConnectionParams.from_params(
                http_host="127.0.0.1",
                http_port=1,
                http_secure=False,
                grpc_host="127.0.0.1",
                grpc_port=2,
                grpc_secure=False,
            ),
            skip_init_checks=True,
        )
        connection = self.client._connection
        connection._weaviate_version = _ServerVersion(*version)
        self.sent: list[tuple[str, Any]] = []
        self.replies: dict[str, deque[Any]] = {
            name: deque() for name in ("get", "graphql", "search", "batch", "delete")
        }
        connection.get = self._get
        connection.post = self._post
        connection.grpc_search = lambda request: self._reply("search", request)
        connection.grpc_batch_objects = lambda request, timeout, max_retries: self._reply(
            "batch", request
        )
        connection.grpc_batch_delete = lambda request: self._reply("delete", request)

    def queue(self, kind: str, *replies: Any) -> None:
        self.replies[kind].extend(replies)

    def of(self, kind: str) -> list[Any]:
        return [request for sent_kind, request in self.sent if sent_kind == kind]

    @property
    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.sent]

    def _reply(self, kind: str, request: Any) -> Any:
        self.sent.append((kind, request))
        if not self.replies[kind]:
            defaults = {
                "search": search_get_pb2.SearchReply(),
                "batch": {},
                "delete": deleted(0),
            }
            return defaults[kind]
        reply = self.replies[kind].popleft()
        if isinstance(reply, BaseException):
            raise reply
        return reply

    def _response(self, status: int, body: Any) -> httpx.Response:
        return httpx.Response(status, json=body, request=httpx.Request("GET", "http://wire"))

    def _get(self, path: str, **_: Any) -> httpx.Response:
        self.sent.append(("get", path))
        if self.replies["get"]:
            reply = self.replies["get"].popleft()
            if isinstance(reply, BaseException):
                raise reply
            status, body = reply
            return self._response(status, body)
        return self._response(404, {"error": [{"message": "not found"}]})

    def _post(self, path: str, weaviate_object: Any, **_: Any) -> httpx.Response:
        if path == "/graphql":
            self.sent.append(("graphql", weaviate_object["query"]))
            return self._response(200, self.replies["graphql"].popleft())
        self.sent.append(("post " + path, weaviate_object))
        return self._response(200, weaviate_object)


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def config() -> WeaviateConfig:
    return WeaviateConfig(url="http://127.0.0.1:8080", collection=COLLECTION)


@pytest.fixture
def store(wire: Wire, config: WeaviateConfig) -> WeaviateStore:
    created = WeaviateStore(config=config, client=wire.client, batch_size=3)
    wire.sent.clear()
    return created


def stamped_version(batch: batch_pb2.BatchObjectsRequest) -> int:
    versions = {
        obj.properties.non_ref_properties.fields[wq.WRITE_VERSION].number_value
        for obj in batch.objects
    }
    (version,) = versions
    return int(version)


# =========================================================================== config


def test_config_from_env_reads_names_and_fails_loudly(monkeypatch) -> None:
    env = {
        "WEAVIATE_URL": "https://vectors.example.internal",
        "WEAVIATE_GRPC_PORT": "443",
        "WEAVIATE_GRPC_HOST": "grpc-vectors.example.internal",
        "WEAVIATE_API_KEY_ENV": "ARANDU_TEST_WEAVIATE_KEY",
        "WEAVIATE_TIMEOUT_S": "7.5",
    }
    config = WeaviateConfig.from_env(env)
    assert (config.http_host, config.http_port, config.http_secure) == (
        "vectors.example.internal",
        443,
        True,
    )
    assert config.grpc_target == "grpc-vectors.example.internal:443"
    assert (config.timeout_s, config.collection) == (7.5, "AranduChunk")
    # The key is read from the NAMED variable when connecting, never stored in the config.
    monkeypatch.setenv("ARANDU_TEST_WEAVIATE_KEY", "s3cret")
    assert config.api_key() == "s3cret"
    assert "s3cret" not in repr(config)
    monkeypatch.delenv("ARANDU_TEST_WEAVIATE_KEY")
    assert config.api_key() is None

    local = WeaviateConfig.from_env({"WEAVIATE_URL": "http://weaviate:8080"})
    assert (local.http_port, local.grpc_target, local.api_key_env) == (
        8080,
        "weaviate:50051",
        "WEAVIATE_API_KEY",
    )
    with pytest.raises(ValueError, match="WEAVIATE_URL is not set"):
        WeaviateConfig.from_env({})
    with pytest.raises(ValueError, match="WEAVIATE_URL must look like"):
        WeaviateConfig(url="weaviate:8080")
    with pytest.raises(ValueError, match="WEAVIATE_COLLECTION"):
        WeaviateConfig(url="http://w:8080", collection="chunks")
    with pytest.raises(ValueError, match="WEAVIATE_GRPC_PORT"):
        WeaviateConfig.from_env({"WEAVIATE_URL": "http://w", "WEAVIATE_GRPC_PORT": "0"})


# =========================================================================== schema


def test_first_use_creates_the_collection_schema(wire: Wire, config: WeaviateConfig) -> None:
    assert isinstance(WeaviateStore(config=config, client=wire.client), VectorStore)

    assert wire.kinds == ["get", "post /schema"]
    assert wire.sent[0][1] == f"/schema/{COLLECTION}"
    schema = wire.sent[1][1]
    assert schema["class"] == COLLECTION
    # Bring-your-own vectors: a named vector without a vectorizer, cosine HNSW.
    assert schema["vectorConfig"] == {
        "default": {
            "vectorizer": {"none": {}},
            "vectorIndexType": "hnsw",
            "vectorIndexConfig": {"distance": "cosine"},
        }
    }
    assert schema["invertedIndexConfig"] == {
        "bm25": {"b": 0.75, "k1": 1.5},
        "stopwords": {"preset": "none"},
    }
    props = {p["name"]: p for p in schema["properties"]}
    assert set(props) == wq.REQUIRED_PROPERTIES
    for name in (wq.RECORD_ID, wq.KNOWLEDGE_SET, wq.DOCUMENT_ID):
        assert props[name]["dataType"] == ["text"]
        assert props[name]["tokenization"] == "field"
        assert (props[name]["indexFilterable"], props[name]["indexSearchable"]) == (True, False)
    # Only the analysed terms are BM25-searchable, split on whitespace.
    searchable = [n for n, p in props.items() if p.get("indexSearchable", True)]
    text_props = [n for n, p in props.items() if p["dataType"] == ["text"]]
    assert [n for n in searchable if n in text_props] == [wq.SEARCH_TEXT]
    assert props[wq.SEARCH_TEXT]["tokenization"] == "whitespace"
    assert (props[wq.TEXT]["indexSearchable"], props[wq.TEXT]["indexFilterable"]) == (
        False,
        False,
    )
    for name in (wq.ORDINAL, wq.PAGE, wq.WRITE_VERSION):
        assert props[name]["dataType"] == ["int"]


# =========================================================================== search requests


def test_cross_set_hybrid_query_is_one_request(wire: Wire, store: WeaviateStore) -> None:
    vector = unit(e0=1.0, e1=1.0)
    store.search(
        SearchQuery(
            text="Quantos dias de férias eu tenho?",
            vector=vector,
            top_k=5,
            knowledge_sets=("1", "2"),
            min_similarity=0.2,
            alpha=0.5,
            fusion="relative",
        )
    )

    assert wire.kinds == ["search"]  # no hits, so no BM25 score lookup either
    (request,) = wire.of("search")
    hybrid = request.hybrid_search
    assert request.collection == COLLECTION
    assert hybrid.query == " ".join(analyze("Quantos dias de férias eu tenho?"))
    assert list(hybrid.properties) == [wq.SEARCH_TEXT]
    assert hybrid.alpha == pytest.approx(0.5)
    assert hybrid.fusion_type == base_search_pb2.Hybrid.FusionType.FUSION_TYPE_RELATIVE_SCORE
    assert hybrid.vector_bytes == np.asarray(vector, dtype="<f4").tobytes()
    assert list(hybrid.targets.target_vectors) == [wq.VECTOR_NAME]
    assert hybrid.vector_distance == pytest.approx(0.8)  # 1 - min_similarity
    assert request.limit == 100  # a fixed pool (max(top_k, 100)) before the cap and top_k
    assert request.filters.operator == Base.OPERATOR_CONTAINS_ANY
    assert request.filters.target.property == wq.KNOWLEDGE_SET
    assert list(request.filters.value_text_array.values) == ["1", "2"]
    assert request.metadata.score and list(request.metadata.vectors) == [wq.VECTOR_NAME]
    assert set(request.properties.non_ref_properties) == set(wq.HIT_PROPERTIES)


def test_rrf_with_set_and_document_filters(wire: Wire, store: WeaviateStore) -> None:
    store.search(
        query(
            "expense receipts",
            unit(e1=1.0),
            top_k=20,
            fusion="rrf",
            alpha=0.3,
            knowledge_sets=("finance",),
            document_ids=("expenses", "travel"),
        )
    )

    (request,) = wire.of("search")
    assert request.hybrid_search.fusion_type == base_search_pb2.Hybrid.FusionType.FUSION_TYPE_RANKED
    assert request.hybrid_search.alpha == pytest.approx(0.3)
    assert request.limit == 100
    assert request.filters.operator == Base.OPERATOR_AND
    ks, docs = request.filters.filters
    assert (ks.target.property, list(ks.value_text_array.values)) == (
        wq.KNOWLEDGE_SET,
        ["finance"],
    )
    assert (docs.target.property, list(docs.value_text_array.values)) == (
        wq.DOCUMENT_ID,
        ["expenses", "travel"],
    )


def test_keyword_only_is_a_bm25_query_without_vector_or_floor(
    wire: Wire, store: WeaviateStore
) -> None:
    store.search(
        SearchQuery(
            text="expense receipts",
            vector=None,
            alpha=0.0,
            min_similarity=0.9,
            knowledge_sets=("finance",),
        )
    )

    (request,) = wire.of("search")
    assert not request.HasField("hybrid_search")
    assert request.bm25_search.query == " ".join(analyze("expense receipts"))
    assert list(request.bm25_search.properties) == [wq.SEARCH_TEXT]
    assert not list(request.metadata.vectors)


def test_a_vector_is_needed_unless_keyword_only(store: WeaviateStore) -> None:
    with pytest.raises(ValueError, match="vector"):
        store.search(SearchQuery(text="x", vector=None, alpha=0.5))


def test_no_query_terms_is_vector_only_weighted_by_alpha(wire: Wire, store: WeaviateStore) -> None:
    wire.queue(
        "search",
        search_reply(
            _search_result(record_id="security#1", score=1.0, vector=unit(e5=1.0)),
            _search_result(record_id="security#0", score=0.0, vector=unit(e3=1.0)),
        ),
    )
    hits = store.search(query("", unit(e5=1.0), alpha=0.25))

    (request,) = wire.of("search")
    assert request.hybrid_search.query == ""
    assert request.hybrid_search.alpha == 1.0  # the client's rule when there is no query
    # ... so the fused score is scaled back to the local store's alpha * minmax(dense).
    assert [(h.id, h.score) for h in hits] == [("security#1", 0.25), ("security#0", 0.0)]
    assert all(h.lexical_score == 0.0 for h in hits)
    assert wire.kinds == ["search"]


def test_requests_that_cannot_match_are_not_sent(wire: Wire, store: WeaviateStore) -> None:
    vector = unit(e0=1.0)
    assert store.search(query("férias", vector, knowledge_sets=())) == []
    assert store.search(query("férias", vector, document_ids=())) == []
    assert store.search(query("férias", vector, top_k=0)) == []
    assert store.search(query("", vector, alpha=0.0)) == []
    assert store.search(query("férias", vector, min_similarity=1.5)) == []
    assert store.count(knowledge_sets=[]) == 0
    assert store.count(document_ids=[]) == 0
    assert wire.sent == []
    with pytest.raises(ValueError, match="alpha"):
        store.search(query("férias", vector, alpha=1.5))
    with pytest.raises(ValueError, match="fusion"):
        store.search(query("férias", vector, fusion="max"))


def test_hits_are_thresholded_scored_and_ranked_from_the_replies(
    wire: Wire, store: WeaviateStore
) -> None:
    vector = unit(e0=1.0, e1=0.2)
    wire.queue(
        "search",
        search_reply(
            _search_result(
                record_id="handbook#0",
                score=0.9,
                vector=unit(e0=1.0),
                metadata={"title": "Handbook", "page": 3},
            ),
            # A keyword-only match whose cosine is below the threshold: dropped here
            # even though the server let it through.
            _search_result(record_id="expenses#0", score=0.5, vector=unit(e1=1.0)),
            _search_result(record_id="handbook#1", score=0.6, vector=unit(e0=1.0, e4=1.0)),
            # Same fused score as handbook#1: the higher cosine ranks first.
            _search_result(record_id="benefits#0", score=0.6, vector=unit(e0=1.0, e6=0.1)),
        ),
        bm25_reply({"handbook#0": 2.5, "handbook#1": 1.25}),
    )

    hits = store.search(query("férias", vector, min_similarity=0.5, top_k=3))

    assert [h.id for h in hits] == ["handbook#0", "benefits#0", "handbook#1"]
    top = hits[0]
    assert (top.knowledge_set, top.document_id, top.ordinal) == ("hr", "handbook", 0)
    assert dict(top.metadata) == {"title": "Handbook", "page": 3}
    assert top.score == pytest.approx(0.9)
    assert top.similarity == pytest.approx(float(unit(e0=1.0) @ vector), abs=1e-6)
    assert [h.lexical_score for h in hits] == [2.5, 0.0, 1.25]
    # The BM25 lookup asks for exactly the kept hits, with the same terms.
    _, lookup = wire.of("search")
    assert lookup.bm25_search.query == " ".join(analyze("férias"))
    assert list(lookup.bm25_search.properties) == [wq.SEARCH_TEXT]
    assert lookup.filters.target.property == "_id"
    assert set(lookup.filters.value_text_array.values) == {
        wq.object_uuid(r) for r in ("handbook#0", "handbook#1", "benefits#0")
    }
    assert lookup.limit == 3


# =========================================================================== writes


def corpus(n: int, *, document: str = "policy", version: int = 0) -> list[StoreRecord]:
    return [
        record(
            f"{document}#{i}",
            f"Férias version {version} chunk {i}",
            unit(e0=1.0, e1=i / 10),
            metadata={"title": "Policy", "location": "Leave", "page": i + 1},
        )
        for i in range(n)
    ]


def test_replace_writes_all_objects_before_deleting_older_versions(
    wire: Wire, store: WeaviateStore
) -> None:
    records = corpus(5)
    wire.queue("delete", deleted(2), deleted(0))

    store.replace_documents(document_ids=["policy"], records=records)

    # batch_size=3: two batches, then the stale delete until nothing matches.
    assert wire.kinds == ["batch", "batch", "delete", "delete"]
    first, second = wire.of("batch")
    objects = list(first.objects) + list(second.objects)
    assert [o.uuid for o in objects] == [generate_uuid5(r.id, wq.UUID_NAMESPACE) for r in records]
    version = stamped_version(first)
    assert stamped_version(second) == version
    fields = objects[2].properties.non_ref_properties.fields
    assert fields[wq.RECORD_ID].string_value == "policy#2"
    assert fields[wq.DOCUMENT_ID].string_value == "policy"
    assert fields[wq.TEXT].string_value == records[2].text
    assert fields[wq.SEARCH_TEXT].string_value == " ".join(analyze(lexical_text(records[2])))
    assert "polici" in fields[wq.SEARCH_TEXT].string_value.split()  # the title is searchable
    assert fields[wq.TEXT_SHA].string_value == text_hash(records[2].text)
    assert json.loads(fields[wq.METADATA_JSON].string_value) == dict(records[2].metadata)
    assert fields[wq.PAGE].number_value == 3
    (vector,) = objects[2].vectors
    assert vector.name == wq.VECTOR_NAME
    assert vector.vector_bytes == np.asarray(records[2].vector, dtype="<f4").tobytes()

    stale = wire.of("delete")[0].filters
    assert stale.operator == Base.OPERATOR_AND
    docs, older = stale.filters
    assert (docs.target.property, list(docs.value_text_array.values)) == (
        wq.DOCUMENT_ID,
        ["policy"],
    )
    assert (older.target.property, older.operator) == (wq.WRITE_VERSION, Base.OPERATOR_LESS_THAN)
    assert older.value_int == version


def test_rewriting_the_same_records_reuses_their_uuids_with_a_newer_version(
    wire: Wire, store: WeaviateStore
) -> None:
    records = corpus(2)
    store.replace_documents(document_ids=["policy"], records=records)
    store.replace_documents(document_ids=["policy"], records=records)

    first, second = wire.of("batch")
    assert [o.uuid for o in first.objects] == [o.uuid for o in second.objects]
    assert stamped_version(second) > stamped_version(first)
    # Within one write, the last record with an id wins (as in the local store).
    wire.sent.clear()
    changed = record("policy#0", "changed", unit(e2=1.0))
    store.replace_documents(document_ids=[], records=[records[0], changed])
    (batch,) = wire.of("batch")
    assert [
        o.properties.non_ref_properties.fields[wq.TEXT].string_value for o in batch.objects
    ] == ["changed"]
    assert wire.of("delete") == []  # no documents named: nothing to clean up
    assert wq.PAGE not in batch.objects[0].properties.non_ref_properties.fields  # not null


def test_rejected_objects_stop_the_write_before_any_delete(
    wire: Wire, store: WeaviateStore
) -> None:
    wire.queue("batch", {}, {1: "new node has a vector with length 7. Existing nodes have 8"})

    with pytest.raises(WeaviateWriteError) as caught:
        store.replace_documents(document_ids=["policy"], records=corpus(5))

    assert caught.value.failures == (
        ("policy#4", "new node has a vector with length 7. Existing nodes have 8"),
    )
    message = str(caught.value)
    assert "rejected 1 of 2 chunks" in message and "policy#4" in message
    assert "nothing was deleted" in message
    assert wire.kinds == ["batch", "batch"]


def test_a_batch_rejected_whole_or_lost_in_transit_is_reported(
    wire: Wire, store: WeaviateStore
) -> None:
    wire.queue("batch", {0: "bad", 1: "bad"})
    with pytest.raises(WeaviateWriteError) as caught:
        store.replace_documents(document_ids=["policy"], records=corpus(2))
    assert [rid for rid, _ in caught.value.failures] == ["policy#0", "policy#1"]

    wire.sent.clear()
    wire.queue("batch", WeaviateBatchError("failed to connect to all addresses"))
    with pytest.raises(WeaviateStoreError, match="failed to connect to all addresses"):
        store.replace_documents(document_ids=["policy"], records=corpus(2))
    assert wire.kinds == ["batch"]


def test_invalid_records_are_refused_before_anything_is_sent(
    wire: Wire, store: WeaviateStore
) -> None:
    broken = np.full(8, np.nan, dtype=np.float32)
    with pytest.raises(ValueError, match="finite"):
        store.replace_documents(document_ids=["x"], records=[record("x#0", "t", broken)])
    mixed = [record("x#0", "t", unit(e0=1.0)), record("x#1", "t", np.ones(4, np.float32))]
    with pytest.raises(ValueError, match="dimensions differ"):
        store.replace_documents(document_ids=["x"], records=mixed)
    with pytest.raises(TypeError):
        store.delete_documents(document_ids="x")
    assert wire.sent == []


def test_deletes_filter_by_document_and_by_set(wire: Wire, store: WeaviateStore) -> None:
    wire.queue("delete", deleted(3), deleted(0), deleted(10), deleted(0))
    store.delete_documents(document_ids=["a", "b"])
    store.delete_knowledge_set(knowledge_set="hr")

    by_document, _, by_set, _ = [r.filters for r in wire.of("delete")]
    assert (by_document.operator, by_document.target.property) == (
        Base.OPERATOR_CONTAINS_ANY,
        wq.DOCUMENT_ID,
    )
    assert list(by_document.value_text_array.values) == ["a", "b"]
    assert (by_set.operator, by_set.target.property, by_set.value_text) == (
        Base.OPERATOR_EQUAL,
        wq.KNOWLEDGE_SET,
        "hr",
    )


def test_counts_and_document_listing_use_aggregations(wire: Wire, store: WeaviateStore) -> None:
    wire.queue(
        "graphql",
        {"data": {"Aggregate": {COLLECTION: [{"meta": {"count": 5}}]}}},
        {
            "data": {
                "Aggregate": {
                    COLLECTION: [
                        {
                            "groupedBy": {"path": [wq.DOCUMENT_ID], "value": doc},
                            "meta": {"count": n},
                        }
                        for doc, n in (("7", 3), ("9", 1))
                    ]
                }
            }
        },
    )
    assert store.count(knowledge_sets=["hr", "it"]) == 5
    assert store.document_counts(knowledge_set="hr") == {"7": 3, "9": 1}

    counted, grouped = wire.of("graphql")
    assert "knowledge_set" in counted and "ContainsAny" in counted and "count" in counted
    assert "groupBy" in grouped and wq.DOCUMENT_ID in grouped and "Equal" in grouped


def test_health_reports_instead_of_raising(wire: Wire, store: WeaviateStore) -> None:
    wire.queue("get", (200, {"version": "1.28.4"}), (200, {"class": COLLECTION}))
    report = store.health()
    assert report["ok"] is True and report["version"] == "1.28.4"
    assert wire.sent == [("get", "/meta"), ("get", f"/schema/{COLLECTION}")]

    wire.queue("get", (200, {"version": "1.28.4"}))  # then the collection is missing (404)
    missing = store.health()
    assert missing["ok"] is False and missing["error"] == "collection is missing"


def test_transient_errors_are_retried_and_refused_credentials_are_named(
    wire: Wire, config: WeaviateConfig
) -> None:
    wire.queue("get", WeaviateConnectionError("reset"), WeaviateConnectionError("reset"))
    WeaviateStore(config=config, client=wire.client, retry_attempts=3, retry_wait_s=0.001)
    assert wire.kinds == ["get", "get", "get", "post /schema"]

    wire.sent.clear()
    refused = httpx.Response(401, json={}, request=httpx.Request("GET", "http://wire"))
    wire.queue("get", UnexpectedStatusCodeError("Collection exists", refused))
    with pytest.raises(WeaviateUnavailableError, match="refused our credentials") as caught:
        WeaviateStore(config=config, client=wire.client, retry_attempts=3, retry_wait_s=0.001)
    assert "WEAVIATE_API_KEY_ENV (WEAVIATE_API_KEY" in str(caught.value)
    assert wire.kinds == ["get"]  # not retried


# =========================================================================== down server


def free_port() -> int:
    """A port nothing listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_down_server_gives_a_readable_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(WeaviateUnavailableError) as caught:
        WeaviateStore(
            config=WeaviateConfig(url=url, timeout_s=2.0), retry_attempts=2, retry_wait_s=0.01
        )
    message = str(caught.value)
    assert url in message and "2 attempt(s)" in message
    assert "WEAVIATE_URL" in message


class _MetaOnly(http.server.BaseHTTPRequestHandler):
    """Answers the REST meta endpoint like Weaviate does; there is no gRPC behind it."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = json.dumps({"version": "1.28.4"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_wrong_grpc_port_is_named_at_start() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _MetaOnly)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        config = WeaviateConfig(
            url=f"http://127.0.0.1:{server.server_address[1]}",
            grpc_port=free_port(),
            timeout_s=0.5,
        )
        with pytest.raises(WeaviateUnavailableError, match="gRPC port .* does not"):
            WeaviateStore(config=config, retry_attempts=1)
    finally:
        server.shutdown()
        server.server_close()


# =========================================================================== ingestion


def _db_state() -> tuple[list[tuple], list[tuple]]:
    from ragengine.models import Chunk, Document

    documents = list(
        Document.objects.order_by("pk").values_list(
            "pk", "status", "content_hash", "indexed_hash", "chunk_count"
        )
    )
    chunks = list(Chunk.objects.order_by("pk").values_list("pk", "document_id", "text"))
    return documents, chunks


@pytest.mark.django_db
def test_ingest_with_weaviate_down_fails_readably_and_leaves_the_database_as_it_was(
    embedder, handbook_dir: Path, monkeypatch
) -> None:
    from ragengine.retrieval import registry
    from ragengine.services import ingest
    from ragengine.services.knowledge import knowledge_set_get_or_create

    handbook = knowledge_set_get_or_create(name="handbook")
    ingest.documents_ingest_paths(paths=[handbook_dir], knowledge_set=handbook)
    before = _db_state()
    page = sorted(handbook_dir.glob("*.md"))[0]
    page.write_text(page.read_text() + "\n\nA new paragraph about parking.\n")

    down = WeaviateConfig(url=f"http://127.0.0.1:{free_port()}", timeout_s=2.0)
    monkeypatch.setattr(
        registry, "get_vector_store", lambda **_: WeaviateStore(config=down, retry_attempts=1)
    )
    with pytest.raises(WeaviateUnavailableError, match="unavailable"):
        ingest.documents_ingest_paths(paths=[handbook_dir], knowledge_set=handbook)

    assert _db_state() == before


@pytest.mark.django_db
def test_a_failed_store_write_keeps_the_new_chunks_marked_for_the_next_run(
    embedder, handbook_dir: Path, monkeypatch, wire: Wire, config: WeaviateConfig
) -> None:
    """Ingestion writes the database first, then the store: when the store write fails
    the database holds the new chunks with `indexed_hash` still the old one, so the next
    run redoes exactly those documents."""
    from ragengine.models import Document
    from ragengine.retrieval import registry
    from ragengine.services import ingest
    from ragengine.services.knowledge import knowledge_set_get_or_create

    handbook = knowledge_set_get_or_create(name="handbook")
    ingest.documents_ingest_paths(paths=[handbook_dir], knowledge_set=handbook)
    page = sorted(handbook_dir.glob("*.md"))[0]
    page.write_text(page.read_text() + "\n\nA new paragraph about parking.\n")

    broken = WeaviateStore(config=config, client=wire.client)
    wire.queue("batch", WeaviateBatchError("failed to connect to all addresses"))
    with monkeypatch.context() as patch:
        patch.setattr(registry, "get_vector_store", lambda **_: broken)
        with pytest.raises(WeaviateStoreError, match="nothing was deleted"):
            ingest.documents_ingest_paths(paths=[handbook_dir], knowledge_set=handbook)
    assert wire.of("delete") == []
    changed = Document.objects.get(source=str(page.resolve()))
    assert changed.content_hash != changed.indexed_hash
    assert "parking" in changed.chunks.order_by("-ordinal").first().text

    again = ingest.documents_ingest_paths(paths=[handbook_dir], knowledge_set=handbook)
    assert {o.source for o in again.outcomes if o.status == "ingested"} == {str(page.resolve())}


@pytest.mark.django_db
def test_the_registry_builds_a_weaviate_store_from_settings(settings) -> None:
    from ragengine.retrieval import registry

    settings.ARANDU_VECTOR_STORE = "weaviate"
    settings.WEAVIATE_URL = f"http://127.0.0.1:{free_port()}"
    settings.WEAVIATE_GRPC_PORT = 50051
    settings.WEAVIATE_GRPC_HOST = ""
    settings.WEAVIATE_API_KEY_ENV = "WEAVIATE_API_KEY"
    settings.WEAVIATE_TIMEOUT_S = 2.0
    settings.WEAVIATE_COLLECTION = "AranduChunk"
    # A fresh port is a fresh cache key, and a store that failed to connect is not cached.
    with pytest.raises(WeaviateUnavailableError) as caught:  # a closed port yields no store
        registry.get_vector_store()
    assert settings.WEAVIATE_URL in str(caught.value)
