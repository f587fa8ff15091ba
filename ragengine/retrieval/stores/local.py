"""The default embedded vector store: hybrid BM25 + dense search over numpy snapshots.

Why snapshots: every commit writes a complete, immutable snapshot directory and then
switches one small pointer file (`CURRENT`) with an atomic rename. Readers in any process
compare `CURRENT` on each call and mmap the new snapshot when it changed, so they never
see a half-written state and pick up writes without a restart; a crash mid-write leaves
the previous snapshot current. Writers serialise on an inter-process file lock. The cost
is a full rewrite per commit, which bulk ingestion amortises with `batch()`.

Layout under `path`:

    CURRENT                      name of the live snapshot
    .lock                        writer lock (filelock)
    snapshots/<gen>-<rand>/      one complete snapshot (layout in local_snapshot.py)

This module keeps the store's protocol: which snapshot is current, reloading it,
buffering and serialising writes, publishing and pruning. `local_snapshot` reads a
snapshot, `local_commit` builds and writes the next one, `local_search` ranks.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from filelock import FileLock

from ragengine.retrieval.stores.local_commit import Op, apply_ops, fsync_path
from ragengine.retrieval.stores.local_search import check_query, hybrid_search
from ragengine.retrieval.stores.local_snapshot import Snapshot
from ragengine.retrieval.types import SearchHit, SearchQuery, StoreRecord, check_record

logger = logging.getLogger(__name__)

# Snapshots kept besides the current one, for readers still holding the older ones.
KEEP_PREVIOUS = 2
_LOAD_ATTEMPTS = 5


def _as_names(values: Sequence[str], what: str) -> tuple[str, ...]:
    if isinstance(values, str):
        raise TypeError(f"{what} must be a sequence of strings, not a single string")
    return tuple(values)


def _generation_of(name: str) -> int | None:
    head, _, _ = name.partition("-")
    return int(head) if head.isdigit() else None


class LocalStore:
    """Persisted hybrid vector store in a directory; safe across threads and processes.

    Reads inside `batch()` see the last committed state, not the buffered writes.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._snapshots_dir = self.path / "snapshots"
        self._snapshots_dir.mkdir(parents=True, exist_ok=True)
        self._current_file = self.path / "CURRENT"
        self._file_lock = FileLock(self.path / ".lock")
        self._write_mutex = threading.Lock()
        self._reload_lock = threading.Lock()
        self._snap = Snapshot(name=None, generation=0, count=0, dim=0)
        self._local = threading.local()

    # ----------------------------------------------------------------- reading

    def _read_pointer(self) -> str | None:
        try:
            return self._current_file.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def _snapshot(self) -> Snapshot:
        """The current snapshot, reloaded when `CURRENT` moved (a ~10 µs check)."""
        pointer = self._read_pointer()
        snap = self._snap
        if snap.name == pointer:
            return snap
        with self._reload_lock:
            for _ in range(_LOAD_ATTEMPTS):
                if self._snap.name == pointer:
                    return self._snap
                if pointer is None:
                    self._snap = Snapshot(name=None, generation=0, count=0, dim=0)
                    return self._snap
                try:
                    self._snap = Snapshot.load(self._snapshots_dir / pointer)
                    logger.debug("Loaded snapshot %s (%d records)", pointer, self._snap.count)
                    return self._snap
                except FileNotFoundError:
                    # Pruned while we were slow to read it; a newer one is current.
                    pointer = self._read_pointer()
            raise RuntimeError(f"Could not load a stable snapshot from {self.path}")

    def count(
        self,
        *,
        knowledge_sets: Sequence[str] | None = None,
        document_ids: Sequence[str] | None = None,
    ) -> int:
        snap = self._snapshot()
        if snap.count == 0:
            return 0
        mask = snap.filter_mask(knowledge_sets, document_ids)
        return snap.count if mask is None else int(np.count_nonzero(mask))

    def document_ids(self, *, knowledge_set: str | None = None) -> set[str]:
        snap = self._snapshot()
        if snap.count == 0:
            return set()
        if knowledge_set is None:
            return set(snap.doc_names)  # compacted on every commit: all are in use
        mask = snap.filter_mask((knowledge_set,), None)
        assert mask is not None
        return {snap.doc_names[c] for c in np.unique(snap.doc_codes[mask])}

    def document_ids_without_sentences(self) -> list[str]:
        """Documents with a chunk that has no stored sentence vectors (written before
        they existed, or by an embedder that cannot give them), in store order: what the
        sentence-vector backfill still has to do."""
        snap = self._snapshot()
        if snap.count == 0:
            return []
        missing = snap.rows_without_sentences()
        codes = dict.fromkeys(np.asarray(snap.doc_codes)[missing].tolist())
        return [snap.doc_names[c] for c in codes]

    def search(self, query: SearchQuery) -> list[SearchHit]:
        check_query(query)
        return hybrid_search(self._snapshot(), query)

    # ----------------------------------------------------------------- writing

    def replace_documents(
        self, *, document_ids: Sequence[str], records: Sequence[StoreRecord]
    ) -> None:
        """Drop every record of `document_ids` and add `records`, in one commit."""
        op = Op(
            "replace",
            document_ids=_as_names(document_ids, "document_ids"),
            records=tuple(check_record(r) for r in records),
        )
        self._submit(op)

    def delete_documents(self, *, document_ids: Sequence[str]) -> None:
        self._submit(Op("delete_documents", document_ids=_as_names(document_ids, "document_ids")))

    def delete_knowledge_set(self, *, knowledge_set: str) -> None:
        self._submit(Op("delete_knowledge_set", knowledge_set=knowledge_set))

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Buffer this thread's writes and commit them as one snapshot on exit.

        Nothing is committed if the block raises. A nested `batch()` joins the outer
        one; if the nested block raises, only its own writes are discarded.
        """
        ops: list[Op] | None = getattr(self._local, "ops", None)
        if ops is not None:
            mark = len(ops)
            try:
                yield
            except BaseException:
                del ops[mark:]
                raise
            return
        self._local.ops = buffered = []
        try:
            yield
        finally:
            self._local.ops = None
        if buffered:
            self._commit(buffered)

    def _submit(self, op: Op) -> None:
        ops: list[Op] | None = getattr(self._local, "ops", None)
        if ops is not None:
            ops.append(op)
        else:
            self._commit([op])

    def _commit(self, ops: Sequence[Op]) -> None:
        with self._write_mutex, self._file_lock:
            base = self._snapshot()
            self._remove_strays(base.generation)
            columns = apply_ops(base, ops)
            if columns is None:
                logger.debug("Commit changed nothing; no new snapshot")
                return
            name = f"{base.generation + 1:012d}-{secrets.token_hex(4)}"
            directory = self._snapshots_dir / name
            try:
                columns.write(directory, generation=base.generation + 1)
                self._publish(name)
            except BaseException:
                if self._read_pointer() != name:  # never delete what became current
                    shutil.rmtree(directory, ignore_errors=True)
                raise
            logger.info("Committed snapshot %s (%d records)", name, columns.count)
            self._prune(base.generation + 1)

    def _publish(self, name: str) -> None:
        """Atomically point `CURRENT` at a fully written, fsynced snapshot."""
        tmp = self.path / f"CURRENT.tmp-{secrets.token_hex(4)}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(name + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.replace(tmp, self._current_file)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_path(self.path)

    def _remove_strays(self, current_generation: int) -> None:
        """Delete what a crashed writer left: unpublished snapshots and pointer temps."""
        for tmp in self.path.glob("CURRENT.tmp-*"):
            tmp.unlink(missing_ok=True)
        for entry in self._snapshots_dir.iterdir():
            generation = _generation_of(entry.name)
            if generation is not None and generation > current_generation:
                logger.warning("Removing unpublished snapshot %s", entry.name)
                shutil.rmtree(entry, ignore_errors=True)

    def _prune(self, current_generation: int) -> None:
        older = sorted(
            (g, e)
            for e in self._snapshots_dir.iterdir()
            if (g := _generation_of(e.name)) is not None and g < current_generation
        )
        for _, entry in older[: max(0, len(older) - KEEP_PREVIOUS)]:
            shutil.rmtree(entry, ignore_errors=True)
