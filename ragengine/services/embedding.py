"""Embedding with a content-hash cache, so unchanged text is never embedded twice.

The key is the hash of the text embedded: for a chunk, what `chunk_records.embedding_text`
makes of it (its title and headings, then its text), so a vector is found again only
for the very text it was computed from."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ragengine.models import EmbeddingCacheEntry
from ragengine.retrieval.types import Embedder, SentenceVectors, text_hash


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


def cached_sentences(
    *, embedder: Embedder, texts: Sequence[str], plain_texts: Sequence[str] | None = None
) -> list[SentenceVectors | None]:
    """The sentence vectors the cache holds for each chunk, None where it has none: a
    changed document keeps those of its unchanged chunks without waiting for the
    background task (services/sentence_vectors.py). `texts` are what the chunks' vectors
    were embedded from (the cache's key); where that finds none, `plain_texts`, the
    chunks' own texts, are tried: entries kept before titles were embedded with them
    (the sentences depend on the chunk's text only)."""
    found = _sentences_by_hash(embedder=embedder, hashes=[text_hash(t) for t in texts])
    if plain_texts is not None:
        missing = [i for i, f in enumerate(found) if f is None and plain_texts[i] != texts[i]]
        older = _sentences_by_hash(
            embedder=embedder, hashes=[text_hash(plain_texts[i]) for i in missing]
        )
        for i, sentences in zip(missing, older, strict=True):
            found[i] = sentences
    return found


def _sentences_by_hash(*, embedder: Embedder, hashes: list[str]) -> list[SentenceVectors | None]:
    found: dict[str, SentenceVectors] = {}
    unique = list(dict.fromkeys(hashes))
    for start in range(0, len(unique), 500):
        rows = EmbeddingCacheEntry.objects.filter(
            embedder=embedder.name,
            content_hash__in=unique[start : start + 500],
            sentences__isnull=False,
        ).values_list("content_hash", "sentences")
        found.update(
            (h, SentenceVectors.from_bytes(data, dimension=embedder.dimension)) for h, data in rows
        )
    return [found.get(h) for h in hashes]


def sentences_to_cache(
    *, embedder: Embedder, chunks: Sequence[tuple[str, bytes, SentenceVectors]]
) -> None:
    """Keep each chunk's sentence vectors in its cache entry (the text its vector was
    embedded from, vector bytes, sentence vectors), creating the entry where the cache has
    none (a chunk copied by `migrate_store`, or an entry pruned): an entry's vector is
    always the embedding of the text its key hashes."""
    by_hash = {text_hash(text): (vector, sentences) for text, vector, sentences in chunks}
    existing: set[str] = set()
    unique = list(by_hash)
    for start in range(0, len(unique), 500):
        existing.update(
            EmbeddingCacheEntry.objects.filter(
                embedder=embedder.name, content_hash__in=unique[start : start + 500]
            ).values_list("content_hash", flat=True)
        )
    for content_hash in existing:
        EmbeddingCacheEntry.objects.filter(
            embedder=embedder.name, content_hash=content_hash
        ).update(sentences=by_hash[content_hash][1].to_bytes())
    EmbeddingCacheEntry.objects.bulk_create(
        [
            EmbeddingCacheEntry(
                embedder=embedder.name,
                content_hash=h,
                vector=bytes(vector),
                sentences=sentences.to_bytes(),
            )
            for h, (vector, sentences) in by_hash.items()
            if h not in existing
        ],
        ignore_conflicts=True,
        batch_size=500,
    )
