"""LocalStore: the shared contract plus what only an on-disk, multi-process store must do."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import bm25s
import numpy as np
import pytest

from ragengine.retrieval.stores import local, local_search
from ragengine.retrieval.stores.local import LocalStore
from ragengine.retrieval.types import SearchHit, StoreRecord, VectorStore
from tests.ragengine.retrieval.stores.contract import (
    CORPUS,
    VectorStoreContract,
    ids,
    query,
    record,
    unit,
)

REPO_ROOT = Path(__file__).resolve().parents[4]


class TestLocalStoreContract(VectorStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> VectorStore:
        return LocalStore(tmp_path / "store")

    @pytest.fixture
    def reopen_store(self, tmp_path: Path) -> Callable[[], VectorStore]:
        return lambda: LocalStore(tmp_path / "store")


# ---------------------------------------------------------------------------- helpers


def generation(path: Path) -> int:
    return int((path / "CURRENT").read_text().split("-")[0])


def snapshot_names(path: Path) -> set[str]:
    return {p.name for p in (path / "snapshots").iterdir()}


def big_document(n: int, version: int) -> list[StoreRecord]:
    return [
        record(f"big#{i}", f"version {version} chunk {i}", unit(e7=1.0), knowledge_set="ks")
        for i in range(n)
    ]


def versions_of(hits: list[SearchHit]) -> set[str]:
    return {h.text.split()[1] for h in hits if h.document_id == "big"}


def run_python(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def store(path: Path) -> LocalStore:
    s = LocalStore(path)
    s.replace_documents(document_ids=[], records=CORPUS)
    return s


ALL = {"top_k": 100, "alpha": 1.0, "min_similarity": -1.0}


# ---------------------------------------------------------------------------- multi-instance


def test_second_instance_sees_writes_without_restart(store: LocalStore, path: Path) -> None:
    other = LocalStore(path)
    assert other.count() == len(CORPUS)
    store.replace_documents(document_ids=["big"], records=big_document(3, 1))
    assert other.count() == len(CORPUS) + 3
    assert "big" in other.document_ids()
    other.delete_knowledge_set(knowledge_set="hr")
    assert store.count(knowledge_sets=["hr"]) == 0
    assert store.search(query("férias", unit(e0=1.0), knowledge_sets=("hr",))) == []


WRITER = r"""
import sys
from pathlib import Path
import numpy as np
from ragengine.retrieval.stores.local import LocalStore
from ragengine.retrieval.types import StoreRecord

store = LocalStore(Path(sys.argv[1]))
vector = np.zeros(8, np.float32)
vector[7] = 1.0
for version in range(1, int(sys.argv[2]) + 1):
    n = 30 if version % 2 == 0 else 10
    records = [
        StoreRecord(id=f"big#{i}", knowledge_set="ks", document_id="big", ordinal=i,
                    text=f"version {version} chunk {i}", vector=vector)
        for i in range(n)
    ]
    store.replace_documents(document_ids=["big"], records=records)
