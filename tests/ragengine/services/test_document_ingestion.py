"""Background ingestion of known documents: the statuses it shows on the way, the task,
moves, the stale-ingestion sweep and its schedule, and races between uploads and
ingestions (PostgreSQL, real threads)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from ragengine import tasks
from ragengine.models import Chunk, Document, DocumentStatus
from ragengine.retrieval.registry import get_vector_store
from ragengine.services import ingestor as ingest
from ragengine.services.document_ingestion import (
    document_ingest,
    document_move,
    documents_reingest,
    documents_sweep_stale,
)
from ragengine.services.document_upload import document_upload, documents_upload, text_upload
from ragengine.services.knowledge import knowledge_set_get_or_create

TEXT = b"# Parking\n\nBicycles go to the basement rack next to the lift.\n"
CHANGED = b"# Parking\n\nCars park on level -2; bicycles stay in the basement rack.\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def uploaded(name: str = "parking.md", content: bytes = TEXT, set_name: str = "facilities"):
    knowledge_set = knowledge_set_get_or_create(name=set_name)
    return document_upload(knowledge_set=knowledge_set, filename=name, content=content)


# --- statuses --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_ingestion_shows_parsing_then_embedding_then_ready(embedder, monkeypatch):
    document = uploaded()
    seen: list[str] = []
    chunk_sections, embed = ingest.chunk_sections, ingest.texts_embed_cached

    def chunking(*args, **kwargs):
        seen.append(Document.objects.get(pk=document.pk).status)
        return chunk_sections(*args, **kwargs)

    def embedding(**kwargs):
        seen.append(Document.objects.get(pk=document.pk).status)
        return embed(**kwargs)

    monkeypatch.setattr(ingest, "chunk_sections", chunking)
    monkeypatch.setattr(ingest, "texts_embed_cached", embedding)

    assert document.status == DocumentStatus.QUEUED
    assert tasks.document_ingest_task(document.pk) == DocumentStatus.READY
    assert seen == [DocumentStatus.PARSING, DocumentStatus.EMBEDDING]
    document.refresh_from_db()
    assert document.ingest_attempts == 1 and document.error == ""


@pytest.mark.django_db
def test_a_corrupt_file_ends_failed_with_the_clis_reason(embedder):
    document = uploaded("scan.pdf", b"%PDF-1.4 truncated nonsense")
    assert document_ingest(document_id=document.pk) == DocumentStatus.FAILED
    document.refresh_from_db()
    assert "PDF" in document.error and document.chunk_count == 0
    assert get_vector_store().count(document_ids=[str(document.pk)]) == 0


@pytest.mark.django_db
def test_a_reingest_of_an_unchanged_document_parses_it_again(embedder):
    document = uploaded()
    document_ingest(document_id=document.pk)
    before = set(Chunk.objects.filter(document=document).values_list("pk", flat=True))

    assert documents_reingest(documents=[document]) == 1
    assert Document.objects.get(pk=document.pk).status == DocumentStatus.QUEUED
    assert document_ingest(document_id=document.pk) == DocumentStatus.READY
    after = set(Chunk.objects.filter(document=document).values_list("pk", flat=True))
    assert after and not before & after


@pytest.mark.django_db
def test_pasted_text_is_kept_as_markdown_under_its_title(embedder):
    facilities = knowledge_set_get_or_create(name="facilities")
    result = text_upload(knowledge_set=facilities, title="  Office   hours ", text="Opens at 8.")
    assert result.outcome == "queued" and result.filename == "office-hours.md"
    assert Path(result.document.source).read_text() == "# Office hours\n\nOpens at 8.\n"
    refused = text_upload(knowledge_set=facilities, title="x", text="   ")
    assert refused.outcome == "refused" and "empty" in refused.message


@pytest.mark.django_db
def test_one_upload_judges_each_file_alone(embedder, settings):
    facilities = knowledge_set_get_or_create(name="facilities")
    results = documents_upload(
        knowledge_set=facilities,
        files=[("a.md", TEXT), ("b.md", TEXT), ("../c.docx", b""), ("d.rtf", b"{\\rtf1}")],
    )
    assert [r.outcome for r in results] == ["queued", "refused", "refused", "refused"]
    assert "Duplicate" in results[1].message and "empty" in results[2].message
    assert "Unsupported file type .rtf" in results[3].message
    assert Document.objects.count() == 1


# --- move ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_move_to_a_set_that_has_the_file_already_fails_with_the_reason(embedder):
    document = uploaded()
    document_ingest(document_id=document.pk)
    other = knowledge_set_get_or_create(name="other")
    Document.objects.create(knowledge_set=other, title="twin", source=document.source)

    assert document_move(document_id=document.pk, knowledge_set_id=other.pk) == "failed"
    document.refresh_from_db()
    assert document.knowledge_set.name == "facilities" and "already has" in document.error
    assert document_move(document_id=document.pk, knowledge_set_id=10**9) == "failed"
    assert document_move(document_id=10**9, knowledge_set_id=other.pk) == "missing"


# --- the stale sweep -------------------------------------------------------------------------


def _stale(document: Document, *, status: str, attempts: int, minutes: int) -> None:
    Document.objects.filter(pk=document.pk).update(
        status=status,
        ingest_attempts=attempts,
        updated_at=timezone.now() - timedelta(minutes=minutes),
    )


@pytest.mark.django_db
def test_the_sweep_picks_up_an_ingestion_whose_worker_died(
    embedder, settings, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)
    settings.ARANDU_INGEST_STALE_MINUTES = 30
    killed = uploaded()
    _stale(killed, status=DocumentStatus.EMBEDDING, attempts=1, minutes=31)
    fresh = uploaded("fresh.md", CHANGED)
    _stale(fresh, status=DocumentStatus.PARSING, attempts=1, minutes=5)

    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert tasks.documents_sweep_task() == 1

    assert len(queued) == 1
    killed.refresh_from_db()
    assert killed.status == DocumentStatus.READY and killed.chunk_count >= 1
    assert killed.ingest_attempts == 2
    assert Document.objects.get(pk=fresh.pk).status == DocumentStatus.PARSING  # still working


@pytest.mark.django_db
def test_the_sweep_fails_a_document_after_too_many_attempts(settings):
    settings.ARANDU_INGEST_MAX_ATTEMPTS = 3
    document = uploaded()
    _stale(document, status=DocumentStatus.PARSING, attempts=3, minutes=60)
    done = uploaded("done.md", CHANGED)
    _stale(done, status=DocumentStatus.READY, attempts=3, minutes=600)

    assert documents_sweep_stale() == 1

    document.refresh_from_db()
    assert document.status == DocumentStatus.FAILED
    assert "interrupted 3 times" in document.error and "retry" in document.error
    assert Document.objects.get(pk=done.pk).status == DocumentStatus.READY


@pytest.mark.django_db
def test_the_sweep_is_scheduled_every_five_minutes():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="ragengine.tasks.documents_sweep_task")
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 5
    assert schedule.repeats == -1


# --- races (PostgreSQL) ----------------------------------------------------------------------

needs_postgres = pytest.mark.skipif(
    "connection.vendor != 'postgresql'",
    reason="row and advisory locks exist on PostgreSQL only; SQLite has one writer anyway",
)


def _in_threads(count: int, work) -> list:
    """Run `work(i)` in `count` threads released together; their results, or raise."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 — re-raised in the test's thread
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def _consistent(document: Document) -> None:
    document.refresh_from_db()
    chunks = Chunk.objects.filter(document=document)
    assert document.status == DocumentStatus.READY
    assert chunks.count() == document.chunk_count > 0
    assert chunks.values("ordinal").distinct().count() == chunks.count()
    assert get_vector_store().count(document_ids=[str(document.pk)]) == document.chunk_count


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_admins_uploading_the_same_file_at_once_make_one_document(embedder):
    facilities = knowledge_set_get_or_create(name="facilities")

    results = _in_threads(
        4,
        lambda i: documents_upload(
            knowledge_set=facilities, files=[("parking.md", TEXT)], uploaded_by=f"admin{i}"
        )[0],
    )
    assert sorted(r.outcome for r in results) == ["queued", "unchanged", "unchanged", "unchanged"]
    document = Document.objects.get()
    assert len(list((Path(document.source).parent).iterdir())) == 1  # no parking_xyz.md

    statuses = _in_threads(2, lambda i: document_ingest(document_id=document.pk))
    assert statuses == ["ready", "ready"]
    _consistent(document)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_reingest_while_another_ingestion_runs_ends_with_one_result(embedder):
    document = uploaded()
    document_ingest(document_id=document.pk)
    Path(document.source).write_bytes(CHANGED)  # the file changed: both runs have work
    documents_reingest(documents=[document])

    statuses = _in_threads(3, lambda i: document_ingest(document_id=document.pk))

    assert statuses == ["ready"] * 3
    _consistent(document)
    texts = " ".join(Chunk.objects.filter(document=document).values_list("text", flat=True))
    assert "level -2" in texts and "next to the lift" not in texts
    assert Document.objects.count() == 1


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_changed_upload_during_an_ingestion_is_ingested_after_it(embedder):
    facilities = knowledge_set_get_or_create(name="facilities")
    document = document_upload(knowledge_set=facilities, filename="parking.md", content=TEXT)

    def work(i: int):
        if i == 0:
            return document_ingest(document_id=document.pk)
        return document_upload(knowledge_set=facilities, filename="parking.md", content=CHANGED)

    _in_threads(2, work)
    document_ingest(document_id=document.pk)  # the task the second upload queued

    _consistent(document)
    texts = " ".join(Chunk.objects.filter(document=document).values_list("text", flat=True))
    assert "level -2" in texts and Document.objects.count() == 1


