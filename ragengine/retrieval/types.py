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


def sentence_key(text: str) -> int:
    """A 64-bit digest of an evidence unit's text: how a stored sentence vector is found
    again at answer time (by text, so a unit the splitter no longer produces is simply
    not found, and the answerer embeds it as before)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


@dataclass(frozen=True, slots=True)
class SentenceVectors:
    """The vectors of a chunk's evidence units (sentences, list items, code lines, table
    rows), computed at ingest so answering embeds nothing but the question.

    `keys` are `sentence_key`s of the units' texts (uint64), `vectors` their
    L2-normalised embeddings as float16 (one row per key): 768 bytes a unit at 384
    dimensions instead of 1.5 KB.
    """

    keys: np.ndarray
    vectors: np.ndarray

    def __post_init__(self) -> None:
        keys, vectors = np.asarray(self.keys), np.asarray(self.vectors)
        if keys.ndim != 1 or vectors.ndim != 2 or len(keys) != len(vectors):
            raise ValueError(
                f"sentence vectors: {keys.shape} keys do not match {vectors.shape} vectors"
            )
        if not np.all(np.isfinite(vectors)):
            raise ValueError("sentence vectors must be finite")

    def __len__(self) -> int:
        return len(self.keys)

    def to_bytes(self) -> bytes:
        """keys (uint64 little-endian) then vectors (float16 little-endian)."""
        return (
            np.asarray(self.keys, dtype="<u8").tobytes()
            + np.asarray(self.vectors, dtype="<f2").tobytes()
        )

    @classmethod
    def from_bytes(cls, data: bytes | memoryview, *, dimension: int) -> SentenceVectors:
        raw = bytes(data)
        row = 8 + 2 * dimension
        if len(raw) % row:
            raise ValueError(f"{len(raw)} bytes are not whole units of dimension {dimension}")
        n = len(raw) // row
        keys = np.frombuffer(raw[: 8 * n], dtype="<u8")
        vectors = np.frombuffer(raw[8 * n :], dtype="<f2").reshape(n, dimension)
        return cls(keys=keys, vectors=vectors)

    def lookup(self) -> dict[int, np.ndarray]:
        return dict(zip(np.asarray(self.keys).tolist(), self.vectors, strict=True))


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
    sentences: SentenceVectors | None = None


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
    sentences = record.sentences
    if sentences is not None and len(sentences) and sentences.vectors.shape[1] != vector.size:
        raise ValueError(
            f"Record {record.id!r}: sentence vectors have dimension "
            f"{sentences.vectors.shape[1]}, the chunk vector {vector.size}"
        )
    return record


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A search result. `score` is the fused score used for ranking; `similarity` is
    the dense cosine similarity to the query (the value thresholds apply to) and
    `lexical_score` the raw BM25 score (0.0 when the chunk had no keyword match).
    `sentences` are the chunk's stored sentence vectors, None when the store has none
    for it (written before they existed, or a store that does not keep them)."""

    id: str
    knowledge_set: str
    document_id: str
    ordinal: int
    text: str
    metadata: Mapping[str, Any]
    score: float
    similarity: float
    lexical_score: float
    sentences: SentenceVectors | None = None


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
