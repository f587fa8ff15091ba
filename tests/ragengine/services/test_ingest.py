from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from ragengine.models import Chunk, Document, DocumentStatus, KnowledgeSet
from ragengine.retrieval.registry import get_vector_store
from ragengine.services.ingest import documents_ingest_paths
from ragengine.services.knowledge import KnowledgeSetError, knowledge_set_get_or_create

pytestmark = pytest.mark.django_db


def ingest(paths, name="handbook", **kwargs):
    knowledge_set = knowledge_set_get_or_create(name=name)
    return documents_ingest_paths(paths=list(paths), knowledge_set=knowledge_set, **kwargs)


def store_texts(document: Document) -> list[str]:
    store = get_vector_store()
    from ragengine.retrieval.types import SearchQuery

    hits = store.search(
        SearchQuery(
            text=document.title,
            vector=_zero_vector(),
            top_k=1000,
            document_ids=(str(document.pk),),
            min_similarity=-1.0,
        )
    )
    return [h.text for h in hits]


def _zero_vector():
    import numpy as np

    vector = np.zeros(384, dtype=np.float32)
    vector[0] = 1.0
    return vector


def assert_store_matches_database() -> None:
    """Every ready document's chunks are in the store exactly once, and nothing else is."""
    store = get_vector_store()
    ready = Document.objects.filter(status=DocumentStatus.READY)
    assert store.document_ids() == {str(d.pk) for d in ready}
    for document in ready:
        assert store.count(document_ids=[str(document.pk)]) == document.chunks.count()
    assert store.count() == Chunk.objects.filter(document__status=DocumentStatus.READY).count()


def test_ingests_every_format_of_the_example_handbook(embedder, handbook_dir):
    report = ingest([handbook_dir])

    assert report.count("failed") == 0, report.failures
    titles = {o.title for o in report.outcomes}
    assert len(report.outcomes) >= 6
    kinds = {Path(o.source.split("#")[0]).suffix for o in report.outcomes}
    assert kinds == {".md", ".html", ".pdf", ".docx", ".jsonl"}
    assert all(o.chunks > 0 for o in report.outcomes)
    pdf = Document.objects.get(source__endswith="onboarding-guide.pdf")
    assert set(pdf.chunks.values_list("page", flat=True)) == {1, 2, 3}
    handbook = Document.objects.get(source__endswith="employee-handbook.md")
    assert any("Vacation" in c.heading_path for c in handbook.chunks.all())
    assert "" not in titles
    assert_store_matches_database()
    assert KnowledgeSet.objects.get(name="handbook").embedder == embedder.name


def test_reingesting_unchanged_files_does_no_embedding_work(embedder, handbook_dir):
    ingest([handbook_dir])
    version = KnowledgeSet.objects.get(name="handbook").index_version
    embedder.calls = 0

    report = ingest([handbook_dir])

    assert report.count("unchanged") == len(report.outcomes) > 0
    assert embedder.calls == 0
    assert KnowledgeSet.objects.get(name="handbook").index_version == version
    assert_store_matches_database()


