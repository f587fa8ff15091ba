"""Documents that arrive as uploads (REST API): saved under MEDIA_ROOT, ingested by a
background task, deleted with their stored file.

An upload is kept at `<MEDIA_ROOT>/<set slug>/<file name>`: uploading a file of the same
name into the same set again replaces that document (unchanged bytes are not re-embedded).
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePath

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.text import get_valid_filename
from django_q.tasks import async_task

from ragengine import metrics
from ragengine.models import Document, DocumentStatus, KnowledgeSet
from ragengine.services.ingest import RECORD_EXTENSIONS, documents_ingest_paths
from ragengine.services.knowledge import KnowledgeSetError, documents_delete

logger = logging.getLogger(__name__)

MAX_NAME_CHARS = 150


class UploadError(ValueError):
    """A readable reason an upload was refused (nothing was stored)."""


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


def document_upload(
    *,
    knowledge_set: KnowledgeSet,
    filename: str,
    content: bytes | File,
    uploaded_by: str = "",
) -> Document:
    """Store the file and queue its ingestion; the document is `pending` until the task
    runs (at once when django-q2 runs in sync mode)."""
    name = upload_filename(filename)
    if PurePath(name).suffix.lower() in RECORD_EXTENSIONS:
        raise UploadError(
            "JSON/JSONL exports hold many documents: ingest them with "
            "`manage.py ingest FILE --knowledge-set NAME` instead of uploading."
        )
    size = len(content) if isinstance(content, bytes) else content.size
    max_bytes = int(settings.ARANDU_MAX_FILE_MB * 1024 * 1024)
    if size > max_bytes:
        raise UploadError(
            f"The file is {size / 1024 / 1024:.1f} MB; the limit is "
            f"{settings.ARANDU_MAX_FILE_MB:g} MB (ARANDU_MAX_FILE_MB)."
        )
    if size == 0:
        raise UploadError("The file is empty.")
    stored_name = f"{knowledge_set.slug}/{name}"
    if default_storage.exists(stored_name):
        default_storage.delete(stored_name)  # same name, same set: a new version
    stored_name = default_storage.save(
        stored_name, ContentFile(content) if isinstance(content, bytes) else content
    )
    path = Path(default_storage.path(stored_name)).resolve()
    document, _ = Document.objects.update_or_create(
        knowledge_set=knowledge_set,
        source=str(path),
        defaults={
            "title": (PurePath(name).stem.replace("-", " ").replace("_", " ").strip() or name),
            "status": DocumentStatus.PENDING,
            "error": "",
            "size_bytes": size,
        },
    )
    document.metadata = {**document.metadata, "filename": name, "uploaded_by": uploaded_by}
    document.save(update_fields=["metadata", "updated_at"])
    logger.info(
        "document uploaded",
        extra={"document_id": document.pk, "knowledge_set": knowledge_set.name, "bytes": size},
    )
    transaction.on_commit(
        lambda: async_task("ragengine.tasks.document_ingest_task", document.pk, group="ingest")
    )
    return document


def document_ingest(*, document_id: int) -> str:
    """Ingest one uploaded document's stored file; returns its status afterwards."""
    document = Document.objects.select_related("knowledge_set").filter(pk=document_id).first()
    if document is None:
        return "missing"  # deleted before the task ran
    upload = {
        k: document.metadata[k] for k in ("filename", "uploaded_by") if k in document.metadata
    }
    Document.objects.filter(pk=document.pk).update(status=DocumentStatus.PROCESSING)
    try:
        documents_ingest_paths(paths=[Path(document.source)], knowledge_set=document.knowledge_set)
    except FileNotFoundError:
        _failed(document, "The uploaded file is gone; upload it again.")
    except KnowledgeSetError as exc:
        _failed(document, str(exc))
    except Exception as exc:  # the row must never stay "processing"
        logger.exception("upload ingestion failed", extra={"document_id": document.pk})
        _failed(document, f"Ingestion failed unexpectedly ({type(exc).__name__}); try again.")
    document.refresh_from_db()
    if upload:  # ingestion rewrites metadata: keep who uploaded what
        document.metadata = {**document.metadata, **upload}
        document.save(update_fields=["metadata"])
    return document.status


def _failed(document: Document, message: str) -> None:
    Document.objects.filter(pk=document.pk).update(status=DocumentStatus.FAILED, error=message)
    metrics.record_ingested({"failed": 1})
    logger.warning("upload not ingested", extra={"document_id": document.pk, "error": message})


def document_delete(*, document: Document) -> None:
    """Delete the document with its chunks, and its stored file when it was uploaded."""
    documents_delete(documents=[document])
    media_root = Path(settings.MEDIA_ROOT).resolve()
    source = Path(document.source)
    if source.is_relative_to(media_root):
        default_storage.delete(str(source.relative_to(media_root)))
