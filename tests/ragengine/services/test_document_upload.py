"""Uploaded documents: a safe name under MEDIA_ROOT, ingestion that always ends ready or
failed, and deletion of the stored file with the document."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragengine.models import Document, DocumentStatus
from ragengine.services.document_ingestion import document_ingest
from ragengine.services.document_upload import (
    UploadError,
    document_delete,
    document_upload,
    upload_filename,
)
from ragengine.services.knowledge import knowledge_set_get_or_create

pytestmark = pytest.mark.django_db

TEXT = b"# Parking\n\nBicycles go to the basement rack.\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("policy.md", "policy.md"),
        ("../../etc/passwd.md", "passwd.md"),
        ("..\\..\\windows\\evil.txt", "evil.txt"),
        ("My Policy (v2).pdf", "My_Policy_v2.pdf"),
        ("x" * 300 + ".md", "x" * 147 + ".md"),
    ],
)
def test_upload_names_lose_folders_and_odd_characters(sent, kept):
    assert upload_filename(sent) == kept


@pytest.mark.parametrize("sent", ["", "..", "/", ".hidden", "***"])
def test_names_with_nothing_usable_are_refused(sent):
    with pytest.raises(UploadError):
        upload_filename(sent)


def test_an_upload_is_pending_until_its_task_ingests_it(
    embedder, django_capture_on_commit_callbacks
):
    knowledge_set = knowledge_set_get_or_create(name="facilities")

    with django_capture_on_commit_callbacks() as queued:
        document = document_upload(
            knowledge_set=knowledge_set, filename="parking.md", content=TEXT, uploaded_by="me"
        )

    assert document.status == DocumentStatus.QUEUED and len(queued) == 1
    assert document_ingest(document_id=document.pk) == DocumentStatus.READY
    document.refresh_from_db()
    assert document.chunk_count >= 1 and document.uploaded_by == "me"


def test_a_vanished_file_ends_failed_not_processing(embedder, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        document = document_upload(
            knowledge_set=knowledge_set_get_or_create(name="facilities"),
            filename="parking.md",
            content=TEXT,
        )
    Path(document.source).unlink()

    assert document_ingest(document_id=document.pk) == DocumentStatus.FAILED
    assert "upload it again" in Document.objects.get(pk=document.pk).error
    assert document_ingest(document_id=10**9) == "missing"


def test_an_unexpected_ingest_error_ends_failed(
    embedder, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        document = document_upload(
            knowledge_set=knowledge_set_get_or_create(name="facilities"),
            filename="parking.md",
            content=TEXT,
        )

    def explode(**kwargs):
        raise OSError("disk on fire")

    monkeypatch.setattr("ragengine.services.document_ingestion.documents_ingest_stored", explode)

    assert document_ingest(document_id=document.pk) == DocumentStatus.FAILED
    assert "OSError" in Document.objects.get(pk=document.pk).error


def test_delete_removes_an_uploaded_file_but_never_a_file_outside_uploads(
    embedder, tmp_path, django_capture_on_commit_callbacks
):
    knowledge_set = knowledge_set_get_or_create(name="facilities")
    with django_capture_on_commit_callbacks(execute=True):
        uploaded = document_upload(knowledge_set=knowledge_set, filename="a.md", content=TEXT)
    outside = tmp_path / "elsewhere.md"
    outside.write_bytes(TEXT)
    ingested = Document.objects.create(
        knowledge_set=knowledge_set, title="elsewhere", source=str(outside)
    )

    document_delete(document=Document.objects.get(pk=uploaded.pk))
    document_delete(document=ingested)

    assert not Path(uploaded.source).exists()
    assert outside.exists()  # ingested from the file system: the file is not ours to delete
    assert not Document.objects.exists()
