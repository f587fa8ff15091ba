"""The local store's write side: fold a commit's operations over the current snapshot
into complete new columns, and write them as the next snapshot directory.

A commit never edits a snapshot: surviving rows are gathered from the old arrays (a few
memcpys, since kept rows come in long runs), new records are appended, unused codes and
terms are dropped, and the BM25 matrix is rebuilt. Every file is fsynced before
`LocalStore` publishes the directory (local.py); the layout is in local_snapshot.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import bm25s
import numpy as np

from ragengine.retrieval.stores.local_search import BM25_B, BM25_K1, build_bm25
from ragengine.retrieval.stores.local_snapshot import FORMAT_VERSION, Blob, Snapshot
from ragengine.retrieval.types import StoreRecord, lexical_text
from ragengine.text_analysis import analyze

OpKind = Literal["replace", "delete_documents", "delete_knowledge_set"]


@dataclass(frozen=True, slots=True)
class Op:
    kind: OpKind
    document_ids: tuple[str, ...] = ()
    knowledge_set: str = ""
    records: tuple[StoreRecord, ...] = ()


def apply_ops(base: Snapshot, ops: Sequence[Op]) -> Columns | None:
    """Fold `ops` over `base`: which base rows survive, which records are added.

    Linear in the number of ops and records (a bulk batch holds thousands of ops).
    Returns None when nothing changes, so no-op writes don't rewrite the store.
    """
    dropped_docs: set[int] = set()
    dropped_sets: set[int] = set()
    dropped_rows: list[int] = []
    added: dict[str, StoreRecord] = {}
    added_by_doc: dict[str, list[str]] = {}
    added_by_set: dict[str, list[str]] = {}
    id_rows: dict[str, int] | None = None

    def forget(index: dict[str, list[str]], key: str, attr: str) -> None:
        for record_id in index.pop(key, ()):
            record = added.get(record_id)
            if record is not None and getattr(record, attr) == key:
                del added[record_id]

    for op in ops:
        if op.kind == "delete_knowledge_set":
            if (code := base.ks_lookup.get(op.knowledge_set)) is not None:
                dropped_sets.add(code)
            forget(added_by_set, op.knowledge_set, "knowledge_set")
            continue
        for document_id in op.document_ids:
            if (code := base.doc_lookup.get(document_id)) is not None:
                dropped_docs.add(code)
            forget(added_by_doc, document_id, "document_id")
        if op.records and base.ids is not None and id_rows is None:
            id_rows = {id_: i for i, id_ in enumerate(base.ids.all())}
        for record in op.records:
            if id_rows and (row := id_rows.get(record.id)) is not None:
                dropped_rows.append(row)
            added.pop(record.id, None)
            added[record.id] = record
            added_by_doc.setdefault(record.document_id, []).append(record.id)
            added_by_set.setdefault(record.knowledge_set, []).append(record.id)

    removed = np.zeros(base.count, dtype=bool)
    if base.count:
        removed[dropped_rows] = True
        for codes, column in ((dropped_docs, base.doc_codes), (dropped_sets, base.ks_codes)):
            if codes:
                removed |= np.isin(column, np.fromiter(codes, dtype=np.int32))
    if not added and not removed.any():
        return None
    return _merge(base, np.flatnonzero(~removed), list(added.values()))


def _merge(base: Snapshot, keep: np.ndarray, new: list[StoreRecord]) -> Columns:
    dims = {np.asarray(r.vector).shape[0] for r in new}
    if len(keep):
        dims.add(base.dim)
    if len(dims) > 1:
        raise ValueError(f"Vector dimensions differ: {sorted(dims)} (store has {base.dim})")
    dim = dims.pop() if dims else 0

    vectors = np.empty((len(keep) + len(new), dim), dtype=np.float32)
    if len(keep):
        np.take(base.vectors, keep, axis=0, out=vectors[: len(keep)])
    for i, record in enumerate(new, start=len(keep)):
        vectors[i] = record.vector

    def codes(
        old_codes: np.ndarray, old_names: list[str], values: list[str]
    ) -> tuple[np.ndarray, list[str]]:
        names = list(old_names)
        lookup = {n: i for i, n in enumerate(names)}
        fresh = [lookup.setdefault(v, len(lookup)) for v in values]
        names.extend(list(lookup)[len(names) :])
        merged = np.concatenate(
            (old_codes[keep] if len(keep) else np.zeros(0, np.int32), np.array(fresh, np.int32))
        ).astype(np.int32)
        return _compact_codes(merged, names)

    ks_codes, ks_names = codes(base.ks_codes, base.ks_names, [r.knowledge_set for r in new])
    doc_codes, doc_names = codes(base.doc_codes, base.doc_names, [r.document_id for r in new])
    ordinals = np.concatenate(
        (np.asarray(base.ordinals)[keep], np.array([r.ordinal for r in new], np.int64))
    ).astype(np.int64)

    blobs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    fresh_blobs = {
        "ids": Blob.encode(r.id for r in new),
        "text": Blob.encode(r.text for r in new),
        "metadata": Blob.encode(json.dumps(dict(r.metadata), ensure_ascii=False) for r in new),
    }
    for name, old in (("ids", base.ids), ("text", base.texts), ("metadata", base.metadata)):
        kept = (
            _gather_ragged(old.data, old.offsets, keep)
            if old is not None
            else (np.zeros(0, np.uint8), np.zeros(1, np.int64))
        )
        fresh = fresh_blobs[name]
        blobs[name] = _concat_ragged(kept, (fresh.data, fresh.offsets))

    vocab = base.vocab()
    if base.count:
        kept_tokens = _gather_ragged(*base.tokens(), keep)
    else:
        kept_tokens = (np.zeros(0, np.int32), np.zeros(1, np.int64))
    analysed = [analyze(lexical_text(record)) for record in new]
    flat = [term for terms in analysed for term in terms]
    for term in dict.fromkeys(flat):
        vocab.setdefault(term, len(vocab))
    new_ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int32, count=len(flat))
    new_offsets = np.zeros(len(new) + 1, dtype=np.int64)
    np.cumsum([len(terms) for terms in analysed], out=new_offsets[1:])
    tokens, token_offsets = _concat_ragged(kept_tokens, (new_ids, new_offsets))
    terms_by_id = [""] * len(vocab)
    for term, i in vocab.items():
        terms_by_id[i] = term
    tokens, terms_by_id = _compact_codes(tokens.astype(np.int32), terms_by_id)

    return Columns(
        sentences=_merge_sentences(base, keep, new, dim),
        vectors=vectors,
        ks_codes=ks_codes,
        ks_names=ks_names,
        doc_codes=doc_codes,
        doc_names=doc_names,
        ordinals=ordinals,
        blobs=blobs,
        tokens=tokens,
        token_offsets=token_offsets,
        vocab=terms_by_id,
    )


def _merge_sentences(
    base: Snapshot, keep: np.ndarray, new: list[StoreRecord], dim: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Kept rows' sentence vectors (none for rows of a snapshot written before them) and
    the new records'."""
    if not len(keep) and not new:  # an empty store (dimension 0)
        return (
            np.zeros(0, np.uint64),
            np.zeros((0, dim), np.float16),
            np.zeros(1, np.int64),
            np.zeros(0, bool),
        )
    if base.sentence_columns is not None and len(keep):
        keys, vectors, offsets, present = base.sentence_columns
        kept_keys, kept_offsets = _gather_ragged(keys, offsets, keep)
        kept_vectors, _ = _gather_ragged(vectors, offsets, keep)
        kept_present = np.asarray(present, dtype=bool)[keep]
    else:
        kept_keys = np.zeros(0, np.uint64)
        kept_vectors = np.zeros((0, dim), np.float16)
        kept_offsets = np.zeros(len(keep) + 1, np.int64)
        kept_present = np.zeros(len(keep), dtype=bool)
    parts = [r.sentences if r.sentences is not None else None for r in new]
    new_keys = [np.asarray(p.keys, np.uint64) for p in parts if p is not None]
    new_vectors = [np.asarray(p.vectors, np.float16) for p in parts if p is not None]
    new_offsets = np.zeros(len(new) + 1, dtype=np.int64)
    np.cumsum([len(p) if p is not None else 0 for p in parts], out=new_offsets[1:])
    fresh_keys = np.concatenate(new_keys) if new_keys else np.zeros(0, np.uint64)
    fresh_vectors = (
        np.concatenate(new_vectors).reshape(-1, dim) if new_vectors else np.zeros((0, dim))
    ).astype(np.float16)
    keys, offsets = _concat_ragged(
        (kept_keys.astype(np.uint64), kept_offsets), (fresh_keys, new_offsets)
    )
    vectors = np.concatenate((np.asarray(kept_vectors, np.float16).reshape(-1, dim), fresh_vectors))
    present = np.concatenate((kept_present, np.array([p is not None for p in parts], bool)))
    return keys, vectors, offsets, present


