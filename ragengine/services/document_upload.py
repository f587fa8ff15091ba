"""Documents that arrive as uploads (admin upload page, REST API): checked, saved in the
default storage (MEDIA_ROOT), queued for a background ingestion, deleted with their file.

An upload is kept at `<set slug>/<file name>`: uploading a file of the same name into the
same set again replaces that document (its chunks are swapped atomically by ingestion;
unchanged bytes are not queued at all). The same bytes under another name are refused as a
duplicate. Uploads into one set are serialised by a row lock on the set, so two admins
uploading the same file at once end with one document.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Literal

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename, slugify

from ragengine.models import Document, DocumentStatus, KnowledgeSet
from ragengine.retrieval.parsers import RECORD_EXTENSIONS, SUPPORTED_EXTENSIONS
from ragengine.services.document_ingestion import document_lock, document_queue_ingest
from ragengine.services.knowledge import documents_delete

logger = logging.getLogger(__name__)

MAX_NAME_CHARS = 150
UPLOAD_EXTENSIONS = frozenset(SUPPORTED_EXTENSIONS - RECORD_EXTENSIONS)
SHOWN_TYPES = "md, txt, html, pdf or docx"
UploadOutcome = Literal["queued", "unchanged", "refused"]


class UploadError(ValueError):
    """A readable reason an upload was refused (nothing was stored)."""


@dataclass(frozen=True, slots=True)
class UploadResult:
    """What became of one file of an upload: queued, unchanged (same bytes already in
    the set under this name), or refused with `message`."""

    filename: str
    outcome: UploadOutcome
    message: str = ""
    document: Document | None = None


def max_upload_bytes() -> int:
    return int(settings.ARANDU_MAX_FILE_MB * 1024 * 1024)


def upload_filename(filename: str) -> str:
    """A safe file name from what the client sent: no folders, no odd characters."""
    name = PurePath((filename or "").replace("\\", "/")).name
    stem, suffix = PurePath(name).stem, PurePath(name).suffix
    try:
        safe = get_valid_filename(f"{stem[: MAX_NAME_CHARS - len(suffix)]}{suffix}")
    except Exception:  # SuspiciousFileOperation: nothing usable left ("..", "")
        safe = ""
    if not safe or safe.startswith("."):
        raise UploadError("The file needs a name, e.g. handbook.pdf.")
    return safe


def _check(name: str, size: int) -> None:
    suffix = PurePath(name).suffix.lower()
    if suffix in RECORD_EXTENSIONS:
        raise UploadError(
            "JSON/JSONL exports hold many documents (one per record): ingest them with "
            "`manage.py ingest FILE --knowledge-set NAME` or a folder source instead."
        )
    if suffix not in UPLOAD_EXTENSIONS:
        shown = suffix or "without an extension"
        raise UploadError(f"Unsupported file type {shown}: upload {SHOWN_TYPES} files.")
    if size == 0:
        raise UploadError("The file is empty.")
    if size > max_upload_bytes():
        raise UploadError(
            f"The file is {size / 1024 / 1024:.1f} MB; the limit is "
            f"{settings.ARANDU_MAX_FILE_MB:g} MB (ARANDU_MAX_FILE_MB)."
        )


def _read(content: bytes | File) -> bytes:
    """The bytes of an upload, reading at most one byte past the limit."""
    if isinstance(content, bytes):
        return content
    content.seek(0)
    return content.read(max_upload_bytes() + 1)


def document_upload(
    *,
    knowledge_set: KnowledgeSet,
    filename: str,
    content: bytes | File,
    uploaded_by: str = "",
) -> Document:
    """Store one file and queue its ingestion (the REST API's upload); the document is
    `queued` until the task runs. Raises UploadError with the reason it was refused."""
    result = _upload_one(
        knowledge_set=knowledge_set, filename=filename, content=content, uploaded_by=uploaded_by
    )
    if result.document is None:
        raise UploadError(result.message)
    return result.document


def documents_upload(
    *,
    knowledge_set: KnowledgeSet,
    files: Sequence[tuple[str, bytes | File]],
    uploaded_by: str = "",
) -> list[UploadResult]:
    """Store and queue several files: each one is judged alone, so a refused file never
    stops the others."""
    return [
        _upload_one(
            knowledge_set=knowledge_set, filename=name, content=content, uploaded_by=uploaded_by
        )
        for name, content in files
    ]


def text_upload(
    *, knowledge_set: KnowledgeSet, title: str, text: str, uploaded_by: str = ""
) -> UploadResult:
    """Pasted text with a title, kept as a Markdown file named after the title (pasting
    again under the same title replaces it)."""
    title = " ".join(title.split())
    if not title:
        return UploadResult(filename="", outcome="refused", message="The text needs a title.")
    stem = slugify(title)[:MAX_NAME_CHARS] or "pasted-text"
    body = text.replace("\r\n", "\n").strip()
    if not body:
        return UploadResult(filename=f"{stem}.md", outcome="refused", message="The text is empty.")
    if not body.lstrip().startswith("#"):
        body = f"# {title}\n\n{body}"
    return _upload_one(
        knowledge_set=knowledge_set,
        filename=f"{stem}.md",
        content=(body + "\n").encode(),
        uploaded_by=uploaded_by,
    )


def _upload_one(
    *, knowledge_set: KnowledgeSet, filename: str, content: bytes | File, uploaded_by: str
) -> UploadResult:
    try:
        name = upload_filename(filename)
        data = _read(content)
        _check(name, len(data))
        return _store(knowledge_set=knowledge_set, name=name, data=data, uploaded_by=uploaded_by)
    except UploadError as exc:
        shown = PurePath((filename or "").replace("\\", "/")).name or "(no name)"
        logger.info("upload refused", extra={"upload_name": shown, "reason": str(exc)})
        return UploadResult(filename=shown, outcome="refused", message=str(exc))


def _store(
    *, knowledge_set: KnowledgeSet, name: str, data: bytes, uploaded_by: str
) -> UploadResult:
    digest = hashlib.sha256(data).hexdigest()
    stored_name = f"{knowledge_set.slug}/{name}"
    with transaction.atomic():
        # One upload into a set at a time (PostgreSQL row lock): the name check, the file
        # and the row below can never interleave with another admin's upload.
        KnowledgeSet.objects.select_for_update().filter(pk=knowledge_set.pk).first()
        path = str(Path(default_storage.path(stored_name)).resolve())
        twin = (
            Document.objects.filter(knowledge_set=knowledge_set, content_hash=digest)
            .exclude(status=DocumentStatus.FAILED)
            .first()
        )
        if twin is not None and twin.source == path:
            return UploadResult(
                filename=name,
                outcome="unchanged",
                message="Unchanged: the same file is already in this set "
                f"({twin.get_status_display().lower()}).",
                document=twin,
            )
        if twin is not None:
            raise UploadError(
                f"Duplicate: the same content is already in this set as “{twin.title}”."
            )
        if default_storage.exists(stored_name):
            default_storage.delete(stored_name)  # same name, same set: a new version
        saved = default_storage.save(stored_name, ContentFile(data))
        path = str(Path(default_storage.path(saved)).resolve())
        document, created = Document.objects.update_or_create(
            knowledge_set=knowledge_set,
            source=path,
            defaults={
                "status": DocumentStatus.QUEUED,
                "error": "",
                "size_bytes": len(data),
                "content_hash": digest,  # what ingestion will find; never "unchanged" while queued
                "uploaded_by": uploaded_by[:200],
                "ingest_attempts": 0,
                "updated_at": timezone.now(),
            },
            create_defaults={
                "title": PurePath(name).stem.replace("-", " ").replace("_", " ").strip() or name,
                "status": DocumentStatus.QUEUED,
                "size_bytes": len(data),
                "content_hash": digest,
                "uploaded_by": uploaded_by[:200],
                "metadata": {"filename": name},
            },
        )
        if not created and document.metadata.get("filename") != name:
            document.metadata = {**document.metadata, "filename": name}
            document.save(update_fields=["metadata"])
        document_queue_ingest(document_id=document.pk)
    logger.info(
        "document uploaded",
        extra={
            "document_id": document.pk,
            "knowledge_set": knowledge_set.name,
            "bytes": len(data),
            "replaced": not created,
        },
    )
    return UploadResult(filename=name, outcome="queued", document=document)


def documents_delete_with_files(*, documents: Sequence[Document]) -> int:
    """Delete documents with their chunks (store first, as `documents_delete` does), and
    the stored file of those that were uploaded. Waits for a running ingestion of each."""
    deleted = 0
    for document in documents:
        with document_lock(document.pk):
            current = Document.objects.filter(pk=document.pk).first()
            if current is None:
                continue  # deleted a moment ago
            deleted += documents_delete(documents=[current])
            _delete_stored_file(current)
    return deleted


def document_delete(*, document: Document) -> None:
    """Delete the document with its chunks, and its stored file when it was uploaded."""
    documents_delete_with_files(documents=[document])


def _delete_stored_file(document: Document) -> None:
    media_root = Path(settings.MEDIA_ROOT).resolve()
    source = Path(document.source)
    if source.is_relative_to(media_root):
        default_storage.delete(str(source.relative_to(media_root)))
