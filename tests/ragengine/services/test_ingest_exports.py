"""Uploaded JSON/JSONL exports: the export's own row (queued → parsing → embedding with
progress in records → ready with its counts, or failed with the CLI's reason), its records
as documents of their own, and what deleting, re-uploading, re-ingesting and moving the
export does to all of them. Bad input fails alone and loses nothing else."""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from ragengine.models import Chunk, Document, DocumentKind, DocumentStatus
from ragengine.retrieval.registry import get_vector_store
from ragengine.selectors.knowledge import document_label, documents_status, export_records
from ragengine.services import ingest_exports
from ragengine.services import ingestor as ingest
from ragengine.services.document_ingestion import (
    document_ingest,
    document_move,
    documents_move,
    documents_reingest,
)
from ragengine.services.document_upload import (
    document_delete,
    document_upload,
    documents_upload,
)
from ragengine.services.knowledge import knowledge_set_get_or_create

pytestmark = pytest.mark.django_db

FAQ = [
    {"id": "wifi", "text": "The guest wifi password is on the badge at reception."},
    {"id": "lunch", "text": "Lunch is served in the canteen from 12:00 to 14:00."},
    {"id": "mail", "text": "Parcels are collected from the mail room on floor 1."},
]


def jsonl(rows, *extra_lines: str) -> bytes:
    return ("\n".join([*(json.dumps(r) for r in rows), *extra_lines]) + "\n").encode()


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def facilities():
    return knowledge_set_get_or_create(name="facilities")


def upload_and_ingest(knowledge_set, name: str, content: bytes) -> Document:
    export = document_upload(knowledge_set=knowledge_set, filename=name, content=content)
    document_ingest(document_id=export.pk)
    export.refresh_from_db()
    return export


def records_of(export: Document) -> dict[str, Document]:
    return {d.source.rsplit("#", 1)[1]: d for d in Document.objects.filter(parent=export)}


def test_an_export_becomes_a_container_of_records_with_their_own_status(embedder, facilities):
    export = document_upload(knowledge_set=facilities, filename="faq.jsonl", content=jsonl(FAQ))
    assert export.kind == DocumentKind.EXPORT and export.status == DocumentStatus.QUEUED
    assert document_label(status=export.status, kind=export.kind, metadata={}) == "Queued"

    assert document_ingest(document_id=export.pk) == DocumentStatus.READY

    export.refresh_from_db()
    records = records_of(export)
    assert set(records) == {"wifi", "lunch", "mail"}
    for record in records.values():
        assert record.kind == DocumentKind.RECORD and record.status == DocumentStatus.READY
        assert record.chunk_count >= 1
        assert get_vector_store().count(document_ids=[str(record.pk)]) == record.chunk_count
    assert export.chunk_count == 0 and export.ingested_at is not None
    assert documents_status(document_ids=[export.pk])[str(export.pk)]["label"] == (
        "Ready (3 records)"
    )
    counts = export_records(export=export)
    assert counts["total"] == counts["ready"] == counts["in_file"] == counts["done"] == 3
    assert "reception" in Chunk.objects.get(document=records["wifi"]).text


def test_progress_is_counted_in_records(embedder, facilities, monkeypatch):
    monkeypatch.setattr(ingest_exports, "PROGRESS_EVERY_S", 0)
    export = document_upload(knowledge_set=facilities, filename="faq.jsonl", content=jsonl(FAQ))
    seen: list[str] = []
    embed = ingest.texts_embed_cached

    def embedding(**kwargs):
        seen.append(documents_status(document_ids=[export.pk])[str(export.pk)]["label"])
        return embed(**kwargs)

    monkeypatch.setattr(ingest, "texts_embed_cached", embedding)
    document_ingest(document_id=export.pk)

    assert seen == [
        "Embedding (0 of 3 records)",
        "Embedding (1 of 3 records)",
        "Embedding (2 of 3 records)",
    ]


def test_unusable_records_are_skipped_and_listed_on_the_export(embedder, facilities):
    content = jsonl(FAQ[:2], "{not json", '{"id": "x", "title": "no text here"}')
    export = upload_and_ingest(facilities, "faq.jsonl", content)

    assert export.status == DocumentStatus.READY and export.error == ""
    assert set(records_of(export)) == {"wifi", "lunch"}
    shown = documents_status(document_ids=[export.pk])[str(export.pk)]
    assert shown["label"] == "Ready (2 records, 2 skipped)"
    assert shown["error"].startswith("2 records skipped: Line 3 is not valid JSON")
    assert 'Line 4 has no "text" or "content" field.' in shown["error"]
    assert export_records(export=export)["skipped"] == 2


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("faq.json", b'[{"text": "a"},\n {"text": ', "not valid JSON"),
        ("faq.json", b"[]", "contains no records"),
        ("faq.jsonl", b'{"title": "a"}\n{"title": "b"}\n', "None of the 2 records could be used"),
        ("faq.json", b'"just a string"', "must hold a record object or a list"),
    ],
)
def test_a_bad_export_fails_with_the_clis_reason_and_loses_nothing_else(
    embedder, facilities, name, content, reason
):
    kept = upload_and_ingest(facilities, "other.jsonl", jsonl(FAQ[:1]))

    export = upload_and_ingest(facilities, name, content)

    assert export.status == DocumentStatus.FAILED and reason in export.error
    assert not Document.objects.filter(parent=export).exists()
    assert Document.objects.get(pk=kept.pk).status == DocumentStatus.READY
    assert records_of(kept)["wifi"].status == DocumentStatus.READY


def test_the_invalid_json_reason_names_the_line(embedder, facilities):
    export = upload_and_ingest(facilities, "faq.json", b'[\n{"text": "a"},\n{"text": }\n]')
    assert "line 3" in export.error


