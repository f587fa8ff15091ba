"""Documents that arrive as uploads (admin upload page, REST API): checked, saved in the
default storage (MEDIA_ROOT), queued for a background ingestion, deleted with their file.

An upload is kept at `<set slug>/<file name>`: uploading a file of the same name into the
same set again replaces that document (its chunks are swapped atomically by ingestion;
unchanged bytes are not queued at all). The same bytes under another name are refused as a
duplicate. Uploads into one set are serialised by a row lock on the set, so two admins
uploading the same file at once end with one document. A JSON/JSONL export is stored the
same way as an `export` row; ingestion makes its records documents (`ingest_exports`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils.text import get_valid_filename, slugify

from ragengine.models import Document, DocumentKind, DocumentStatus, KnowledgeSet
from ragengine.retrieval.parsers import RECORD_EXTENSIONS, SUPPORTED_EXTENSIONS
from ragengine.services.document_ingestion import document_lock, document_queue_ingest
from ragengine.services.knowledge import documents_delete
from ragengine.services.stored_files import stored_delete, upload_source

logger = logging.getLogger(__name__)

MAX_NAME_CHARS = 150
UPLOAD_EXTENSIONS = frozenset(SUPPORTED_EXTENSIONS)
SHOWN_TYPES = "md, txt, html, pdf, docx, json or jsonl"
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


def _size(content: bytes | File) -> int:
    return len(content) if isinstance(content, bytes) else content.size


def _digest(content: bytes | File) -> str:
    """sha256 of an upload, read in chunks: a big upload is never held in memory whole."""
    if isinstance(content, bytes):
        return hashlib.sha256(content).hexdigest()
    digest = hashlib.sha256()
    content.seek(0)
    for piece in content.chunks():
        digest.update(piece)
    content.seek(0)
    return digest.hexdigest()


def document_upload(
    *,
    knowledge_set: KnowledgeSet,
    filename: str,
    content: bytes | File,
    uploaded_by: str = "",
) -> Document:
    """Store one file and queue its ingestion (the REST API's upload); the document is
    `queued` until the task runs. Raises UploadError with the reason it was refused."""
    [result] = documents_upload(
        knowledge_set=knowledge_set, files=[(filename, content)], uploaded_by=uploaded_by
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
    stops the others. One transaction (holding the set's lock) and one queued task per
    ARANDU_INGEST_COMMIT_EVERY files, so hundreds of files return in about a second."""
    results: list[UploadResult | None] = []
    accepted: list[_Accepted] = []
    for name, content in files:
        try:
            safe = upload_filename(name)
            _check(safe, _size(content))
        except UploadError as exc:
            results.append(_refused(name, str(exc)))
            continue
        accepted.append(_Accepted(len(results), safe, content, _size(content), _digest(content)))
        results.append(None)
    if accepted:
        with transaction.atomic():
            # One upload into a set at a time (PostgreSQL row lock): the name checks, the
            # files and the rows below never interleave with another admin's upload.
            KnowledgeSet.objects.select_for_update().filter(pk=knowledge_set.pk).first()
            stored = _Batch(knowledge_set=knowledge_set, uploaded_by=uploaded_by, files=accepted)
            for upload in accepted:
                results[upload.index] = stored.store(upload)
            document_queue_ingest(document_ids=stored.queued)
        logger.info(
            "documents uploaded",
            extra={
                "knowledge_set": knowledge_set.name,
                "queued": len(stored.queued),
                "refused": sum(1 for r in results if r and r.outcome == "refused"),
            },
        )
    return [r for r in results if r is not None]


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
    [result] = documents_upload(
        knowledge_set=knowledge_set,
        files=[(f"{stem}.md", (body + "\n").encode())],
        uploaded_by=uploaded_by,
    )
    return result


def _refused(filename: str, message: str) -> UploadResult:
    shown = PurePath((filename or "").replace("\\", "/")).name or "(no name)"
    logger.info("upload refused", extra={"upload_name": shown, "reason": message})
    return UploadResult(filename=shown, outcome="refused", message=message)


@dataclass(frozen=True, slots=True)
class _Accepted:
    """A file that passed the checks, waiting to be stored."""

    index: int
    name: str
    content: bytes | File
    size: int
    digest: str


class _Batch:
    """The files of one upload, stored inside its transaction: the set's documents with
    the same names or bytes are read once, up front."""

    def __init__(
        self,
        *,
        knowledge_set: KnowledgeSet,
        uploaded_by: str,
        files: list[_Accepted],
    ) -> None:
        self.knowledge_set = knowledge_set
        self.uploaded_by = uploaded_by[:200]
        self.queued: list[int] = []
        paths = [self._path(f.name) for f in files]
        digests = [f.digest for f in files]
        documents = Document.objects.filter(knowledge_set=knowledge_set).filter(
            Q(source__in=paths) | Q(content_hash__in=digests)
        )
        self.by_source = {d.source: d for d in documents}
        self.by_hash = {d.content_hash: d for d in documents if d.status != DocumentStatus.FAILED}

    def _path(self, name: str) -> str:
        return upload_source(name=f"{self.knowledge_set.slug}/{name}")

    def store(self, upload: _Accepted) -> UploadResult:
        name, digest = upload.name, upload.digest
        path = self._path(name)
        twin = self.by_hash.get(digest)
        if twin is not None and twin.source == path:
            return UploadResult(
                filename=name,
                outcome="unchanged",
                message="Unchanged: the same file is already in this set "
                f"({twin.get_status_display().lower()}).",
                document=twin,
            )
        if twin is not None:
            return _refused(
                name, f"Duplicate: the same content is already in this set as “{twin.title}”."
            )
        try:
            with transaction.atomic():  # a savepoint: a failing file leaves no row
                document = self._write(upload, path)
        except OSError as exc:
            logger.exception("upload not stored", extra={"upload_name": name})
            return _refused(name, f"The file could not be stored ({exc.strerror or exc}).")
        self.by_source[path] = self.by_hash[digest] = document
        self.queued.append(document.pk)
        return UploadResult(filename=name, outcome="queued", document=document)

    def _write(self, upload: _Accepted, path: str) -> Document:
        name = upload.name
        stored_name = f"{self.knowledge_set.slug}/{name}"
        if default_storage.exists(stored_name):
            default_storage.delete(stored_name)  # same name, same set: a new version
        content = upload.content
        if isinstance(content, bytes):
            content = ContentFile(content)
        else:
            content.seek(0)
        saved = default_storage.save(stored_name, content)
        if saved != stored_name:  # never a renamed copy: that would be a second document
            default_storage.delete(saved)
            raise OSError(f"{stored_name} is being written by someone else; try again")
        document = self.by_source.get(path) or Document(
            knowledge_set=self.knowledge_set,
            source=path,
            title=PurePath(name).stem.replace("-", " ").replace("_", " ").strip() or name,
        )
        document.status = DocumentStatus.QUEUED
        document.error = ""
        if PurePath(name).suffix.lower() in RECORD_EXTENSIONS:
            document.kind = DocumentKind.EXPORT  # its records become documents
        document.size_bytes = upload.size
        document.content_hash = (
            upload.digest
        )  # what ingestion will find; queued is never "unchanged"
        document.uploaded_by = self.uploaded_by
        document.ingest_attempts = 0
        document.metadata = {**document.metadata, "filename": name}
        document.save()
        return document


def documents_delete_with_files(*, documents: Sequence[Document]) -> int:
    """Delete documents with their chunks (store first, as `documents_delete` does), and
    the stored file of those that were uploaded; an export goes with all its records.
    Waits for a running ingestion of each."""
    deleted = 0
    for document in documents:
        with document_lock(document.pk):
            current = Document.objects.filter(pk=document.pk).first()
            if current is None:
                continue  # deleted a moment ago
            records = list(Document.objects.filter(parent=current))
            deleted += documents_delete(documents=[*records, current])
            stored_delete(source=current.source)
    return deleted


def document_delete(*, document: Document) -> None:
    """Delete the document with its chunks, and its stored file when it was uploaded."""
    documents_delete_with_files(documents=[document])
