"""The local store's snapshot, read side: one immutable directory per commit.

Layout of `snapshots/<gen>-<rand>/` (written by `local_commit.Columns.write`):

    meta.json                        format, generation, count, dim, set and document names
    vectors.npy                      float32 (count, dim)
    ks.npy, doc.npy, ordinal.npy     knowledge-set and document codes, chunk ordinals
    ids, text, metadata (.npy and _off.npy)   UTF-8 strings: one byte array plus offsets
    tokens.npy, tokens_off.npy       analysed term ids per row (only writers read them)
    sent_keys.npy, sent_vectors.npy, sent_off.npy, sent_present.npy
                                     each row's sentence vectors (uint64 keys, float16
                                     rows, offsets) and whether it has any; absent in
                                     snapshots written before they existed (meta
                                     "sentences" missing): every row then has none
    bm25/                            bm25s' save format (see local_search.build_bm25)

Arrays are mmap-loaded, so readers in several processes share the pages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import numpy as np

from ragengine.retrieval.types import SentenceVectors

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Blob:
    """Variable-length UTF-8 strings as one byte array plus offsets (mmap-friendly)."""

    data: np.ndarray  # uint8
    offsets: np.ndarray  # int64, len n + 1

    def get(self, row: int) -> str:
        return bytes(self.data[self.offsets[row] : self.offsets[row + 1]]).decode("utf-8")

    def all(self) -> list[str]:
        raw = bytes(self.data)
        bounds = self.offsets.tolist()
        return [raw[a:b].decode("utf-8") for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    @classmethod
    def encode(cls, values: Iterable[str]) -> Blob:
        raw = [v.encode("utf-8") for v in values]
        offsets = np.zeros(len(raw) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in raw], out=offsets[1:])
        return cls(np.frombuffer(b"".join(raw), dtype=np.uint8), offsets)


@dataclass(slots=True)
class Snapshot:
    """One immutable, loaded snapshot. Arrays are mmaps; shared by concurrent readers."""

    name: str | None
    generation: int
    count: int
    dim: int
    directory: Path | None = None
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    ks_codes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    doc_codes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    ordinals: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ks_names: list[str] = field(default_factory=list)
    doc_names: list[str] = field(default_factory=list)
    ks_lookup: dict[str, int] = field(default_factory=dict)
    doc_lookup: dict[str, int] = field(default_factory=dict)
    ids: Blob | None = None
    texts: Blob | None = None
    metadata: Blob | None = None
    bm25: bm25s.BM25 | None = None
    # keys, vectors, offsets, present; None for a snapshot of the format before them.
    sentence_columns: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    @classmethod
    def load(cls, directory: Path) -> Snapshot:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        if meta["format"] != FORMAT_VERSION:
            raise RuntimeError(f"Unsupported local store format {meta['format']} in {directory}")
        snap = cls(
            name=directory.name,
            generation=int(meta["generation"]),
            count=int(meta["count"]),
            dim=int(meta["dim"]),
            directory=directory,
        )
        if snap.count == 0:
            return snap

        def arr(name: str) -> np.ndarray:
            return np.load(directory / f"{name}.npy", mmap_mode="r", allow_pickle=False)

        snap.vectors = arr("vectors")
        snap.ks_codes = arr("ks")
        snap.doc_codes = arr("doc")
        snap.ordinals = arr("ordinal")
        snap.ks_names = list(meta["knowledge_sets"])
        snap.doc_names = list(meta["documents"])
        snap.ks_lookup = {n: i for i, n in enumerate(snap.ks_names)}
        snap.doc_lookup = {n: i for i, n in enumerate(snap.doc_names)}
        snap.ids = Blob(arr("ids"), arr("ids_off"))
        snap.texts = Blob(arr("text"), arr("text_off"))
        snap.metadata = Blob(arr("metadata"), arr("metadata_off"))
        if meta["has_bm25"]:
            snap.bm25 = bm25s.BM25.load(directory / "bm25", mmap=True)
        if meta.get("sentences"):
            snap.sentence_columns = (
                arr("sent_keys"),
                arr("sent_vectors"),
                arr("sent_off"),
                arr("sent_present"),
            )
        return snap

    def sentences(self, row: int) -> SentenceVectors | None:
        """A row's stored sentence vectors, or None when it has none."""
        if self.sentence_columns is None:
            return None
        keys, vectors, offsets, present = self.sentence_columns
        if not present[row]:
            return None
        start, end = int(offsets[row]), int(offsets[row + 1])
        return SentenceVectors(keys=keys[start:end], vectors=vectors[start:end])

    def rows_without_sentences(self) -> np.ndarray:
        """Boolean mask of the rows that have no stored sentence vectors."""
        if self.sentence_columns is None:
            return np.ones(self.count, dtype=bool)
        return ~np.asarray(self.sentence_columns[3], dtype=bool)

    def tokens(self) -> tuple[np.ndarray, np.ndarray]:
        """Analysed term ids (flat) and per-row offsets; only writers need them."""
        assert self.directory is not None
        return (
            np.load(self.directory / "tokens.npy", mmap_mode="r"),
            np.load(self.directory / "tokens_off.npy", mmap_mode="r"),
        )

    def vocab(self) -> dict[str, int]:
        return dict(self.bm25.vocab_dict) if self.bm25 is not None else {}

    def filter_mask(
        self, knowledge_sets: Sequence[str] | None, document_ids: Sequence[str] | None
    ) -> np.ndarray | None:
        """Boolean row mask for the filters, or None when nothing is filtered."""
        mask: np.ndarray | None = None
        for names, codes, lookup in (
            (knowledge_sets, self.ks_codes, self.ks_lookup),
            (document_ids, self.doc_codes, self.doc_lookup),
        ):
            if names is None:
                continue
            if isinstance(names, str):
                names = (names,)
            table = np.zeros(len(lookup) + 1, dtype=bool)
            table[[lookup[n] for n in names if n in lookup]] = True
            part = table[codes]
            mask = part if mask is None else mask & part
        return mask
