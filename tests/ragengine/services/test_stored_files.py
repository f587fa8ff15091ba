"""Uploads kept in a storage without local paths (Django's InMemoryStorage stands in for
S3): uploaded, ingested by reading through the storage API, re-uploaded, deleted with
their file; a file missing from the storage fails with the reason."""

from __future__ import annotations

import pytest
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage

from ragengine.models import Document, DocumentStatus
from ragengine.retrieval.parsers.base import ParseError
from ragengine.services.document_ingestion import document_ingest
from ragengine.services.document_upload import document_delete, document_upload
from ragengine.services.knowledge import knowledge_set_get_or_create
from ragengine.services.stored_files import stored_name, stored_read, upload_source

pytestmark = pytest.mark.django_db

TEXT = b"# Parking\n\nBicycles go to the basement rack next to the lift.\n"
EXPORT = b'{"id": "a", "text": "Lunch is at noon."}\n{"id": "b", "text": "Mail on floor 1."}\n'


class RemoteStorage(Storage):
    """Files kept in a dict shared by the test, with no local path at all (`path()`
    raises, as in S3-style storages; Django's InMemoryStorage still answers `path()`)."""

    files: dict[str, bytes] = {}

    def _open(self, name: str, mode: str = "rb") -> File:
        if name not in self.files:
            raise FileNotFoundError(name)
        return ContentFile(self.files[name], name=name)

    def _save(self, name: str, content: File) -> str:
        content.seek(0)
        self.files[name] = b"".join(content.chunks())
        return name

    def exists(self, name: str) -> bool:
        return name in self.files

    def delete(self, name: str) -> None:
        self.files.pop(name, None)

    def size(self, name: str) -> int:
        return len(self.files[name])


@pytest.fixture
def no_local_paths(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # must stay empty: nothing lands on disk
    RemoteStorage.files = {}
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.RemoteStorage"},
    }
    with pytest.raises(NotImplementedError):
        default_storage.path("x")  # as S3 storages do
    return settings.MEDIA_ROOT


def test_an_upload_is_ingested_from_a_storage_without_local_paths(embedder, no_local_paths):
    facilities = knowledge_set_get_or_create(name="facilities")

    document = document_upload(knowledge_set=facilities, filename="parking.md", content=TEXT)

    assert document.source == "upload:facilities/parking.md"
    assert document_ingest(document_id=document.pk) == DocumentStatus.READY
    document.refresh_from_db()
    assert document.chunk_count >= 1 and document.title == "Parking"
    assert not no_local_paths.exists()

    # The same name again replaces it, read back through the storage too.
    changed = TEXT.replace(b"basement", b"garage")
    again = document_upload(knowledge_set=facilities, filename="parking.md", content=changed)
    assert again.pk == document.pk
    assert document_ingest(document_id=document.pk) == DocumentStatus.READY
    assert "garage" in document.chunks.get().text

    document_delete(document=document)
    assert not default_storage.exists("facilities/parking.md")
    assert not Document.objects.exists()


def test_an_export_is_ingested_from_a_storage_without_local_paths(embedder, no_local_paths):
    facilities = knowledge_set_get_or_create(name="facilities")
    export = document_upload(knowledge_set=facilities, filename="faq.jsonl", content=EXPORT)

    assert document_ingest(document_id=export.pk) == DocumentStatus.READY

    sources = sorted(Document.objects.filter(parent=export).values_list("source", flat=True))
    assert sources == ["upload:facilities/faq.jsonl#a", "upload:facilities/faq.jsonl#b"]
    document_delete(document=export)
    assert not Document.objects.exists() and not default_storage.exists("facilities/faq.jsonl")


def test_a_file_missing_from_the_storage_fails_with_the_reason(embedder, no_local_paths):
    facilities = knowledge_set_get_or_create(name="facilities")
    document = document_upload(knowledge_set=facilities, filename="parking.md", content=TEXT)
    default_storage.delete("facilities/parking.md")

    assert document_ingest(document_id=document.pk) == DocumentStatus.FAILED
    assert "upload it again" in Document.objects.get(pk=document.pk).error


def test_a_stored_file_larger_than_the_limit_is_not_read_whole(settings, no_local_paths):
    default_storage.save("facilities/big.txt", ContentFile(b"x" * 5000))
    with pytest.raises(ParseError, match="limit"):
        stored_read(name="facilities/big.txt", max_bytes=1000)


def test_sources_map_back_to_storage_names_and_never_to_outside_files(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    local = upload_source(name="facilities/a.md")
    assert local == str((tmp_path / "media" / "facilities" / "a.md").resolve())
    assert stored_name(source=local) == "facilities/a.md"
    assert stored_name(source=local + ".jsonl#7") is not None
    assert stored_name(source="upload:facilities/faq.jsonl#a") == "facilities/faq.jsonl"
    assert stored_name(source=str(tmp_path / "docs" / "a.md")) is None  # a folder's file
    assert stored_name(source="/etc/passwd") is None
