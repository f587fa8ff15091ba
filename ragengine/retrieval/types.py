"""Value types and protocols shared by embedders, vector stores and the ask pipeline.

Kept free of Django so stores and embedders can be tested (and benchmarked) without a
database, and so every backend is held to the same small contract.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

Fusion = Literal["relative", "rrf"]


def text_hash(text: str) -> str:
    """The digest of a chunk's text everywhere: embedding cache key, `Chunk.content_hash`,
    and the Weaviate property a migration compares without reading the text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class StoreRecord:
    """One chunk as a vector store keeps it.

    `vector` is a float32, L2-normalised embedding. `metadata` carries what a source
    citation needs without a database round trip (title, location, heading, page).
    """

    id: str
    knowledge_set: str
    document_id: str
    ordinal: int
    text: str
    vector: np.ndarray
    metadata: Mapping[str, Any] = field(default_factory=dict)


def lexical_text(record: StoreRecord) -> str:
    """What the keyword index holds for a record: its text, then its document's title and
    the heading path or page it sits under, so "expense policy" finds the chunks of the
    document titled so even when their sentences never say it. (Citations still show the
    title and location from `metadata`; the chunk text is never changed.)"""
    parts = [record.text]
    for key in ("title", "location"):
        value = record.metadata.get(key)
        if isinstance(value, str) and value.strip():
            parts.append(value)
    return "\n".join(parts)


def check_record(record: StoreRecord) -> StoreRecord:
    """Reject records that would corrupt a store, before anything is written (every
    backend applies this same check)."""
    vector = np.asarray(record.vector)
    if vector.ndim != 1 or vector.size == 0 or not np.all(np.isfinite(vector)):
        raise ValueError(f"Record {record.id!r}: vector must be a finite, non-empty 1-D array")
    json.dumps(dict(record.metadata))  # raises TypeError on non-JSON metadata
    return record


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A search result. `score` is the fused score used for ranking; `similarity` is
    the dense cosine similarity to the query (the value thresholds apply to) and
    `lexical_score` the raw BM25 score (0.0 when the chunk had no keyword match)."""

    id: str
    knowledge_set: str
    document_id: str
    ordinal: int
    text: str
    metadata: Mapping[str, Any]
    score: float
    similarity: float
    lexical_score: float


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Everything a hybrid search needs.

    alpha weighs dense against lexical like Weaviate's hybrid query: 1.0 is pure vector,
    0.0 pure keyword. `min_similarity` drops every hit whose cosine similarity to the
    query is below it, whichever list it came from, so "nothing relevant" is detectable.
    `knowledge_sets` / `document_ids` of None mean "no filter"; an empty tuple matches
    nothing.

    `vector` may be None only for a pure keyword search (alpha 0.0): nothing needs the
    question embedded, and no dense floor applies (there is no cosine to compare; the
    hits' `similarity` is 0.0). `per_document` caps the hits of one document, so one
    long document cannot fill the whole top; its further hits come back only when no
    other document has one left to give. The ranking's head does not depend on `top_k`:
    fusion normalises over a candidate pool of fixed depth.
    """

    text: str
    vector: np.ndarray | None
    top_k: int = 5
    knowledge_sets: tuple[str, ...] | None = None
    document_ids: tuple[str, ...] | None = None
    min_similarity: float = 0.0
    alpha: float = 0.5
    fusion: Fusion = "relative"
    per_document: int | None = None


class VectorStoreError(RuntimeError):
    """A store could not be reached or refused a write; the message is readable."""


@runtime_checkable
class Embedder(Protocol):
    """Turns text into L2-normalised float32 vectors."""

    @property
    def name(self) -> str:
        """Stable identifier of model + preprocessing; stored with every knowledge set."""
        ...

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Shape (len(texts), dimension)."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """Shape (dimension,)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Model tokens in `text` (without special tokens); the chunker sizes by this."""
        ...


@runtime_checkable
class VectorStore(Protocol):
    """A persisted hybrid (BM25 + dense) index of chunks.

    Writes are atomic per call: a reader sees either the state before or after, never a
    mix. Every process sharing the store sees committed writes without a restart.
    """

    def replace_documents(
        self, *, document_ids: Sequence[str], records: Sequence[StoreRecord]
    ) -> None:
        """Atomically drop every record of `document_ids` and add `records`."""
        ...

    def delete_documents(self, *, document_ids: Sequence[str]) -> None: ...

    def delete_knowledge_set(self, *, knowledge_set: str) -> None: ...

    def search(self, query: SearchQuery) -> list[SearchHit]: ...

    def count(
        self,
        *,
        knowledge_sets: Sequence[str] | None = None,
        document_ids: Sequence[str] | None = None,
    ) -> int: ...

    def document_ids(self, *, knowledge_set: str | None = None) -> set[str]:
        """Ids of documents that have at least one record (for reconciliation)."""
        ...
