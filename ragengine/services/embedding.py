"""Embedding with a content-hash cache, so unchanged text is never embedded twice."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ragengine.models import EmbeddingCacheEntry
from ragengine.retrieval.types import Embedder, text_hash


def vector_to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def vector_from_bytes(data: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype="<f4")


def texts_embed_cached(*, embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Vectors for `texts`, embedding only those whose hash this embedder hasn't seen."""
    hashes = [text_hash(t) for t in texts]
    known: dict[str, np.ndarray] = {}
    unique = list(dict.fromkeys(hashes))
    for start in range(0, len(unique), 500):
        rows = EmbeddingCacheEntry.objects.filter(
            embedder=embedder.name, content_hash__in=unique[start : start + 500]
        ).values_list("content_hash", "vector")
        known.update((h, vector_from_bytes(v)) for h, v in rows)
    missing = [i for i, h in enumerate(hashes) if h not in known]
    if missing:
        # One embedding per distinct text, even when a document repeats a paragraph.
        first_index: dict[str, int] = {}
        for i in missing:
            first_index.setdefault(hashes[i], i)
        vectors = embedder.embed_documents([texts[i] for i in first_index.values()])
        fresh = dict(zip(first_index, vectors, strict=True))
        EmbeddingCacheEntry.objects.bulk_create(
            [
                EmbeddingCacheEntry(
                    embedder=embedder.name, content_hash=h, vector=vector_to_bytes(v)
                )
                for h, v in fresh.items()
            ],
            ignore_conflicts=True,
            batch_size=500,
        )
        known.update(fresh)
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.stack([known[h] for h in hashes]).astype(np.float32, copy=False)