@dataclass(slots=True)
class Columns:
    """A complete new state, ready to be written as a snapshot."""

    sentences: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    vectors: np.ndarray
    ks_codes: np.ndarray
    ks_names: list[str]
    doc_codes: np.ndarray
    doc_names: list[str]
    ordinals: np.ndarray
    blobs: dict[str, tuple[np.ndarray, np.ndarray]]
    tokens: np.ndarray
    token_offsets: np.ndarray
    vocab: list[str]

    @property
    def count(self) -> int:
        return len(self.ordinals)

    def write(self, directory: Path, *, generation: int) -> None:
        directory.mkdir()
        has_bm25 = self.count > 0 and len(self.tokens) > 0
        if self.count:
            _save(directory, "vectors", self.vectors)
            _save(directory, "ks", self.ks_codes)
            _save(directory, "doc", self.doc_codes)
            _save(directory, "ordinal", self.ordinals)
            for name, (data, offsets) in self.blobs.items():
                _save(directory, name, data)
                _save(directory, f"{name}_off", offsets)
            _save(directory, "tokens", self.tokens)
            _save(directory, "tokens_off", self.token_offsets)
            for name, array in zip(
                ("sent_keys", "sent_vectors", "sent_off", "sent_present"),
                self.sentences,
                strict=True,
            ):
                _save(directory, name, array)
        if has_bm25:
            retriever = bm25s.BM25(k1=BM25_K1, b=BM25_B, method="lucene")
            retriever.scores = build_bm25(self.tokens, self.token_offsets, len(self.vocab))
            retriever.vocab_dict = {term: i for i, term in enumerate(self.vocab)}
            retriever.nonoccurrence_array = None
            retriever.save(directory / "bm25", show_progress=False)
            for written in (directory / "bm25").iterdir():
                fsync_path(written)
            fsync_path(directory / "bm25")
        meta = {
            "format": FORMAT_VERSION,
            "generation": generation,
            "count": self.count,
            "dim": int(self.vectors.shape[1]) if self.count else 0,
            "knowledge_sets": self.ks_names,
            "documents": self.doc_names,
            "has_bm25": has_bm25,
            "sentences": True,
        }
        with open(directory / "meta.json", "w", encoding="utf-8") as f:
            json.dump(meta, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        fsync_path(directory)
        fsync_path(directory.parent)


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _save(directory: Path, name: str, array: np.ndarray) -> None:
    with open(directory / f"{name}.npy", "wb") as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())


def _gather_ragged(
    data: np.ndarray, offsets: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Select `rows` (sorted) of a ragged array, copying contiguous runs in one slice each.

    Kept rows come in few long runs (a commit drops a handful of documents), so this is a
    few memcpys instead of a Python loop over every row.
    """
    lengths = np.diff(offsets)[rows]
    new_offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    if len(rows) == 0:
        return data[:0].copy(), new_offsets
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = rows[np.concatenate(([0], breaks))]
    ends = rows[np.concatenate((breaks - 1, [len(rows) - 1]))] + 1
    pieces = [data[offsets[s] : offsets[e]] for s, e in zip(starts, ends, strict=True)]
    return np.concatenate(pieces), new_offsets


def _concat_ragged(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    data = np.concatenate((a[0], b[0]))
    offsets = np.concatenate((a[1], b[1][1:] + a[1][-1]))
    return data, offsets


def _compact_codes(codes: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Drop names no row uses any more and renumber codes densely."""
    used = np.bincount(codes, minlength=len(names)) > 0
    if used.all():
        return codes, names
    remap = (np.cumsum(used) - 1).astype(np.int32)
    return remap[codes], [names[i] for i in np.flatnonzero(used)]
