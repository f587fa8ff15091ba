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
    from ragengine.services import ingestor as ingest_module

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


def test_a_set_built_by_an_unavailable_embedder_is_refused_and_queued(embedder, tmp_path):
    KnowledgeSet.objects.create(name="legacy", embedder="openai:text-embedding-3-small")
    (tmp_path / "a.md").write_text("# A\n\ntext\n")
    with pytest.raises(KnowledgeSetError, match="no longer available.*re-embedded"):
        ingest([tmp_path / "a.md"], name="legacy")
    legacy = KnowledgeSet.objects.get(name="legacy")
    assert legacy.reembed_status == "queued"
    assert legacy.reembed_target == embedder.name
    assert Chunk.objects.count() == 0


def test_missing_path_is_a_clear_error(embedder, tmp_path):
    with pytest.raises(FileNotFoundError, match="No such file"):
        ingest([tmp_path / "nope"])


# --- hostile folders: links that leave the folder (audit "Hardening" item 10) -------------


def all_chunk_text() -> str:
    return "\n".join(Chunk.objects.values_list("text", flat=True))


@pytest.fixture
def outside(tmp_path):
    """Secrets next to (not inside) the folder being ingested."""
    secrets_dir = tmp_path / "outside"
    secrets_dir.mkdir()
    (secrets_dir / "passwd").write_text("root:x:0:0:TOPSECRET-PASSWD:/root:/bin/bash\n")
    (secrets_dir / "secret_key").write_text("TOPSECRET-KEY-0123456789\n")
    (secrets_dir / "notes.md").write_text("# Notes\n\nTOPSECRET-NOTES in a linked folder.\n")
    return secrets_dir


def test_links_that_leave_the_folder_are_refused_each_with_a_reason(embedder, tmp_path, outside):
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\nThe cafeteria serves lunch from noon.\n")
    (folder / "passwd.txt").symlink_to(outside / "passwd")
    (folder / "key.txt").symlink_to("../outside/secret_key")  # relative links too
    (folder / "more").symlink_to(outside, target_is_directory=True)
    (folder / "gone.md").symlink_to(tmp_path / "nowhere.md")

    report = ingest([folder])

    by_name = {Path(o.source).name: o for o in report.outcomes}
    assert by_name["good.md"].status == "ingested"
    for name in ("passwd.txt", "key.txt", "more"):
        outcome = by_name[name]
        assert outcome.status == "failed", name
        assert "is a link that points outside the folder being ingested" in outcome.error
        assert outcome.source == str(folder.resolve() / name)  # where the link is, not its target
    assert by_name["gone.md"].status == "failed"
    assert "link" in by_name["gone.md"].error
    assert "TOPSECRET" not in all_chunk_text()
    assert not Document.objects.filter(source__startswith=str(outside.resolve())).exists()
    assert set(
        Document.objects.filter(status=DocumentStatus.FAILED).values_list("error", flat=True)
    )
    assert_store_matches_database()


def test_links_inside_the_folder_are_followed_once_and_cycles_end(embedder, tmp_path):
    folder = tmp_path / "docs"
    (folder / "policies").mkdir(parents=True)
    (folder / "policies" / "leave.md").write_text("# Leave\n\nThirty days of paid leave.\n")
    (folder / "current.md").symlink_to("policies/leave.md")  # same file twice
    (folder / "policies" / "again").symlink_to("..", target_is_directory=True)  # a cycle
    (folder / "alias").symlink_to("policies", target_is_directory=True)
    (folder / ".hidden.md").write_text("# Hidden\n\nTOPSECRET hidden notes.\n")
    (folder / "unhide.md").symlink_to(".hidden.md")

    report = ingest([folder])

    ingested = [o for o in report.outcomes if o.status == "ingested"]
    assert [Path(o.source) for o in ingested] == [(folder / "policies" / "leave.md").resolve()]
    assert Document.objects.filter(status=DocumentStatus.READY).count() == 1
    unhide = next(o for o in report.outcomes if o.source.endswith("unhide.md"))
    assert unhide.status == "failed" and "hidden" in unhide.error
    assert "TOPSECRET" not in all_chunk_text()
    assert_store_matches_database()