"""


def test_reader_sees_consistent_states_while_another_process_writes(
    store: LocalStore, path: Path
) -> None:
    store.replace_documents(document_ids=["big"], records=big_document(30, 0))
    others = len(CORPUS)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "20"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stderr=subprocess.PIPE,
        text=True,
    )
    seen_versions: set[str] = set()
    reads = 0
    try:
        while writer.poll() is None or reads == 0:
            hits = store.search(query("chunk", unit(e7=1.0), **ALL))
            big = [h for h in hits if h.document_id == "big"]
            versions = versions_of(hits)
            # One snapshot per call: one version, its full size, nothing else lost.
            assert len(versions) == 1, versions
            assert len(big) == (30 if int(next(iter(versions))) % 2 == 0 else 10)
            assert len(hits) == len(big) + others
            assert store.count() in {others + 10, others + 30}
            seen_versions |= versions
            reads += 1
    finally:
        _, stderr = writer.communicate(timeout=60)
    assert writer.returncode == 0, stderr
    assert versions_of(store.search(query("chunk", unit(e7=1.0), **ALL))) == {"20"}
    assert store.count(document_ids=["big"]) == 30
    # The reader really ran alongside the writer (it takes ~20 commits over ~0.2 s).
    assert len(seen_versions) >= 2, seen_versions


def test_concurrent_threads_share_one_instance(store: LocalStore) -> None:
    store.replace_documents(document_ids=["big"], records=big_document(30, 0))
    errors: list[BaseException] = []
    reads: list[int] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                hits = store.search(query("chunk", unit(e7=1.0), **ALL))
                versions = versions_of(hits)
                assert len(versions) == 1
                n = len([h for h in hits if h.document_id == "big"])
                assert n == (30 if int(versions.pop()) % 2 == 0 else 10)
                reads.append(n)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for t in readers:
        t.start()
    try:
        for version in range(1, 7):
            store.replace_documents(
                document_ids=["big"], records=big_document(30 if version % 2 == 0 else 10, version)
            )
    finally:
        done.set()
        for t in readers:
            t.join()
    assert not errors, errors[0]
    assert reads  # the readers really ran alongside the writes


# ---------------------------------------------------------------------------- crashes


def test_failed_pointer_switch_keeps_previous_snapshot(
    store: LocalStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before_generation, before_dirs = generation(path), snapshot_names(path)

    def boom(self: LocalStore, name: str) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(LocalStore, "_publish", boom)
    with pytest.raises(OSError, match="disk gone"):
        store.replace_documents(document_ids=["handbook"], records=big_document(5, 1))
    assert generation(path) == before_generation
    assert snapshot_names(path) == before_dirs  # the unpublished snapshot was removed
    assert store.count() == len(CORPUS)
    assert LocalStore(path).count(document_ids=["handbook"]) == 2

    monkeypatch.undo()
    store.replace_documents(document_ids=["handbook"], records=big_document(5, 1))
    assert generation(path) == before_generation + 1
    assert LocalStore(path).count() == len(CORPUS) - 2 + 5


CRASHER = r"""
import os, sys
from pathlib import Path
import numpy as np
from ragengine.retrieval.stores import local, local_commit
from ragengine.retrieval.types import StoreRecord

store = local.LocalStore(Path(sys.argv[1]))
if sys.argv[2] == "publish":
    local.LocalStore._publish = lambda self, name: os._exit(3)
else:
    real_save = local_commit._save
    def save(directory, name, array):
        real_save(directory, name, array)
        if name == "vectors":
            os._exit(3)  # half-written snapshot
    local_commit._save = save
