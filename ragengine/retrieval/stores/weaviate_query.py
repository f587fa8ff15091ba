"""Pure builders for what `WeaviateStore` sends: schema, objects, filters, query arguments.

Kept apart from the store (no connection, no I/O) so tests can hand them to the client's
own classes and check the exact request that would go on the wire, without a server.

Lexical analysis is done here, not by Weaviate: `search_text` holds `analyze(text)`
(stopwords dropped, pt/en stemmed, accents folded) joined by spaces and tokenised on
whitespace, and queries are analysed the same way. Weaviate 1.28 has no stemmer or
accent folding, so this is what makes "férias" meet "FERIAS" exactly as in the local
store, and BM25 (k1 1.5, b 0.75, no stopword preset) then scores the same terms.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from weaviate.classes.config import (
    Configure,
    DataType,
    Property,
    StopwordsPreset,
    Tokenization,
    VectorDistances,
)
from weaviate.classes.data import DataObject
from weaviate.classes.query import Filter, HybridFusion, MetadataQuery
from weaviate.collections.classes.filters import FilterReturn
from weaviate.util import generate_uuid5

from ragengine.retrieval.stores.local_search import BM25_B, BM25_K1, candidate_depth
from ragengine.retrieval.types import (
    SearchQuery,
    StoreRecord,
    check_record,
    lexical_text,
    text_hash,
)
from ragengine.text_analysis import analyze

VECTOR_NAME = "default"
UUID_NAMESPACE = "arandu-chunk"

# Property names. `id` and `vector` are reserved by Weaviate, hence `record_id`.
RECORD_ID = "record_id"
KNOWLEDGE_SET = "knowledge_set"
DOCUMENT_ID = "document_id"
ORDINAL = "ordinal"
TEXT = "text"
SEARCH_TEXT = "search_text"
TEXT_SHA = "text_sha"
TITLE = "title"
LOCATION = "location"
PAGE = "page"
METADATA_JSON = "metadata_json"
WRITE_VERSION = "write_version"

REQUIRED_PROPERTIES = frozenset(
    {
        RECORD_ID,
        KNOWLEDGE_SET,
        DOCUMENT_ID,
        ORDINAL,
        TEXT,
        SEARCH_TEXT,
        TEXT_SHA,
        TITLE,
        LOCATION,
        PAGE,
        METADATA_JSON,
        WRITE_VERSION,
    }
)
# What a hit needs back (never the large `search_text`).
HIT_PROPERTIES = (RECORD_ID, KNOWLEDGE_SET, DOCUMENT_ID, ORDINAL, TEXT, METADATA_JSON)

# BM25_K1 / BM25_B and `candidate_depth` (the hybrid `limit`) are LocalStore's own, so
# both backends score and cut alike. Weaviate's hybrid fetches max(limit, 100) per leg,
# so it never sees fewer candidates than the local store.

FUSIONS: Mapping[str, HybridFusion] = {
    "relative": HybridFusion.RELATIVE_SCORE,
    "rrf": HybridFusion.RANKED,
}


# --------------------------------------------------------------------------- schema


def collection_settings() -> dict[str, Any]:
    """Keyword arguments for `client.collections.create(name, **collection_settings())`.

    One collection for every knowledge set, with `knowledge_set` a filterable property:
    a channel bound to several sets is then one hybrid query with one fusion, like the
    local store. Identifier properties use `field` tokenisation so filters match whole
    values; only `search_text` is BM25-searchable; display-only text is not indexed.
    """

    def keyword(name: str, description: str) -> Property:
        return Property(
            name=name,
            data_type=DataType.TEXT,
            description=description,
            tokenization=Tokenization.FIELD,
            index_searchable=False,
            index_filterable=True,
        )

    def stored_text(name: str, description: str) -> Property:
        return Property(
            name=name,
            data_type=DataType.TEXT,
            description=description,
            index_searchable=False,
            index_filterable=False,
        )

    return {
        "description": "Arandu chunks: one object per StoreRecord, vectors from our embedder.",
        "properties": [
            keyword(RECORD_ID, "StoreRecord.id; the object UUID is uuid5 of it."),
            keyword(KNOWLEDGE_SET, "Knowledge set id (filter)."),
            keyword(DOCUMENT_ID, "Document id (filter, delete by document)."),
            Property(name=ORDINAL, data_type=DataType.INT, description="Chunk position."),
            stored_text(TEXT, "Chunk text as shown to the user."),
            Property(
                name=SEARCH_TEXT,
                data_type=DataType.TEXT,
                description="analyze(text): stemmed, accent-folded terms for BM25.",
                tokenization=Tokenization.WHITESPACE,
                index_searchable=True,
                index_filterable=False,
            ),
            stored_text(TEXT_SHA, "sha256 of text, so migrations can skip identical chunks."),
            stored_text(TITLE, "Document title (citation)."),
            stored_text(LOCATION, "Heading path or page, as cited."),
            Property(name=PAGE, data_type=DataType.INT, description="Page, when known."),
            stored_text(METADATA_JSON, "StoreRecord.metadata as JSON, returned verbatim."),
            Property(
                name=WRITE_VERSION,
                data_type=DataType.INT,
                description="Microsecond stamp of the write; replace deletes older ones.",
            ),
        ],
        "vector_config": Configure.Vectors.self_provided(
            name=VECTOR_NAME,
            vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE),
        ),
        "inverted_index_config": Configure.inverted_index(
            bm25_b=BM25_B, bm25_k1=BM25_K1, stopwords_preset=StopwordsPreset.NONE
        ),
    }


# --------------------------------------------------------------------------- objects


def object_uuid(record_id: str) -> str:
    """Deterministic object UUID: re-writing a record replaces it instead of duplicating."""
    return generate_uuid5(record_id, UUID_NAMESPACE)


def checked_records(records: Iterable[StoreRecord]) -> list[StoreRecord]:
    """Validate before anything is sent; the last record with a given id wins (as locally)."""
    by_id: dict[str, StoreRecord] = {}
    dims: set[int] = set()
    for record in records:
        check_record(record)
        dims.add(np.asarray(record.vector).shape[0])
        by_id.pop(record.id, None)
        by_id[record.id] = record
    if len(dims) > 1:
        raise ValueError(f"Vector dimensions differ within one write: {sorted(dims)}")
    return list(by_id.values())


def _page(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def record_properties(record: StoreRecord, *, write_version: int) -> dict[str, Any]:
    """Object properties; an unknown page is left out rather than sent as null."""
    metadata = dict(record.metadata)
    properties = {
        RECORD_ID: record.id,
        KNOWLEDGE_SET: record.knowledge_set,
        DOCUMENT_ID: record.document_id,
        ORDINAL: int(record.ordinal),
        TEXT: record.text,
        SEARCH_TEXT: " ".join(analyze(lexical_text(record))),
        TEXT_SHA: text_hash(record.text),
        TITLE: str(metadata.get("title", "")),
        LOCATION: str(metadata.get("location", "")),
        METADATA_JSON: json.dumps(metadata, ensure_ascii=False),
        WRITE_VERSION: write_version,
    }
    page = _page(metadata.get("page"))
    if page is not None:
        properties[PAGE] = page
    return properties


def data_object(record: StoreRecord, *, write_version: int) -> DataObject:
    return DataObject(
        properties=record_properties(record, write_version=write_version),
        uuid=object_uuid(record.id),
        vector={VECTOR_NAME: np.asarray(record.vector, dtype=np.float32).tolist()},
    )


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True, slots=True)
class Scope:
    """A filter for `knowledge_sets` / `document_ids`; `empty` when it can match nothing."""

    filter: FilterReturn | None
    empty: bool = False


def scope(
    *,
    knowledge_sets: Sequence[str] | None = None,
    document_ids: Sequence[str] | None = None,
) -> Scope:
    """None means "no filter"; an empty sequence means "nothing" (no request is needed)."""
    parts: list[FilterReturn] = []
    for prop, values in ((KNOWLEDGE_SET, knowledge_sets), (DOCUMENT_ID, document_ids)):
        if values is None:
            continue
        names = [values] if isinstance(values, str) else list(dict.fromkeys(values))
        if not names:
            return Scope(filter=None, empty=True)
        parts.append(Filter.by_property(prop).contains_any(names))
    if not parts:
        return Scope(filter=None)
    return Scope(filter=parts[0] if len(parts) == 1 else Filter.all_of(parts))


def knowledge_set_filter(knowledge_set: str) -> FilterReturn:
    return Filter.by_property(KNOWLEDGE_SET).equal(knowledge_set)


def documents_filter(document_ids: Sequence[str]) -> FilterReturn:
    return Filter.by_property(DOCUMENT_ID).contains_any(list(document_ids))


def stale_filter(document_ids: Sequence[str], *, write_version: int) -> FilterReturn:
    """Objects of `document_ids` written before `write_version`: what a replace removes.

    Everything the replace just wrote carries `write_version`, including chunks that kept
    their id and were overwritten in place, so only leftovers of older versions match.
    """
    return documents_filter(document_ids) & Filter.by_property(WRITE_VERSION).less_than(
        write_version
    )


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True, slots=True)
class HybridPlan:
    """Arguments for `collection.query.hybrid(**arguments)` and how to read the answer.

    `score_scale` multiplies Weaviate's fused score: with no query terms the keyword
    leg is skipped and Weaviate weighs the vector leg by 1, where the local store still
    weighs it by alpha. `keyword` says whether BM25 scores must be looked up for hits.
    """

    arguments: dict[str, Any]
    score_scale: float
    keyword: bool
    terms: tuple[str, ...]


def hybrid_plan(query: SearchQuery, *, filters: FilterReturn | None) -> HybridPlan | None:
    """What to ask Weaviate for `query`, or None when nothing can match.

    The threshold goes to the server as `max_vector_distance` (cosine distance is
    1 - similarity), which cuts the vector list and the keyword hits the vector leg saw
    below it; the store drops any remaining hit below it from the returned vectors.
    """
    if query.fusion not in FUSIONS:
        raise ValueError(f"Unknown fusion {query.fusion!r}")
    if not 0.0 <= query.alpha <= 1.0:
        raise ValueError(f"alpha must be within [0, 1], got {query.alpha}")
    if query.top_k <= 0 or query.min_similarity > 1.0:
        return None
    if query.vector is None and query.alpha > 0.0:
        raise ValueError("A query vector is needed unless alpha is 0.0 (keyword only)")
    terms = tuple(analyze(query.text))
    keyword = bool(terms) and query.alpha < 1.0
    if not keyword and query.alpha == 0.0:
        return None  # pure keyword search without a single term
    alpha = query.alpha if keyword else 1.0
    vector = (
        None
        if query.vector is None or alpha == 0.0
        else np.asarray(query.vector, dtype=np.float32).reshape(-1).tolist()
    )
    arguments: dict[str, Any] = {
        "query": " ".join(terms) if keyword else None,
        "alpha": alpha,
        "vector": vector,
        "query_properties": [SEARCH_TEXT],
        "fusion_type": FUSIONS[query.fusion],
        "limit": candidate_depth(query.top_k),
        "filters": filters,
        "target_vector": VECTOR_NAME,
        "include_vector": [VECTOR_NAME],
        "return_metadata": MetadataQuery(score=True),
        "return_properties": list(HIT_PROPERTIES),
    }
    if vector is None:  # keyword only: a BM25 query, no vector leg, no floor
        arguments = {
            key: arguments[key]
            for key in ("query", "query_properties", "limit", "filters", "return_metadata")
        } | {"return_properties": list(HIT_PROPERTIES)}
        return HybridPlan(arguments=arguments, score_scale=1.0, keyword=True, terms=terms)
    if alpha > 0.0 and query.min_similarity > -1.0:
        arguments["max_vector_distance"] = 1.0 - query.min_similarity
    return HybridPlan(
        arguments=arguments,
        score_scale=1.0 if keyword else query.alpha,
        keyword=keyword,
        terms=terms,
    )


def bm25_arguments(terms: Sequence[str], uuids: Sequence[str]) -> dict[str, Any]:
    """Raw BM25 scores of the given hits (hybrid results carry only the fused score).

    Restricting by id does not change the scores: idf and average length come from the
    whole index, as in the hybrid query's own keyword leg.
    """
    return {
        "query": " ".join(terms),
        "query_properties": [SEARCH_TEXT],
        "filters": Filter.by_id().contains_any(list(uuids)),
        "limit": len(uuids),
        "return_metadata": MetadataQuery(score=True),
        "return_properties": [],
    }