def test_changed_file_replaces_its_chunks(embedder, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    page = folder / "policy.md"
    page.write_text("# Policy\n\nThe office opens at nine in the morning.\n")
    ingest([folder])
    document = Document.objects.get()
    version = document.knowledge_set.index_version

    page.write_text("# Policy\n\nThe office opens at ten in the morning.\n\n## Parking\n\nFree.\n")
    report = ingest([folder])

    assert [o.status for o in report.outcomes] == ["ingested"]
    texts = store_texts(document)
    assert any("ten in the morning" in t for t in texts)
    assert not any("nine in the morning" in t for t in texts)
    assert [c.text for c in document.chunks.all()] == texts or sorted(texts) == sorted(
        c.text for c in document.chunks.all()
    )
    assert KnowledgeSet.objects.get().index_version > version
    assert_store_matches_database()


def test_prune_removes_documents_whose_files_are_gone(embedder, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "keep.md").write_text("# Keep\n\nThis stays in the knowledge base.\n")
    (folder / "drop.md").write_text("# Drop\n\nThis file will be deleted soon.\n")
    ingest([folder])
    (folder / "drop.md").unlink()

    report = ingest([folder], prune=True)

    assert report.count("removed") == 1
    assert list(Document.objects.values_list("title", flat=True)) == ["Keep"]
    assert_store_matches_database()


def test_bad_files_fail_alone_with_readable_errors(embedder, tmp_path, settings):
    settings.ARANDU_MAX_FILE_MB = 0.01  # 10 KB
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\nThe cafeteria serves lunch from noon.\n")
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nthis is not")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "huge.md").write_text("# Big\n\n" + "lorem ipsum " * 2000)
    noise = random.Random(1)
    (folder / "undecodable.txt").write_bytes(bytes(noise.randrange(128, 256) for _ in range(300)))

    report = ingest([folder])

    by_name = {Path(o.source).name: o for o in report.outcomes}
    assert by_name["good.md"].status == "ingested"
    for name in ("corrupt.pdf", "empty.txt", "binary.txt", "huge.md", "undecodable.txt"):
        assert by_name[name].status == "failed", name
        assert by_name[name].error.endswith("."), by_name[name].error
    assert "PDF" in by_name["corrupt.pdf"].error
    assert "empty" in by_name["empty.txt"].error.lower()
    assert "binary" in by_name["binary.txt"].error.lower()
    assert "limit" in by_name["huge.md"].error
    failed = Document.objects.filter(status=DocumentStatus.FAILED)
    assert failed.count() == 5
    assert all(d.error for d in failed)
    assert_store_matches_database()


def test_a_broken_new_version_keeps_serving_the_old_one(embedder, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    pdf_like = folder / "notes.md"
    pdf_like.write_text("# Notes\n\nThe VPN address is vpn.acme.example.\n")
    ingest([folder])
    pdf_like.write_bytes(b"")

    report = ingest([folder])

    document = Document.objects.get()
    assert report.outcomes[0].status == "failed"
    assert document.status == DocumentStatus.FAILED
    assert "still being used" in document.error
    assert any("vpn.acme.example" in t for t in store_texts(document))


def test_interrupted_runs_leave_no_duplicates_or_orphans(embedder, handbook_dir, monkeypatch):
    """Kill the run (KeyboardInterrupt) at each stage, then run again."""
    from ragengine.services import ingest as ingest_module

    store = get_vector_store()
    real_replace = store.replace_documents
    real_embed = ingest_module.texts_embed_cached

    # 1. interrupted while embedding the third document
    calls = {"n": 0}

    def embed_then_die(**kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_embed(**kwargs)

    monkeypatch.setattr(ingest_module, "texts_embed_cached", embed_then_die)
    with pytest.raises(KeyboardInterrupt):
        ingest([handbook_dir])
    monkeypatch.setattr(ingest_module, "texts_embed_cached", real_embed)
    assert_store_matches_database()

    # 2. interrupted after the database commit, before the store commit
    (handbook_dir / "employee-handbook.md").write_text("# Handbook\n\nRewritten: 30 days.\n")

    def store_dies(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "replace_documents", store_dies)
    with pytest.raises(KeyboardInterrupt):
        ingest([handbook_dir])
    monkeypatch.setattr(store, "replace_documents", real_replace)
    stale = Document.objects.get(source__endswith="employee-handbook.md")
    assert stale.content_hash != stale.indexed_hash  # the next run knows to redo it

    # 3. the next run repairs everything
    report = ingest([handbook_dir])
    assert report.count("failed") == 0
    assert_store_matches_database()
    handbook = Document.objects.get(source__endswith="employee-handbook.md")
    assert [t for t in store_texts(handbook)] == ["Rewritten: 30 days."]
    assert ingest([handbook_dir]).count("unchanged") == len(report.outcomes)


def test_jsonl_records_are_documents_and_removed_records_go_away(embedder, tmp_path):
    export = tmp_path / "faq.jsonl"
    rows = [
        {"id": "1", "source": "faq/wifi", "text": "The guest wifi is Acme-Guest.", "metadata": {}},
        {"id": "2", "source": "faq/lunch", "content": "Lunch is served at noon.", "metadata": {}},
    ]
    export.write_text("\n".join(json.dumps(r) for r in rows) + "\n{not json\n")
    report = ingest([export])
    assert report.count("ingested") == 2
    assert report.count("failed") == 1
    assert "line 3" in report.failures[0].error.lower() or "3" in report.failures[0].source

    export.write_text(json.dumps(rows[0]) + "\n")
    report = ingest([export])

    assert report.count("removed") == 1
    assert Document.objects.count() == 1
    assert_store_matches_database()


def test_identical_paragraphs_are_embedded_once(embedder, tmp_path):
    from ragengine.models import EmbeddingCacheEntry

    folder = tmp_path / "docs"
    folder.mkdir()
    text = "# Same\n\nEvery office has a first-aid kit next to the kitchen.\n"
    (folder / "a.md").write_text(text)
    (folder / "b.md").write_text(text)

    ingest([folder])

    assert EmbeddingCacheEntry.objects.count() == 1
    assert Chunk.objects.count() == 2


def test_a_set_built_by_another_embedder_is_refused(embedder, tmp_path):
    KnowledgeSet.objects.create(name="legacy", embedder="openai:text-embedding-3-small")
    (tmp_path / "a.md").write_text("# A\n\ntext\n")
    with pytest.raises(KnowledgeSetError, match="cannot be mixed"):
        ingest([tmp_path / "a.md"], name="legacy")


def test_missing_path_is_a_clear_error(embedder, tmp_path):
    with pytest.raises(FileNotFoundError, match="No such file"):
        ingest([tmp_path / "nope"])