def test_a_huge_export_is_refused_at_upload(facilities, settings):
    settings.ARANDU_MAX_FILE_MB = 0.001
    [result] = documents_upload(knowledge_set=facilities, files=[("big.jsonl", jsonl(FAQ * 20))])
    assert result.outcome == "refused" and "limit is 0.001 MB" in result.message
    assert not Document.objects.exists()


def test_a_broken_new_version_keeps_the_records_of_the_last_good_one(embedder, facilities):
    export = upload_and_ingest(facilities, "faq.jsonl", jsonl(FAQ))

    again = upload_and_ingest(facilities, "faq.jsonl", b"{broken\n")

    assert again.pk == export.pk and again.status == DocumentStatus.FAILED
    assert "records ingested before are still being used" in again.error
    assert all(r.status == DocumentStatus.READY for r in records_of(export).values())
    assert len(records_of(export)) == 3


def test_uploading_the_export_again_adds_changes_and_removes_records(embedder, facilities):
    export = upload_and_ingest(facilities, "faq.jsonl", jsonl(FAQ))
    before = records_of(export)
    lunch_chunks = set(Chunk.objects.filter(document=before["lunch"]).values_list("pk", flat=True))
    changed = [
        {"id": "wifi", "text": "The guest wifi password changes every Monday."},
        FAQ[1],
        {"id": "bikes", "text": "Bicycles go to the basement rack."},
    ]

    again = upload_and_ingest(facilities, "faq.jsonl", jsonl(changed))

    after = records_of(again)
    assert set(after) == {"wifi", "lunch", "bikes"}
    assert after["wifi"].pk == before["wifi"].pk
    assert "Monday" in Chunk.objects.get(document=after["wifi"]).text
    # unchanged: the same chunks, not embedded again
    assert set(Chunk.objects.filter(document=after["lunch"]).values_list("pk", flat=True)) == (
        lunch_chunks
    )
    assert not Document.objects.filter(pk=before["mail"].pk).exists()
    assert get_vector_store().count(document_ids=[str(before["mail"].pk)]) == 0
    assert again.metadata["records"] == 3


def test_a_reingest_of_the_export_reads_the_file_again(embedder, facilities):
    export = upload_and_ingest(facilities, "faq.jsonl", jsonl(FAQ))
    name = f"{facilities.slug}/faq.jsonl"
    default_storage.delete(name)
    default_storage.save(name, ContentFile(jsonl(FAQ[:2])))

    assert documents_reingest(documents=[export]) == 1
    assert document_ingest(document_id=export.pk) == DocumentStatus.READY

    assert set(records_of(export)) == {"wifi", "lunch"}


def test_deleting_the_export_deletes_its_records_their_chunks_and_the_file(embedder, facilities):
    export = upload_and_ingest(facilities, "faq.jsonl", jsonl(FAQ))
    kept = upload_and_ingest(facilities, "other.jsonl", jsonl(FAQ[:1]))
    record_ids = [str(r.pk) for r in records_of(export).values()]

    document_delete(document=export)

    assert not Document.objects.filter(pk=export.pk).exists()
    assert not Document.objects.filter(parent_id=export.pk).exists()
    assert not Chunk.objects.filter(document_id__in=record_ids).exists()
    assert get_vector_store().count(document_ids=record_ids) == 0
    assert not default_storage.exists(f"{facilities.slug}/faq.jsonl")
    assert len(records_of(kept)) == 1  # the other export is untouched


def test_deleting_one_record_keeps_the_export_and_its_file(embedder, facilities):
    export = upload_and_ingest(facilities, "faq.jsonl", jsonl(FAQ))
    document_delete(document=records_of(export)["mail"])
    assert set(records_of(export)) == {"wifi", "lunch"}
    assert default_storage.exists(f"{facilities.slug}/faq.jsonl")


def test_moving_the_export_moves_all_its_records(embedder, facilities):
    export = upload_and_ingest(facilities, "faq.jsonl", jsonl(FAQ))
    other = knowledge_set_get_or_create(name="other")
    before = {k: r.pk for k, r in records_of(export).items()}

    assert document_move(document_id=export.pk, knowledge_set_id=other.pk) == DocumentStatus.READY

    moved = records_of(export)
    assert {k: r.pk for k, r in moved.items()} == before
    assert all(r.knowledge_set_id == other.pk for r in moved.values())
    assert all(r.status == DocumentStatus.READY for r in moved.values())
    assert not Document.objects.filter(knowledge_set=facilities).exists()
    store = get_vector_store()
    assert store.count(knowledge_sets=[str(facilities.pk)]) == 0
    assert store.count(knowledge_sets=[str(other.pk)]) == sum(r.chunk_count for r in moved.values())


def test_moving_a_record_moves_its_export(
    embedder, facilities, monkeypatch, django_capture_on_commit_callbacks
):
    export = upload_and_ingest(facilities, "faq.jsonl", jsonl(FAQ))
    other = knowledge_set_get_or_create(name="other")
    record = records_of(export)["wifi"]

    with django_capture_on_commit_callbacks() as queued:
        assert documents_move(documents=[record, export], knowledge_set=other) == 1

    assert len(queued) == 1
    assert Document.objects.get(pk=export.pk).status == DocumentStatus.QUEUED


def test_an_export_with_too_many_records_fails_whole(embedder, facilities, settings):
    settings.ARANDU_MAX_RECORDS_PER_FILE = 2
    export = upload_and_ingest(facilities, "faq.jsonl", jsonl(FAQ))
    assert export.status == DocumentStatus.FAILED
    assert "more than 2 records, the limit for one export" in export.error
    assert not Document.objects.filter(parent=export).exists()