vector = np.zeros(8, np.float32)
vector[7] = 1.0
store.replace_documents(document_ids=["handbook"], records=[
    StoreRecord(id="x#0", knowledge_set="hr", document_id="x", ordinal=0, text="x", vector=vector)
])
"""


@pytest.mark.parametrize("crash_point", ["write", "publish"])
def test_process_killed_mid_write_leaves_previous_snapshot(
    store: LocalStore, path: Path, crash_point: str
) -> None:
    before_generation, before_dirs = generation(path), snapshot_names(path)
    result = run_python(CRASHER, str(path), crash_point)
    assert result.returncode == 3, result.stderr
    strays = snapshot_names(path) - before_dirs
    assert len(strays) == 1  # the dead writer's snapshot is on disk, unpublished
    assert generation(path) == before_generation

    reopened = LocalStore(path)
    assert reopened.count() == store.count() == len(CORPUS)
    assert reopened.search(query("férias", unit(e0=1.0)))[0].document_id == "handbook"

    # The lock died with the process; the next writer succeeds and sweeps the stray.
    reopened.replace_documents(document_ids=["handbook"], records=big_document(2, 1))
    assert generation(path) == before_generation + 1
    assert not strays & snapshot_names(path)
    assert store.count() == len(CORPUS) - 2 + 2


# ---------------------------------------------------------------------------- batches


def test_batch_commits_once(store: LocalStore, path: Path) -> None:
    before = generation(path)
    with store.batch():
        store.replace_documents(document_ids=["big"], records=big_document(4, 1))
        store.replace_documents(
            document_ids=["extra"], records=[record("extra#0", "x", unit(e5=1.0))]
        )
        store.delete_documents(document_ids=["handbook"])
        store.replace_documents(document_ids=["big"], records=big_document(3, 2))
        # Reads inside the batch see the last committed state.
        assert store.count() == len(CORPUS)
        assert generation(path) == before
    assert generation(path) == before + 1
    assert store.count() == len(CORPUS) - 2 + 3 + 1
    assert versions_of(store.search(query("chunk", unit(e7=1.0), **ALL))) == {"2"}
    assert "handbook" not in store.document_ids()


def test_batch_rolls_back_on_exception(store: LocalStore, path: Path) -> None:
    before = generation(path)
    with pytest.raises(RuntimeError, match="parser failed"), store.batch():
        store.replace_documents(document_ids=["big"], records=big_document(4, 1))
        raise RuntimeError("parser failed")
    assert generation(path) == before
    assert store.count() == len(CORPUS)
    # The buffer is gone: a later plain write commits on its own.
    store.delete_documents(document_ids=["benefits"])
    assert generation(path) == before + 1
    assert store.count() == len(CORPUS) - 1


def test_nested_batch_joins_outer_and_discards_only_its_own_failure(
    store: LocalStore, path: Path
) -> None:
    before = generation(path)
    with store.batch():
        store.replace_documents(document_ids=["big"], records=big_document(4, 1))
        with store.batch():
            store.delete_documents(document_ids=["expenses"])
        with pytest.raises(ValueError), store.batch():
            store.delete_documents(document_ids=["handbook"])
            raise ValueError("skip this document")
        assert generation(path) == before
    assert generation(path) == before + 1
    assert store.document_ids() == {"handbook", "security", "benefits", "big"}


def test_batch_is_per_thread(store: LocalStore, path: Path) -> None:
    before = generation(path)
    with store.batch():
        store.replace_documents(document_ids=["big"], records=big_document(2, 1))
        other = threading.Thread(target=lambda: store.delete_documents(document_ids=["benefits"]))
        other.start()
        other.join()
        assert generation(path) == before + 1  # the other thread committed on its own
    assert generation(path) == before + 2
    assert store.document_ids() == {"handbook", "expenses", "security", "big"}


# ---------------------------------------------------------------------------- housekeeping


def test_noop_write_creates_no_snapshot(store: LocalStore, path: Path) -> None:
    before = generation(path)
    store.delete_documents(document_ids=["never-existed"])
    store.delete_knowledge_set(knowledge_set="nope")
    with store.batch():
        pass
    assert generation(path) == before


def test_old_snapshots_are_pruned(store: LocalStore, path: Path) -> None:
    for version in range(6):
        store.replace_documents(document_ids=["big"], records=big_document(2, version))
    names = snapshot_names(path)
    assert len(names) == 1 + local.KEEP_PREVIOUS
    assert (path / "CURRENT").read_text().strip() in names


def test_reader_holding_a_pruned_snapshot_keeps_working(store: LocalStore, path: Path) -> None:
    held = store._snapshot()  # what an in-flight search holds
    writer = LocalStore(path)
    for version in range(1 + local.KEEP_PREVIOUS + 1):
        writer.replace_documents(document_ids=["big"], records=big_document(2, version))
    assert held.name not in snapshot_names(path)
    assert float(np.asarray(held.vectors).sum()) > 0  # mmaps outlive the deleted files
    assert store.count() == len(CORPUS) + 2


def test_delete_everything_then_write_again(store: LocalStore, path: Path) -> None:
    for ks in ("hr", "finance", "it"):
        store.delete_knowledge_set(knowledge_set=ks)
    assert store.count() == 0
    assert store.search(query("férias", unit(e0=1.0))) == []
    assert LocalStore(path).document_ids() == set()
    # An emptied store accepts a new dimension.
    store.replace_documents(
        document_ids=[],
        records=[record("n#0", "novo", np.ones(4, np.float32) / 2)],
    )
    assert store.search(query("novo", np.ones(4, np.float32) / 2))[0].id == "n#0"


def test_rejects_mismatched_dimensions_and_bad_input(store: LocalStore, path: Path) -> None:
    before = generation(path)
    with pytest.raises(ValueError, match="dimensions"):
        store.replace_documents(
            document_ids=[], records=[record("w#0", "wrong", np.ones(4, np.float32) / 2)]
        )
    with pytest.raises(ValueError, match="finite"):
        store.replace_documents(
            document_ids=[], records=[record("w#0", "nan", np.full(8, np.nan, np.float32))]
        )
    with pytest.raises(TypeError):
        store.delete_documents(document_ids="handbook")
    with pytest.raises(ValueError, match="dims"):
        store.search(query("férias", np.ones(4, np.float32) / 2))
    with pytest.raises(ValueError, match="alpha"):
        store.search(query("férias", unit(e0=1.0), alpha=1.5))
    assert generation(path) == before
    assert store.count() == len(CORPUS)


def test_bm25_matrix_matches_bm25s_own_index() -> None:
    """We build bm25s' lucene matrix ourselves (vectorised); scores must be bm25s' own."""
    rng = np.random.default_rng(7)
    corpus = [[f"t{x}" for x in rng.integers(0, 40, rng.integers(1, 25))] for _ in range(300)]
    reference = bm25s.BM25(method="lucene", k1=local_search.BM25_K1, b=local_search.BM25_B)
    reference.index(corpus, show_progress=False, create_empty_token=False)
    vocab = reference.vocab_dict
    tokens = np.array([vocab[t] for doc in corpus for t in doc], dtype=np.int32)
    offsets = np.concatenate(([0], np.cumsum([len(doc) for doc in corpus])))
    ours = bm25s.BM25(method="lucene", k1=local_search.BM25_K1, b=local_search.BM25_B)
    ours.scores = local_search.build_bm25(tokens, offsets, len(vocab))
    ours.vocab_dict = vocab
    ours.nonoccurrence_array = None
    for terms in (["t1"], ["t2", "t3", "t3"], ["t39", "t0", "t17"]):
        term_ids = reference.get_tokens_ids(terms)
        np.testing.assert_allclose(
            ours.get_scores_from_ids(term_ids),
            reference.get_scores_from_ids(term_ids),
            rtol=1e-5,
            atol=1e-6,
        )


def test_strong_keyword_hits_are_exempt_from_the_dense_floor(store: LocalStore) -> None:
    store.replace_documents(
        document_ids=["vpn", "other"],
        records=[
            record("vpn#0", "WireGuard PersistentKeepalive is 25 seconds.", unit(e1=1.0)),
            record("vpn#1", "WireGuard is the VPN.", unit(e2=1.0)),
            record("other#0", "Lunch is at noon.", unit(e0=1.0)),
        ],
    )
    question = unit(e7=1.0)  # far from every chunk in cosine

    hits = store.search(query("wireguard persistentkeepalive", question, min_similarity=0.5))

    # All of the question's terms: kept below the floor. One of two: held to it.
    assert ids(hits) == ["vpn#0"]


def test_cap_per_document_keeps_order_and_fills_from_the_spill() -> None:
    order = np.array([10, 11, 12, 13, 14])
    documents = np.array(["a", "a", "a", "b", "a"], dtype=object)

    capped = local_search.cap_per_document(order, documents=documents, top_k=3, cap=2)
    filled = local_search.cap_per_document(order, documents=documents, top_k=5, cap=1)
    uncapped = local_search.cap_per_document(order, documents=documents, top_k=2, cap=None)

    assert capped.tolist() == [10, 11, 13]
    assert filled.tolist() == [10, 11, 12, 13, 14]  # the spill fills, in ranking order
    assert uncapped.tolist() == [10, 11]
