"""The local store keeps each chunk's sentence vectors, and reads snapshots from before."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ragengine.retrieval.stores.local import LocalStore
from ragengine.retrieval.types import SentenceVectors, StoreRecord, check_record, sentence_key
from tests.ragengine.retrieval.stores.contract import query, record, unit


def sentences_of(*texts: str, dim: int = 8, seed: int = 0) -> SentenceVectors:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(len(texts), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return SentenceVectors(
        keys=np.array([sentence_key(t) for t in texts], dtype=np.uint64),
        vectors=vectors.astype(np.float16),
    )


def with_sentences(rec: StoreRecord, sentences: SentenceVectors | None) -> StoreRecord:
    return StoreRecord(
        id=rec.id,
        knowledge_set=rec.knowledge_set,
        document_id=rec.document_id,
        ordinal=rec.ordinal,
        text=rec.text,
        vector=rec.vector,
        metadata=rec.metadata,
        sentences=sentences,
    )


def make_old_format(store_path: Path) -> None:
    """Turn the current snapshot into what the store wrote before sentence vectors: the
    same files without the sent_* arrays, meta.json without "sentences"."""
    current = (store_path / "CURRENT").read_text().strip()
    directory = store_path / "snapshots" / current
    for name in ("sent_keys", "sent_vectors", "sent_off", "sent_present"):
        (directory / f"{name}.npy").unlink()
    meta = json.loads((directory / "meta.json").read_text())
    del meta["sentences"]
    (directory / "meta.json").write_text(json.dumps(meta))


def test_sentence_vectors_round_trip_through_bytes() -> None:
    original = sentences_of("One.", "Two lines.", dim=384)
    back = SentenceVectors.from_bytes(original.to_bytes(), dimension=384)
    assert back.keys.tolist() == original.keys.tolist()
    assert np.array_equal(back.vectors, original.vectors)
    with pytest.raises(ValueError, match="whole units"):
        SentenceVectors.from_bytes(original.to_bytes()[:-3], dimension=384)


def test_sentence_vectors_reject_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="do not match"):
        SentenceVectors(keys=np.zeros(2, np.uint64), vectors=np.zeros((3, 8), np.float16))
    with pytest.raises(ValueError, match="finite"):
        SentenceVectors(keys=np.zeros(1, np.uint64), vectors=np.full((1, 8), np.nan, np.float16))
    rec = with_sentences(record("a", "text", unit(e0=1.0)), sentences_of("x", dim=4))
    with pytest.raises(ValueError, match="dimension 4"):
        check_record(rec)


def test_hits_carry_their_chunks_sentence_vectors(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    stored = sentences_of("Alpha is first.", "Beta follows.")
    store.replace_documents(
        document_ids=["d1", "d2"],
        records=[
            with_sentences(record("d1", "alpha beta", unit(e0=1.0)), stored),
            record("d2", "gamma delta", unit(e1=1.0)),  # an embedder without them
        ],
    )
    hits = {h.document_id: h for h in store.search(query("alpha gamma", unit(e0=1.0, e1=1.0)))}
    assert hits["d1"].sentences is not None
    assert hits["d1"].sentences.keys.tolist() == stored.keys.tolist()
    assert np.array_equal(hits["d1"].sentences.vectors, stored.vectors)
    assert hits["d2"].sentences is None
    assert store.document_ids_without_sentences() == ["d2"]


def test_sentence_vectors_survive_later_commits(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    first, second = sentences_of("One.", seed=1), sentences_of("Two.", "Three.", seed=2)
    store.replace_documents(
        document_ids=["d1", "d2", "d3"],
        records=[
            with_sentences(record("d1", "one", unit(e0=1.0)), first),
            record("d2", "plain", unit(e2=1.0)),
            with_sentences(record("d3", "two three", unit(e1=1.0)), second),
        ],
    )
    store.delete_documents(document_ids=["d2"])  # rows are gathered around a hole
    reopened = LocalStore(tmp_path / "store")
    hits = {h.document_id: h for h in reopened.search(query("one two", unit(e0=1.0, e1=1.0)))}
    assert np.array_equal(hits["d1"].sentences.vectors, first.vectors)
    assert np.array_equal(hits["d3"].sentences.vectors, second.vectors)
    assert reopened.document_ids_without_sentences() == []


def test_a_snapshot_from_before_sentence_vectors_still_serves(tmp_path: Path) -> None:
    path = tmp_path / "store"
    LocalStore(path).replace_documents(
        document_ids=["old"], records=[record("old", "legacy chunk", unit(e0=1.0))]
    )
    make_old_format(path)
    store = LocalStore(path)
    (hit,) = store.search(query("legacy", unit(e0=1.0)))
    assert hit.text == "legacy chunk"
    assert hit.sentences is None
    assert store.document_ids_without_sentences() == ["old"]
    # The next commit writes the new format; the old row still has none, the new one has.
    fresh = sentences_of("New.", seed=3)
    store.replace_documents(
        document_ids=["new"],
        records=[with_sentences(record("new", "fresh chunk", unit(e1=1.0)), fresh)],
    )
    hits = {h.document_id: h for h in store.search(query("legacy fresh", unit(e0=1.0, e1=1.0)))}
    assert hits["old"].sentences is None
    assert np.array_equal(hits["new"].sentences.vectors, fresh.vectors)
    assert store.document_ids_without_sentences() == ["old"]
