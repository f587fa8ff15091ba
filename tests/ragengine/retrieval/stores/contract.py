"""The behaviour every `VectorStore` backend must share, as a reusable pytest class.

A backend's test module subclasses `VectorStoreContract` and provides two fixtures:
`store` (an empty store) and `reopen_store` (a callable returning a fresh instance over
the same persisted data, as a restarted process would see it).

Vectors are hand-made 8-dim unit vectors so every expected ranking can be worked out on
paper; all components are non-negative, so every cosine is >= 0 and the default
`min_similarity=0.0` never hides a record unless a test means it to.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

from ragengine.retrieval.types import SearchHit, SearchQuery, StoreRecord, VectorStore

DIM = 8
FUSIONS = ("relative", "rrf")


def unit(**weights: float) -> np.ndarray:
    """unit(e1=1.0, e4=0.5) -> L2-normalised float32 vector over axes e0..e7."""
    vector = np.zeros(DIM, dtype=np.float32)
    for axis, weight in weights.items():
        vector[int(axis[1:])] = weight
    return vector / np.linalg.norm(vector)


def record(
    record_id: str,
    text: str,
    vector: np.ndarray,
    *,
    knowledge_set: str = "hr",
    document_id: str | None = None,
    ordinal: int | None = None,
    metadata: dict[str, object] | None = None,
) -> StoreRecord:
    document, _, position = record_id.partition("#")
    return StoreRecord(
        id=record_id,
        knowledge_set=knowledge_set,
        document_id=document_id or document,
        ordinal=int(position or 0) if ordinal is None else ordinal,
        text=text,
        vector=vector,
        metadata=metadata or {"title": document.title()},
    )


CORPUS: tuple[StoreRecord, ...] = (
    record(
        "handbook#0",
        "Férias: cada colaborador tem direito a 30 dias de férias por ano.",
        unit(e0=1.0),
        metadata={"title": "Handbook", "page": 3},
    ),
    record(
        "handbook#1",
        "O pedido de férias deve ser aprovado pelo gestor com antecedência.",
        unit(e0=1.0, e4=1.0),
    ),
    record(
        "expenses#0",
        "Expense reports must be submitted within 30 days, with receipts attached.",
        unit(e1=1.0),
        knowledge_set="finance",
    ),
    record(
        "expenses#1",
        "Corporate cards cover travel, hotels and client dinners.",
        unit(e2=1.0),
        knowledge_set="finance",
    ),
    record(
        "security#0",
        "Passwords must be rotated every ninety days and never shared.",
        unit(e3=1.0),
        knowledge_set="it",
    ),
    record(
        "security#1",
        "Forward phishing emails to the security team immediately.",
        unit(e5=1.0),
        knowledge_set="it",
    ),
    record(
        "benefits#0",
        "The cafeteria serves lunch from noon until two o'clock.",
        unit(e6=1.0),
    ),
)


def ids(hits: list[SearchHit]) -> list[str]:
    return [h.id for h in hits]


def query(text: str, vector: np.ndarray, **options: object) -> SearchQuery:
    options.setdefault("top_k", 10)
    return SearchQuery(text=text, vector=vector, **options)  # type: ignore[arg-type]


class VectorStoreContract:
    """Subclass with `store` and `reopen_store` fixtures to run the contract."""

    @pytest.fixture
    def store(self) -> VectorStore:
        raise NotImplementedError("Backends provide an empty `store` fixture")

    @pytest.fixture
    def reopen_store(self) -> Callable[[], VectorStore]:
        raise NotImplementedError("Backends provide a `reopen_store` fixture")

    @pytest.fixture
    def seeded(self, store: VectorStore) -> VectorStore:
        documents = sorted({r.document_id for r in CORPUS})
        store.replace_documents(document_ids=documents, records=CORPUS)
        return store

    # ------------------------------------------------------------------ basics

    def test_implements_protocol(self, store: VectorStore) -> None:
        assert isinstance(store, VectorStore)

    def test_empty_store(self, store: VectorStore) -> None:
        assert store.search(query("férias", unit(e0=1.0))) == []
        assert store.count() == 0
        assert store.document_ids() == set()

    def test_count_and_document_ids(self, seeded: VectorStore) -> None:
        assert seeded.count() == len(CORPUS)
        assert seeded.count(knowledge_sets=["hr"]) == 3
        assert seeded.count(knowledge_sets=["hr", "it"]) == 5
        assert seeded.count(document_ids=["handbook"]) == 2
        assert seeded.count(knowledge_sets=["hr"], document_ids=["expenses"]) == 0
        assert seeded.count(knowledge_sets=[]) == 0
        assert seeded.count(document_ids=[]) == 0
        assert seeded.document_ids() == {"handbook", "expenses", "security", "benefits"}
        assert seeded.document_ids(knowledge_set="hr") == {"handbook", "benefits"}
        assert seeded.document_ids(knowledge_set="nope") == set()

    def test_hit_fields(self, seeded: VectorStore) -> None:
        vector = unit(e0=1.0, e1=1.0)
        hits = seeded.search(query("férias", vector))
        top = hits[0]
        assert top.id == "handbook#0"
        assert (top.knowledge_set, top.document_id, top.ordinal) == ("hr", "handbook", 0)
        assert top.text == CORPUS[0].text
        assert dict(top.metadata) == {"title": "Handbook", "page": 3}
        assert top.similarity == pytest.approx(float(vector @ CORPUS[0].vector), abs=1e-5)
        assert top.lexical_score > 0.0
        no_keyword = next(h for h in hits if h.id == "expenses#0")
        assert no_keyword.lexical_score == 0.0
        assert no_keyword.similarity == pytest.approx(float(vector @ CORPUS[2].vector), abs=1e-5)
        assert len(set(ids(hits))) == len(hits)

    # ------------------------------------------------------------------ ranking

    @pytest.mark.parametrize("fusion", FUSIONS)
    def test_keyword_and_semantic_matches_rank_above_unrelated(
        self, seeded: VectorStore, fusion: str
    ) -> None:
        # Keyword hit: expenses#0 ("expense", "receipts"); semantic hit: expenses#1's vector.
        hits = seeded.search(query("expense receipts", unit(e2=0.95, e7=0.3), fusion=fusion))
        assert set(ids(hits)[:2]) == {"expenses#0", "expenses#1"}
        assert min(h.score for h in hits[:2]) > max(h.score for h in hits[2:])

    @pytest.mark.parametrize("fusion", FUSIONS)
    def test_alpha_one_follows_vectors_and_zero_follows_keywords(
        self, seeded: VectorStore, fusion: str
    ) -> None:
        text, vector = "expense receipts", unit(e3=1.0)  # words of expenses#0, vector of security#0
        dense = seeded.search(query(text, vector, alpha=1.0, fusion=fusion))
        lexical = seeded.search(query(text, vector, alpha=0.0, fusion=fusion))
        assert dense[0].id == "security#0"
        sims = [h.similarity for h in dense]
        assert sims == sorted(sims, reverse=True)
        assert lexical[0].id == "expenses#0"
        scores = [h.lexical_score for h in lexical]
        assert scores == sorted(scores, reverse=True)

    def test_relative_fusion_weighs_normalised_scores(self, seeded: VectorStore) -> None:
        text, vector = "expense receipts", unit(e3=1.0)
        hits = {h.id: h for h in seeded.search(query(text, vector, alpha=0.25))}
        # Each list is min-max normalised: the best vector match gets alpha * 1, the only
        # keyword match (cosine 0, the vector list's minimum) gets (1 - alpha) * 1.
        assert hits["security#0"].score == pytest.approx(0.25, abs=1e-6)
        assert hits["expenses#0"].score == pytest.approx(0.75, abs=1e-6)
        assert ids(seeded.search(query(text, vector, alpha=0.25)))[0] == "expenses#0"
        assert ids(seeded.search(query(text, vector, alpha=0.75)))[0] == "security#0"
        # Best in both lists -> 1.0.
        both = seeded.search(query(text, unit(e1=1.0), alpha=0.5))
        assert both[0].id == "expenses#0"
        assert both[0].score == pytest.approx(1.0, abs=1e-6)

    def test_rrf_fusion_scores_by_rank(self, seeded: VectorStore) -> None:
        hits = seeded.search(query("expense receipts", unit(e1=1.0), alpha=0.5, fusion="rrf"))
        assert hits[0].id == "expenses#0"
        # First in both lists: 0.5/(60+1) * 2 (Weaviate counts ranks from 0: 1/60).
        assert 1 / 62 < hits[0].score <= 1 / 60 + 1e-9
        assert all(h.score < hits[0].score for h in hits[1:])

    @pytest.mark.parametrize("fusion", FUSIONS)
    def test_unknown_terms_fall_back_to_dense(self, seeded: VectorStore, fusion: str) -> None:
        for text in ("zzyzx qwrtp", ""):
            hits = seeded.search(query(text, unit(e5=1.0), fusion=fusion))
            assert hits, text
            assert hits[0].id == "security#1"
            assert all(h.lexical_score == 0.0 for h in hits)

    def test_top_k_respected(self, seeded: VectorStore) -> None:
        assert len(seeded.search(query("days", unit(e0=1.0), top_k=3))) == 3
        assert len(seeded.search(query("days", unit(e0=1.0), top_k=1))) == 1
        assert len(seeded.search(query("days", unit(e0=1.0), top_k=50))) == len(CORPUS)

    # ------------------------------------------------------------------ filters

    @pytest.mark.parametrize("fusion", FUSIONS)
    def test_filter_by_knowledge_set(self, seeded: VectorStore, fusion: str) -> None:
        hits = seeded.search(
            query("férias passwords", unit(e0=1.0), knowledge_sets=("it",), fusion=fusion)
        )
        assert set(ids(hits)) == {"security#0", "security#1"}
        hits = seeded.search(query("férias", unit(e0=1.0), knowledge_sets=("it", "finance")))
        assert {h.knowledge_set for h in hits} == {"it", "finance"}
        assert seeded.search(query("férias", unit(e0=1.0), knowledge_sets=())) == []
        assert seeded.search(query("férias", unit(e0=1.0), knowledge_sets=("nope",))) == []

    @pytest.mark.parametrize("fusion", FUSIONS)
    def test_filter_by_document(self, seeded: VectorStore, fusion: str) -> None:
        hits = seeded.search(
            query("férias", unit(e0=1.0), document_ids=("expenses",), fusion=fusion)
        )
        assert set(ids(hits)) == {"expenses#0", "expenses#1"}
        assert seeded.search(query("férias", unit(e0=1.0), document_ids=())) == []
        both = seeded.search(
            query("férias", unit(e0=1.0), knowledge_sets=("hr",), document_ids=("expenses",))
        )
        assert both == []

    # ------------------------------------------------------------------ threshold

    def test_min_similarity_drops_low_cosine_hits_from_both_lists(
        self, seeded: VectorStore
    ) -> None:
        # "férias" matches the handbook by keyword, but its cosine to the query is 0.
        hits = seeded.search(query("férias", unit(e1=1.0), min_similarity=0.5))
        assert ids(hits) == ["expenses#0"]
        near = seeded.search(query("férias", unit(e0=1.0, e1=0.2), min_similarity=0.5))
        assert set(ids(near)) == {"handbook#0", "handbook#1"}
        assert all(h.similarity >= 0.5 for h in near)

    def test_high_threshold_returns_nothing(self, seeded: VectorStore) -> None:
        vector = unit(e0=1.0, e1=1.0, e2=1.0, e3=1.0)  # cosine 0.5 with several records
        assert seeded.search(query("férias expense", vector, min_similarity=0.9)) == []
        assert seeded.search(query("férias expense", vector, min_similarity=0.4))

    # ------------------------------------------------------------------ writes

    def test_delete_documents(self, seeded: VectorStore) -> None:
        seeded.delete_documents(document_ids=["expenses"])
        assert seeded.count() == len(CORPUS) - 2
        assert "expenses" not in seeded.document_ids()
        hits = seeded.search(query("expense receipts", unit(e1=1.0)))
        assert hits and all(h.document_id != "expenses" for h in hits)
        seeded.delete_documents(document_ids=["never-existed"])
        assert seeded.count() == len(CORPUS) - 2

    def test_delete_knowledge_set(self, seeded: VectorStore) -> None:
        seeded.delete_knowledge_set(knowledge_set="hr")
        assert seeded.count() == 4
        assert seeded.count(knowledge_sets=["hr"]) == 0
        assert seeded.document_ids(knowledge_set="hr") == set()
        assert seeded.document_ids() == {"expenses", "security"}
        hits = seeded.search(query("férias", unit(e0=1.0)))
        assert all(h.knowledge_set != "hr" for h in hits)

    def test_replace_documents_updates_text_and_vector(self, seeded: VectorStore) -> None:
        new = record("handbook#0", "Vacation policy: twenty five days per year.", unit(e7=1.0))
        seeded.replace_documents(document_ids=["handbook"], records=[new])
        assert seeded.count() == len(CORPUS) - 1
        assert seeded.count(document_ids=["handbook"]) == 1
        # Old text and the old second chunk are gone ...
        old = seeded.search(query("férias gestor", unit(e4=1.0), alpha=0.0))
        assert all(h.document_id != "handbook" for h in old)
        # ... and the new text and vector are searchable.
        by_vector = seeded.search(query("", unit(e7=1.0), alpha=1.0))
        assert by_vector[0].id == "handbook#0"
        assert by_vector[0].similarity == pytest.approx(1.0, abs=1e-5)
        by_text = seeded.search(query("vacation", unit(e6=1.0), alpha=0.0))
        assert by_text[0].id == "handbook#0"
        assert by_text[0].text == new.text
        assert [h.id for h in by_text if h.lexical_score > 0] == ["handbook#0"]

    def test_same_id_replaces_instead_of_duplicating(self, seeded: VectorStore) -> None:
        moved = record("expenses#0", "Receipts go to the finance inbox.", unit(e1=1.0))
        seeded.replace_documents(document_ids=[], records=[moved])
        assert seeded.count() == len(CORPUS)
        hits = seeded.search(query("receipts", unit(e1=1.0), top_k=50))
        assert ids(hits).count("expenses#0") == 1
        assert next(h for h in hits if h.id == "expenses#0").text == moved.text
        # Same id under another document: still one record, now in the new document.
        seeded.replace_documents(
            document_ids=[],
            records=[record("expenses#0", "Receipts.", unit(e1=1.0), document_id="other")],
        )
        assert seeded.count() == len(CORPUS)
        assert seeded.count(document_ids=["other"]) == 1

    def test_replace_is_atomic_for_concurrent_readers(self, seeded: VectorStore) -> None:
        sizes = (12, 4)

        def chunks(n: int, version: int) -> list[StoreRecord]:
            return [
                record(f"big#{i}", f"version {version} chunk {i}", unit(e7=1.0, e1=i / n))
                for i in range(n)
            ]

        seeded.replace_documents(document_ids=["big"], records=chunks(sizes[0], 0))
        seen: list[int] = []
        done = threading.Event()
        errors: list[BaseException] = []

        def read() -> None:
            try:
                while not done.is_set():
                    seen.append(seeded.count(document_ids=["big"]))
            except BaseException as exc:  # noqa: BLE001 - surfaced below
                errors.append(exc)

        reader = threading.Thread(target=read)
        reader.start()
        try:
            for version in range(1, 7):
                size = sizes[version % 2]
                seeded.replace_documents(document_ids=["big"], records=chunks(size, version))
        finally:
            done.set()
            reader.join()
        assert not errors
        assert seen
        assert set(seen) <= set(sizes)
        assert seeded.count(document_ids=["big"]) == sizes[0]

    # ------------------------------------------------------------------ persistence, language

    def test_persists_across_restart(
        self, seeded: VectorStore, reopen_store: Callable[[], VectorStore]
    ) -> None:
        q = query("expense receipts", unit(e2=1.0))
        before = [(h.id, round(h.score, 6)) for h in seeded.search(q)]
        reopened = reopen_store()
        assert reopened.count() == len(CORPUS)
        assert reopened.document_ids() == seeded.document_ids()
        assert [(h.id, round(h.score, 6)) for h in reopened.search(q)] == before

    def test_portuguese_stemming_and_accents(self, seeded: VectorStore) -> None:
        seeded.replace_documents(
            document_ids=["notice"],
            records=[record("notice#0", "FERIAS COLETIVAS em dezembro", unit(e6=1.0))],
        )
        for text in ("férias", "ferias", "Férias coletivas"):
            hits = seeded.search(query(text, unit(e7=1.0), alpha=0.0))
            found = {h.id for h in hits if h.lexical_score > 0}
            assert {"handbook#0", "handbook#1", "notice#0"} <= found, text
            assert all(h.document_id in {"handbook", "notice"} for h in hits if h.lexical_score)

    # ------------------------------------------- titles, diversity, ranking head, keyword only

    def test_titles_and_headings_are_searchable(self, store: VectorStore) -> None:
        store.replace_documents(
            document_ids=["policy", "other"],
            records=[
                record(
                    "policy#0",
                    "Keep every receipt.",
                    unit(e1=1.0),
                    metadata={"title": "Reimbursement policy", "location": "Hotels › Limits"},
                ),
                record("other#0", "Lunch is served at noon.", unit(e2=1.0)),
            ],
        )

        by_title = store.search(query("reimbursement", unit(e3=1.0), alpha=0.0))
        by_heading = store.search(query("hotels", unit(e3=1.0), alpha=0.0))

        assert ids(by_title) == ["policy#0"]
        assert ids(by_heading) == ["policy#0"]
        assert by_title[0].text == "Keep every receipt."  # the shown text is unchanged

    def test_per_document_cap_lets_other_documents_in(self, store: VectorStore) -> None:
        long_doc = [
            record(f"long#{i}", f"Parking rule {i} for the garage.", unit(e0=1.0, e1=0.1 * i))
            for i in range(5)
        ]
        other = record("short#0", "Parking for visitors is at the front.", unit(e0=0.5, e2=1.0))
        store.replace_documents(document_ids=["long", "short"], records=[*long_doc, other])

        uncapped = store.search(query("parking", unit(e0=1.0), top_k=3))
        capped = store.search(query("parking", unit(e0=1.0), top_k=3, per_document=2))
        alone = store.search(query("garage", unit(e0=1.0), top_k=4, per_document=2, alpha=0.0))

        assert {h.document_id for h in uncapped} == {"long"}
        assert [h.document_id for h in capped].count("long") == 2
        assert "short#0" in ids(capped)
        # When only one document matches, hits over the cap still fill the top.
        assert len(alone) == 4 and {h.document_id for h in alone} == {"long"}

    def test_ranking_head_does_not_depend_on_top_k(self, store: VectorStore) -> None:
        records = [
            record(
                f"doc{i}#0",
                f"Vacation rule number {i} " + "vacation " * (i % 4),
                unit(e0=1.0, e1=(i % 7) * 0.3, e2=(i % 5) * 0.2),
            )
            for i in range(60)
        ]
        store.replace_documents(document_ids=[f"doc{i}" for i in range(60)], records=records)

        for fusion in ("relative", "rrf"):
            small = store.search(query("vacation rule", unit(e0=1.0), top_k=5, fusion=fusion))
            large = store.search(query("vacation rule", unit(e0=1.0), top_k=20, fusion=fusion))
            assert ids(small)[:3] == ids(large)[:3], fusion
            assert [h.score for h in small[:3]] == [h.score for h in large[:3]]

    def test_keyword_only_needs_no_vector_and_no_floor(self, seeded: VectorStore) -> None:
        hits = seeded.search(
            SearchQuery(text="phishing", vector=None, alpha=0.0, min_similarity=0.99)
        )

        assert ids(hits) == ["security#1"]
        assert hits[0].similarity == 0.0
        with pytest.raises(ValueError, match="vector"):
            seeded.search(SearchQuery(text="phishing", vector=None, alpha=0.5))