def test_a_named_file_that_is_a_link_must_stay_in_its_own_folder(embedder, tmp_path, outside):
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "handbook-v2.md").write_text("# Handbook\n\nVersion two of the handbook.\n")
    (folder / "handbook.md").symlink_to("handbook-v2.md")
    (folder / "passwd.txt").symlink_to(outside / "passwd")
    linked_folder = tmp_path / "docs-link"
    linked_folder.symlink_to(folder, target_is_directory=True)

    # `ingest shared/*` names every file explicitly: a link still may not leave the folder.
    report = ingest([folder / "passwd.txt", folder / "handbook.md"])
    by_name = {Path(o.source).name: o for o in report.outcomes}
    assert by_name["passwd.txt"].status == "failed"
    assert "points outside the folder" in by_name["passwd.txt"].error
    assert by_name["handbook-v2.md"].status == "ingested"

    # a named folder that is a link is the operator's choice: it is followed
    again = ingest([linked_folder])
    assert {o.status for o in again.outcomes if "handbook" in o.source} == {"unchanged"}
    assert "TOPSECRET" not in all_chunk_text()


def test_a_file_swapped_for_a_link_after_it_was_listed_is_not_read(embedder, tmp_path, outside):
    """The walk checks a path, the read happens later: the read must not follow a link that
    appeared in between (in the file itself or in a folder on its way)."""
    folder = tmp_path / "shared"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.md").write_text("# A\n\nThe first file, read normally.\n")
    (folder / "b.txt").write_text("An innocent file that will be swapped.\n")
    (folder / "sub" / "notes.md").write_text("# Sub\n\nAn innocent note.\n")
    swapped = []

    def swap_after_first(outcome, index, total):
        if index == 1:
            (folder / "b.txt").unlink()
            (folder / "b.txt").symlink_to(outside / "passwd")
            (folder / "sub").rename(tmp_path / "sub-moved")
            (folder / "sub").symlink_to(outside, target_is_directory=True)
            swapped.append(True)

    report = ingest([folder], progress=swap_after_first)

    assert swapped
    by_name = {Path(o.source).name: o for o in report.outcomes}
    assert by_name["a.md"].status == "ingested"
    assert by_name["b.txt"].status == "failed"
    assert by_name["notes.md"].status == "failed"
    assert "link" in by_name["b.txt"].error and "link" in by_name["notes.md"].error
    assert "TOPSECRET" not in all_chunk_text()
    assert_store_matches_database()


def test_special_files_are_refused_without_blocking(embedder, tmp_path):
    """Opening a FIFO for reading waits for a writer (forever, if none comes)."""
    import os
    import threading

    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)

    def writer():
        try:
            with open(fifo, "w") as pipe:
                pipe.write("Text that arrives through a pipe.\n")
        except OSError:
            pass

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    report = ingest([fifo])
    os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # releases a writer still waiting
    thread.join(timeout=5)

    assert report.outcomes[0].status == "failed"
    assert "not a regular file" in report.outcomes[0].error


# --- one file fails alone, whatever the exception (item 11) -------------------------------


