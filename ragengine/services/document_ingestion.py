"""Background ingestion of known documents (uploads, re-ingests, moves): the django-q2
tasks' bodies, and the sweep that picks up ingestions whose worker died.

Every ingestion goes through `documents_ingest_paths` (parsing in the isolated parse
worker, chunks replaced atomically), one document at a time: a PostgreSQL advisory lock
per document makes a second task for the same document wait and then find the work done
(ingestion reports it "unchanged"), so duplicate tasks never write twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path, PurePath

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_q.tasks import async_task

from ragengine.models import Document, DocumentStatus, KnowledgeSet
from ragengine.retrieval import registry
from ragengine.services.ingest import StoredFile, documents_ingest_paths, documents_ingest_stored
from ragengine.services.knowledge import KnowledgeSetError, knowledge_set_bump_version
from ragengine.services.stored_files import GONE, stored_exists, stored_name, stored_read

logger = logging.getLogger(__name__)

INGEST_TASK = "ragengine.tasks.documents_ingest_task"
_LOCK_NAMESPACE = 0x41524144  # "ARAD": keeps these advisory locks apart from others


@contextmanager
def document_lock(document_id: int) -> Iterator[None]:
    """Hold one document for one ingestion or delete at a time, across processes.

    PostgreSQL: a session advisory lock (waits for the holder). SQLite has one writer at a
    time already and no such lock; concurrent ingestion of one document is only
    guaranteed on PostgreSQL.
    """
    if connection.vendor != "postgresql":
        yield
        return
    key = [_LOCK_NAMESPACE, document_id % 2**31]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", key)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


def document_queue_ingest(*, document_ids: Sequence[int]) -> None:
    """Queue the ingestion of these documents once the current transaction commits: one
    task per ARANDU_INGEST_COMMIT_EVERY documents, so a big upload is ingested with as
    few vector-store commits as the CLI makes (and several workers can share it)."""
    ids = list(document_ids)
    size = settings.ARANDU_INGEST_COMMIT_EVERY
    for start in range(0, len(ids), size):
        batch = ids[start : start + size]
        transaction.on_commit(lambda batch=batch: async_task(INGEST_TASK, batch, group="ingest"))


def documents_reingest(*, documents: Sequence[Document]) -> int:
    """Queue documents to be parsed and embedded again (even when unchanged: a queued
    document is never reported unchanged). Returns how many were queued."""
    ids = [d.pk for d in documents]
    with transaction.atomic():
        count = Document.objects.filter(pk__in=ids).update(
            status=DocumentStatus.QUEUED, error="", ingest_attempts=0, updated_at=timezone.now()
        )
        document_queue_ingest(document_ids=ids)
    logger.info("documents queued for ingestion", extra={"documents": count})
    return count


def document_ingest(*, document_id: int) -> str:
    """Ingest one document from its file; its status afterwards (see `documents_ingest`),
    or "missing" when it was deleted before the task ran."""
    return documents_ingest(document_ids=[document_id]).get(document_id, "missing")


def documents_ingest(*, document_ids: Sequence[int]) -> dict[int, str]:
    """Ingest documents from their files, those of one knowledge set in one run of
    `documents_ingest_paths`; each ends ready or failed. Returns their statuses (deleted
    ones are left out)."""
    ids = sorted({int(pk) for pk in document_ids})
    with ExitStack() as held:
        for pk in ids:  # in order: two batches sharing documents never deadlock
            held.enter_context(document_lock(pk))
        documents = list(Document.objects.select_related("knowledge_set").filter(pk__in=ids))
        Document.objects.filter(pk__in=ids).update(
            ingest_attempts=F("ingest_attempts") + 1, updated_at=timezone.now()
        )
        by_set: dict[int, list[Document]] = {}
        for document in documents:
            by_set.setdefault(document.knowledge_set_id, []).append(document)
        reasons: dict[int, str] = {}
        for group in by_set.values():
            reasons.update(_ingest_group(group))
        return _settle(documents, reasons)


def _ingest_group(documents: list[Document]) -> dict[int, str]:
    """One ingestion run for documents of one set; the reason each one might still lack
    (the run's failure, when it stopped before reaching them). Uploads are read through
    the storage, files ingested from a folder from their path."""
    paths: set[Path] = set()
    stored: dict[str, StoredFile] = {}
    max_bytes = int(settings.ARANDU_MAX_FILE_MB * 1024 * 1024)
    for document in documents:
        file_source = document.source.split("#", 1)[0]
        name = stored_name(source=file_source)
        if name is not None and stored_exists(name=name):
            stored[file_source] = StoredFile(
                source=file_source,
                filename=PurePath(name).name,
                read=lambda name=name: stored_read(name=name, max_bytes=max_bytes),
            )
        elif name is None and Path(file_source).exists():
            paths.add(Path(file_source))
        else:
            _failed(document, GONE)
    reason = "Ingestion ended without a result for this document; try again."
    knowledge_set = documents[0].knowledge_set
    try:
        if stored:
            documents_ingest_stored(files=list(stored.values()), knowledge_set=knowledge_set)
        if paths:
            documents_ingest_paths(paths=sorted(paths), knowledge_set=knowledge_set)
    except FileNotFoundError:
        reason = GONE
    except KnowledgeSetError as exc:
        reason = str(exc)
    except Exception as exc:  # no row may stay in progress
        logger.exception(
            "document ingestion failed", extra={"documents": [d.pk for d in documents]}
        )
        reason = f"Ingestion failed unexpectedly ({type(exc).__name__}); try again."
    return {document.pk: reason for document in documents}


def _settle(documents: list[Document], reasons: dict[int, str]) -> dict[int, str]:
    """Fail what is still in progress with its reason; keep uploaded files' names."""
    statuses: dict[int, str] = {}
    current = {d.pk: d for d in Document.objects.filter(pk__in=[d.pk for d in documents])}
    for before in documents:
        document = current.get(before.pk)
        if document is None:
            continue  # a JSON record that left its file, or deleted meanwhile
        if document.status in DocumentStatus.in_progress():
            _failed(document, reasons[document.pk])
            document.status = DocumentStatus.FAILED
        filename = before.metadata.get("filename")
        if filename and document.metadata.get("filename") != filename:
            # ingestion rewrites metadata: keep the uploaded file's name
            document.metadata = {**document.metadata, "filename": filename}
            document.save(update_fields=["metadata"])
        statuses[document.pk] = document.status
    return statuses


def _failed(document: Document, message: str) -> None:
    Document.objects.filter(pk=document.pk).update(
        status=DocumentStatus.FAILED, error=message, updated_at=timezone.now()
    )
    logger.warning("document not ingested", extra={"document_id": document.pk, "error": message})


def document_move(*, document_id: int, knowledge_set_id: int) -> str:
    """Move a document (an export with all its records) to another knowledge set: its
    chunks leave the store at once, then it is ingested again into the new set. Returns
    its status afterwards."""
    with document_lock(document_id):
        document = Document.objects.filter(pk=document_id).first()
        target = KnowledgeSet.objects.filter(pk=knowledge_set_id).first()
        if document is None:
            return "missing"
        if target is None:
            _failed(document, "The knowledge set it was being moved to no longer exists.")
            return DocumentStatus.FAILED
        if document.knowledge_set_id == target.pk:
            return document.status
        taken = Q(source=document.source) | Q(source__startswith=f"{document.source}#")
        if Document.objects.filter(taken, knowledge_set=target).exists():
            _failed(document, f"Not moved: “{target.name}” already has a document from this file.")
            return DocumentStatus.FAILED
        moving = [
            document.pk,
            *Document.objects.filter(parent=document).values_list("pk", flat=True),
        ]
        registry.get_vector_store(space=document.knowledge_set.vector_space).delete_documents(
            document_ids=[str(pk) for pk in moving]
        )
        with transaction.atomic():
            old_set = document.knowledge_set_id
            Document.objects.filter(pk__in=moving).update(
                knowledge_set=target,
                status=DocumentStatus.QUEUED,
                indexed_hash="",
                updated_at=timezone.now(),
            )
            knowledge_set_bump_version(knowledge_set_id=old_set)
    logger.info(
        "document moved",
        extra={"document_id": document_id, "knowledge_set": target.name, "documents": len(moving)},
    )
    status = document_ingest(document_id=document_id)
    # Records the file no longer holds were removed; any left queued ended with the export.
    Document.objects.filter(parent_id=document_id, status=DocumentStatus.QUEUED).update(
        status=status, error="" if status == DocumentStatus.READY else _error_of(document_id)
    )
    return status


def _error_of(document_id: int) -> str:
    return Document.objects.filter(pk=document_id).values_list("error", flat=True).first() or ""


def documents_move(*, documents: Sequence[Document], knowledge_set: KnowledgeSet) -> int:
    """Queue moves to `knowledge_set`; returns how many were queued. A record of an
    uploaded export moves with its export (alone, the next reading of the file would
    bring it back)."""
    count = 0
    movers = {d.parent_id or d.pk: d.knowledge_set_id for d in documents}
    with transaction.atomic():
        for pk, set_id in movers.items():
            if set_id == knowledge_set.pk:
                continue
            Document.objects.filter(pk=pk).update(
                status=DocumentStatus.QUEUED, error="", ingest_attempts=0, updated_at=timezone.now()
            )
            transaction.on_commit(
                lambda pk=pk: async_task(
                    "ragengine.tasks.document_move_task", pk, knowledge_set.pk, group="ingest"
                )
            )
            count += 1
    return count


def documents_sweep_stale(*, now: datetime | None = None) -> int:
    """Pick up ingestions whose worker died: a document queued, parsing or embedding with
    no progress for ARANDU_INGEST_STALE_MINUTES is queued again, or failed with the reason
    once it has been tried ARANDU_INGEST_MAX_ATTEMPTS times. A document still queued that
    long was never started: re-queueing it counts as an attempt, so with no worker at all
    it ends failed (saying so) instead of piling up tasks. Returns how many it touched."""
    now = now or timezone.now()
    minutes = settings.ARANDU_INGEST_STALE_MINUTES
    stale = Document.objects.filter(
        status__in=DocumentStatus.in_progress(), updated_at__lt=now - timedelta(minutes=minutes)
    )
    swept = 0
    requeued: list[int] = []
    never_started: list[int] = []
    for document in stale:
        if document.status == DocumentStatus.QUEUED and (
            document.ingest_attempts >= settings.ARANDU_INGEST_MAX_ATTEMPTS
        ):
            _failed(
                document,
                f"No worker took it in {document.ingest_attempts * minutes} minutes: is the "
                "worker running (manage.py serve or qcluster)? Retry it once it is.",
            )
        elif document.ingest_attempts >= settings.ARANDU_INGEST_MAX_ATTEMPTS:
            _failed(
                document,
                f"Ingestion was interrupted {document.ingest_attempts} times (the worker "
                f"stopped, or the file takes longer than {minutes} minutes); retry it, or "
                "check the file.",
            )
        else:
            requeued.append(document.pk)
            if document.status == DocumentStatus.QUEUED:
                never_started.append(document.pk)
        swept += 1
    with transaction.atomic():
        Document.objects.filter(pk__in=requeued).update(
            status=DocumentStatus.QUEUED, updated_at=now
        )
        Document.objects.filter(pk__in=never_started).update(
            ingest_attempts=F("ingest_attempts") + 1
        )
        document_queue_ingest(document_ids=requeued)
    if swept:
        logger.warning("stale ingestions swept", extra={"documents": swept})
    return swept