@pytest.mark.django_db
def test_a_big_upload_is_queued_in_batches_the_size_of_a_store_commit(
    settings, django_capture_on_commit_callbacks
):
    settings.ARANDU_INGEST_COMMIT_EVERY = 50
    facilities = knowledge_set_get_or_create(name="facilities")
    files = [
        (f"note-{i}.md", f"# Note {i}\n\nRoom {i} is on floor {i % 7}.\n".encode())
        for i in range(120)
    ]

    with django_capture_on_commit_callbacks() as queued:
        results = documents_upload(knowledge_set=facilities, files=files)

    assert [r.outcome for r in results] == ["queued"] * 120
    assert len(queued) == 3  # 50 + 50 + 20 documents per task
    assert Document.objects.filter(status=DocumentStatus.QUEUED).count() == 120


@pytest.mark.django_db
def test_without_a_worker_a_queued_document_ends_failed_saying_so(
    settings, django_capture_on_commit_callbacks
):
    settings.ARANDU_INGEST_MAX_ATTEMPTS = 2
    settings.ARANDU_INGEST_STALE_MINUTES = 30
    document = uploaded()
    for sweep in range(3):
        _stale(
            document,
            status=DocumentStatus.QUEUED,
            attempts=Document.objects.get(pk=document.pk).ingest_attempts,
            minutes=31,
        )
        with django_capture_on_commit_callbacks() as queued:  # no worker: tasks never run
            documents_sweep_stale()
        assert len(queued) == (1 if sweep < 2 else 0)

    document.refresh_from_db()
    assert document.status == DocumentStatus.FAILED
    assert "No worker took it" in document.error and "manage.py serve" in document.error