def deep_json(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_a_record_nested_100k_levels_deep_fails_alone(embedder, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "a-good.md").write_text("# Good\n\nThe cafeteria serves lunch from noon.\n")
    (folder / "deep.json").write_text(deep_json(100_000))
    record = {"id": "ok", "text": "The guest wifi is Acme-Guest."}
    deep_record = '{"id": "deep", "text": "x", "metadata": {"a": ' + deep_json(100_000) + "}}"
    (folder / "mixed.jsonl").write_text(json.dumps(record) + "\n" + deep_record + "\n")
    (folder / "z-good.md").write_text("# Later\n\nFiles after the bad ones still ingest.\n")

    report = ingest([folder])

    by_source = {Path(o.source).name: o for o in report.outcomes}
    assert by_source["a-good.md"].status == "ingested"
    assert by_source["z-good.md"].status == "ingested"
    assert by_source["deep.json"].status == "failed"
    assert "nested more than" in by_source["deep.json"].error
    assert by_source["mixed.jsonl#ok"].status == "ingested"
    assert by_source["mixed.jsonl#line 2"].status == "failed"
    assert "Line 2 is nested more than" in by_source["mixed.jsonl#line 2"].error
    assert_store_matches_database()


@pytest.mark.parametrize(
    "error",
    [RecursionError("maximum recursion depth exceeded"), MemoryError(), KeyError("w:body")],
    ids=["RecursionError", "MemoryError", "KeyError"],
)
def test_any_exception_while_parsing_fails_only_that_file(embedder, tmp_path, monkeypatch, error):
    """Parsers run in a worker process (their exceptions come back as ParseErrors, see
    test_isolation); this is the guard around the call, whatever reaches it."""
    from ragengine.retrieval.parsers import ParseWorker

    real_parse = ParseWorker.parse_bytes

    def parse_or_explode(self, data, *, filename, **kwargs):
        if filename.endswith(".rst"):
            raise error
        return real_parse(self, data, filename=filename, **kwargs)

    monkeypatch.setattr(ParseWorker, "parse_bytes", parse_or_explode)
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nBefore the bad file.\n")
    (folder / "b.rst").write_text("Bad file.\n")
    (folder / "c.md").write_text("# C\n\nAfter the bad file.\n")

    report = ingest([folder])

    assert [o.status for o in report.outcomes] == ["ingested", "failed", "ingested"]
    reason = report.outcomes[1].error
    assert reason.startswith("Unexpected error while reading this file") and reason.endswith(".")
    assert type(error).__name__ in reason
    assert Document.objects.get(source__endswith="b.rst").status == DocumentStatus.FAILED
    assert_store_matches_database()


@pytest.mark.parametrize("stage", ["chunking", "database"])
def test_a_failure_after_parsing_leaves_nothing_half_written(
    embedder, tmp_path, monkeypatch, stage
):
    from ragengine.services import ingestor as ingest_module

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nBefore the bad file.\n")
    (folder / "b.md").write_text("# B\n\nThe bad file's text.\n")
    (folder / "c.md").write_text("# C\n\nAfter the bad file.\n")
    if stage == "chunking":
        real_chunk = ingest_module.chunk_sections

        def chunk(sections, **kwargs):
            if any("bad file's" in s.text for s in sections):
                raise RecursionError("maximum recursion depth exceeded")
            return real_chunk(sections, **kwargs)

        monkeypatch.setattr(ingest_module, "chunk_sections", chunk)
    else:
        real_bulk_create = Chunk.objects.bulk_create

        def bulk_create(chunks, **kwargs):
            chunks = list(chunks)
            if any("bad file's" in c.text for c in chunks):
                raise MemoryError
            return real_bulk_create(chunks, **kwargs)

        monkeypatch.setattr(Chunk.objects, "bulk_create", bulk_create)

    report = ingest([folder])

    assert [o.status for o in report.outcomes] == ["ingested", "failed", "ingested"]
    assert report.outcomes[1].error.startswith("Unexpected error while reading this file")
    bad = Document.objects.get(source__endswith="b.md")
    assert bad.status == DocumentStatus.FAILED and bad.chunks.count() == 0
    assert "bad file's" not in all_chunk_text()
    assert_store_matches_database()


# --- a time budget per file (item 12) -------------------------------------------------------


def test_a_file_over_the_parse_time_budget_fails_alone(embedder, tmp_path, settings):
    """The audit's DOCX with 50,000 empty paragraphs (just within the default cap; over a
    minute before style look-ups were cached, seconds after) against a budget far shorter
    than it needs and far longer than the small files around it need."""
    from tests.ragengine.retrieval.parsers.test_docx import docx_with_paragraphs

    settings.ARANDU_PARSE_TIMEOUT_S = 0.3
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nBefore the slow file.\n")
    (folder / "b.docx").write_bytes(docx_with_paragraphs(50_000))
    (folder / "c.md").write_text("# C\n\nAfter the slow file.\n")

    report = ingest([folder])

    assert [o.status for o in report.outcomes] == ["ingested", "failed", "ingested"]
    assert report.outcomes[1].error == (
        "Reading this file took longer than 0.3 s, the time limit for one file; it may be "
        "damaged or built to be slow to read."
    )
    assert_store_matches_database()
