"""One ingestion run's per-document work: the unchanged check, parsing, chunking,
embedding, the database write and the queued store records (`ingest.py` runs it over
files, folders and uploads).

A document is "unchanged" only when the bytes hash matches both what the database last saw
(`content_hash`) and what the vector store holds (`indexed_hash`); an interrupted run
leaves those two apart, so the next run redoes just that document. One bad file fails
alone, whatever goes wrong with it: the run records a readable reason and carries on, and
the failed document's writes are rolled back.

Longer than most modules on purpose: the steps of one document (parse, chunk, embed,
save, fail, queue for the store) share the run's embedder, limits and pending store
batch, and reading them in one class shows the order a document goes through.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import Literal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ragengine.models import Chunk, Document, DocumentKind, DocumentStatus, KnowledgeSet
from ragengine.retrieval import registry
from ragengine.retrieval.chunking import ChunkDraft, chunk_sections
from ragengine.retrieval.parsers import (
    DocumentLimits,
    ParsedDocument,
    ParsedRecord,
    ParseError,
    RecordsResult,
)
from ragengine.retrieval.parsers.base import unexpected_error
from ragengine.retrieval.types import Embedder, StoreRecord, text_hash
from ragengine.services.chunk_records import HEADING_SEPARATOR, chunk_record, embedding_text
from ragengine.services.embedding import cached_sentences, texts_embed_cached, vector_to_bytes
from ragengine.services.ingest_exports import ExportProgress, export_row
from ragengine.services.ingest_files import FoundFile, read_found, size_on_disk
from ragengine.services.knowledge import (
    KnowledgeSetError,
    documents_delete,
    knowledge_set_bump_version,
)

logger = logging.getLogger(__name__)

RECORD_EXTENSIONS = frozenset({".json", ".jsonl", ".ndjson"})
# What an upload recorded about a document that re-ingesting its file keeps.
KEPT_METADATA = ("filename",)
OutcomeStatus = Literal["ingested", "unchanged", "failed", "removed"]


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    source: str
    status: OutcomeStatus
    title: str = ""
    chunks: int = 0
    error: str = ""
    document_id: int | None = None


@dataclass(slots=True)
class IngestReport:
    outcomes: list[IngestOutcome] = field(default_factory=list)

    def count(self, status: OutcomeStatus) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failures(self) -> list[IngestOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


ProgressCallback = Callable[[IngestOutcome, int, int], None]


@dataclass(slots=True)
class _Pending:
    """Documents written to the database whose chunks still wait for the store commit."""

    document_ids: list[int] = field(default_factory=list)
    hashes: dict[int, str] = field(default_factory=dict)
    records: list[StoreRecord] = field(default_factory=list)
    # Each record's document title and heading path (what its vector is embedded with).
    context: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)


def _max_bytes() -> int:
    return int(settings.ARANDU_MAX_FILE_MB * 1024 * 1024)


class Ingestor:
    """One ingestion run into one knowledge set."""

    def __init__(
        self, *, knowledge_set: KnowledgeSet, embedder: Embedder, known_under: Sequence[str] = ()
    ) -> None:
        self.knowledge_set = knowledge_set
        self.embedder = embedder
        self.space = knowledge_set.vector_space
        self.vector_text = knowledge_set.vector_text
        self.store = registry.get_vector_store(space=self.space)
        self.pending = _Pending()
        self.commit_every = settings.ARANDU_INGEST_COMMIT_EVERY
        self.limits = DocumentLimits(
            max_paragraphs=settings.ARANDU_MAX_DOC_PARAGRAPHS,
            max_chars=settings.ARANDU_MAX_DOC_CHARS,
            max_records=settings.ARANDU_MAX_RECORDS_PER_FILE,
        )
        self.timeout_s = settings.ARANDU_PARSE_TIMEOUT_S
        self.parser = registry.get_parse_worker()
        # Ready documents under the paths being ingested, read in one query on first use.
        self.known_under = list(known_under)
        self._ready: dict[str, tuple[int, str, int, str, str]] | None = None
        self.export_progress: ExportProgress | None = None  # while an export's records go

    def _unchanged(self, *, source: str, content_hash: str) -> IngestOutcome | None:
        """`source`'s outcome when its ready, indexed version hashes to `content_hash`:
        re-reading an unchanged folder costs one query, not one per file. Anything else is
        decided on the document's current row (`ingest_document`)."""
        if self._ready is None:
            under = Q(pk__in=[])
            for prefix in self.known_under:
                under |= Q(source__startswith=prefix)
            rows = Document.objects.filter(
                under, knowledge_set=self.knowledge_set, status=DocumentStatus.READY
            ).order_by()
            self._ready = {
                row[0]: row[1:]
                for row in rows.values_list(
                    "source", "pk", "title", "chunk_count", "content_hash", "indexed_hash"
                )
            }
        pk, title, chunks, seen_hash, indexed_hash = self._ready.get(source, (0, "", 0, "", ""))
        if pk and seen_hash == content_hash == indexed_hash:
            return IngestOutcome(
                source=source, status="unchanged", title=title, chunks=chunks, document_id=pk
            )
        return None

    # --- per logical document -------------------------------------------------------
    def _document(self, *, source: str, title: str) -> Document:
        """The set's document for `source`, or a new unsaved one."""
        found = Document.objects.filter(knowledge_set=self.knowledge_set, source=source).first()
        document = found or Document(knowledge_set=self.knowledge_set, source=source, title=title)
        progress = self.export_progress
        if progress is not None and progress.export is not None:
            document.kind, document.parent = DocumentKind.RECORD, progress.export
            document.uploaded_by = progress.export.uploaded_by
        elif found is None and "#" in source:
            document.kind = DocumentKind.RECORD
        elif found is None and PurePath(source).suffix.lower() in RECORD_EXTENSIONS:
            document.kind = DocumentKind.EXPORT  # a whole export that failed
        return document

    def ingest_document(
        self,
        *,
        source: str,
        content_hash: str,
        size_bytes: int,
        parse: Callable[[], ParsedDocument],
        title_hint: str,
        metadata: dict | None = None,
    ) -> IngestOutcome:
        """Parse, chunk, embed and save one logical document; any failure before its
        database commit fails it alone, with that commit rolled back."""
        try:
            if (known := self._unchanged(source=source, content_hash=content_hash)) is not None:
                return known
            document = self._document(source=source, title=title_hint)
            if (
                document.pk
                and document.status == DocumentStatus.READY
                and document.content_hash == content_hash
                and document.indexed_hash == content_hash
            ):
                return IngestOutcome(
                    source=source,
                    status="unchanged",
                    title=document.title,
                    chunks=document.chunk_count,
                    document_id=document.pk,
                )
            _mark(document, DocumentStatus.PARSING)
            parsed = parse()
            drafts = chunk_sections(
                parsed.sections,
                count_tokens=self.embedder.count_tokens,
                max_tokens=settings.ARANDU_CHUNK_TOKENS,
                overlap_tokens=settings.ARANDU_CHUNK_OVERLAP,
            )
            if not drafts:
                raise ParseError("No text could be extracted from this file.")
            _mark(document, DocumentStatus.EMBEDDING)
            title = (parsed.title or title_hint)[:500]
            texts = [d.text for d in drafts]
            embedded = [
                embedding_text(
                    text=d.text,
                    title=title,
                    heading_path=d.heading_path,
                    vector_text=self.vector_text,
                )
                for d in drafts
            ]
            vectors = texts_embed_cached(embedder=self.embedder, texts=embedded)
            sentences = cached_sentences(embedder=self.embedder, texts=embedded, plain_texts=texts)
            self._save(
                document,
                parsed=parsed,
                drafts=drafts,
                vectors=vectors,
                title=title,
                content_hash=content_hash,
                size_bytes=size_bytes,
                metadata=metadata,
            )
        except Exception as exc:  # one bad document must never stop the run
            return self._fail_safely(
                source=source, title=title_hint, error=exc, size_bytes=size_bytes
            )
        # Outside the guard: a failing store commit is not this document's fault.
        self._queue(document, drafts, vectors, sentences)
        return IngestOutcome(
            source=source,
            status="ingested",
            title=document.title,
            chunks=len(drafts),
            document_id=document.pk,
        )

    def _save(
        self,
        document: Document,
        *,
        parsed: ParsedDocument,
        drafts: list[ChunkDraft],
        vectors,
        title: str,
        content_hash: str,
        size_bytes: int,
        metadata: dict | None,
    ) -> None:
        """The document and its chunks in one transaction: all of it, or none of it."""
        with transaction.atomic():
            # Tells a re-embed running meanwhile that the set changed under it.
            knowledge_set_bump_version(knowledge_set_id=self.knowledge_set.pk)
            document.title = title
            document.mime_type = parsed.mime_type
            document.size_bytes = size_bytes
            document.content_hash = content_hash
            document.status = DocumentStatus.READY
            document.error = ""
            document.chunk_count = len(drafts)
            kept = {k: document.metadata[k] for k in KEPT_METADATA if k in document.metadata}
            document.metadata = {**kept, **(metadata or document.metadata or {})}
            document.ingested_at = timezone.now()
            document.save()
            Chunk.objects.filter(document=document).delete()
            Chunk.objects.bulk_create(
                [
                    Chunk(
                        document=document,
                        ordinal=d.ordinal,
                        text=d.text,
                        token_count=d.token_count,
                        heading_path=HEADING_SEPARATOR.join(d.heading_path)[:1000],
                        page=d.page,
                        content_hash=text_hash(d.text),
                        embedding=vector_to_bytes(v),
                    )
                    for d, v in zip(drafts, vectors, strict=True)
                ],
                batch_size=500,
            )

    def _fail_safely(
        self, *, source: str, title: str, error: Exception, size_bytes: int
    ) -> IngestOutcome:
        """Record `error` on the document at `source` (read again: a failed transaction
        leaves the object in memory unlike the row). If even that write fails, the outcome
        still carries the reason."""
        if isinstance(error, ParseError):
            message = error.message
        else:
            logger.exception("ingest failed", extra={"source": source})
            message = unexpected_error(error).message
        try:
            document = self._document(source=source, title=title)
            return self._fail(document, source=source, error=message, size_bytes=size_bytes)
        except Exception:
            logger.exception("could not record a failed document", extra={"source": source})
            return IngestOutcome(source=source, status="failed", title=title, error=message)

    def _fail(
        self, document: Document, *, source: str, error: str, size_bytes: int
    ) -> IngestOutcome:
        """Record a readable error on the document; a previous good version keeps serving."""
        if document.pk and document.indexed_hash:
            kept = (
                "records ingested before are"
                if document.kind == "export"
                else ("previously ingested version is")
            )
            error = f"{error} The {kept} still being used."
        document.status = DocumentStatus.FAILED
        document.error = error
        document.size_bytes = size_bytes
        if not document.title:
            document.title = Path(source).name[:500]
        document.save()
        logger.warning("document failed", extra={"source": source, "error": error})
        return IngestOutcome(
            source=source,
            status="failed",
            title=document.title,
            error=error,
            document_id=document.pk,
        )

    def _queue(self, document: Document, drafts: list[ChunkDraft], vectors, sentences) -> None:
        self.pending.document_ids.append(document.pk)
        self.pending.hashes[document.pk] = document.content_hash
        for draft, vector, units in zip(drafts, vectors, sentences, strict=True):
            self.pending.records.append(
                chunk_record(
                    document=document,
                    ordinal=draft.ordinal,
                    text=draft.text,
                    heading_path=draft.heading_path,
                    page=draft.page,
                    vector=vector,
                    sentences=units,
                )
            )
            self.pending.context.append((document.title, tuple(draft.heading_path)))
        if len(self.pending.document_ids) >= self.commit_every:
            self.flush()

    def flush(self) -> None:
        """Commit queued documents to the store in one atomic write, then mark them."""
        pending, self.pending = self.pending, _Pending()
        if not pending.document_ids:
            return
        self._follow_reembed(pending)
        self.store.replace_documents(
            document_ids=[str(pk) for pk in pending.document_ids], records=pending.records
        )
        with transaction.atomic():
            for pk, content_hash in pending.hashes.items():
                Document.objects.filter(pk=pk).update(indexed_hash=content_hash)
            knowledge_set_bump_version(knowledge_set_id=self.knowledge_set.pk)
        logger.info(
            "store commit",
            extra={"documents": len(pending.document_ids), "chunks": len(pending.records)},
        )

    def _follow_reembed(self, pending: _Pending) -> None:
        """A re-embed switched the set to another embedder (or to vectors of another
        text) while this run embedded the old way: embed the pending chunks again as the
        set's vectors are now (the database's copy too) and write them to its space, so
        no space ever holds vectors of two models, nor a set vectors of two kinds."""
        embedder_name, space, vector_text = KnowledgeSet.objects.values_list(
            "embedder", "vector_space", "vector_text"
        ).get(pk=self.knowledge_set.pk)
        if (embedder_name, space, vector_text) == (
            self.embedder.name,
            self.space,
            self.vector_text,
        ):
            return
        embedder = registry.embedder_named(embedder_name)
        if embedder is None:
            raise KnowledgeSetError(f"The set's embedder {embedder_name!r} is not available.")
        texts = [
            embedding_text(
                text=record.text, title=title, heading_path=headings, vector_text=vector_text
            )
            for record, (title, headings) in zip(pending.records, pending.context, strict=True)
        ]
        vectors = texts_embed_cached(embedder=embedder, texts=texts)
        same_model = embedder.name == self.embedder.name  # else the sentences are the old's
        pending.records = [
            replace(record, vector=vector, sentences=record.sentences if same_model else None)
            for record, vector in zip(pending.records, vectors, strict=True)
        ]
        with transaction.atomic():
            for record in pending.records:
                Chunk.objects.filter(
                    document_id=int(record.document_id), ordinal=record.ordinal
                ).update(embedding=vector_to_bytes(record.vector))
        self.embedder, self.space, self.vector_text = embedder, space, vector_text
        self.store = registry.get_vector_store(space=space)
        logger.info(
            "ingest followed a re-embed",
            extra={
                "knowledge_set": self.knowledge_set.name,
                "embedder": embedder_name,
                "vector_text": vector_text,
            },
        )

    # --- per file ---------------------------------------------------------------------
    def ingest_file(self, found: FoundFile) -> list[IngestOutcome]:
        """The outcomes of one file on disk (several for a JSON/JSONL export)."""
        path = found.path
        return self.ingest_data(
            source=str(path),
            filename=path.name,
            read=lambda: read_found(found, max_bytes=_max_bytes()),
            size_on_failure=lambda: size_on_disk(path),
        )

    def ingest_data(
        self,
        *,
        source: str,
        filename: str,
        read: Callable[[], bytes],
        size_on_failure: Callable[[], int] = lambda: 0,
    ) -> list[IngestOutcome]:
        """The outcomes of one file whose documents are named after `source`, read by
        `read` (from disk, or from the storage that keeps uploads); never raises for
        anything the file itself causes."""
        name = PurePath(filename)
        is_records = name.suffix.lower() in RECORD_EXTENSIONS
        title_hint = name.stem.replace("-", " ").replace("_", " ").strip() or filename
        export = export_row(knowledge_set=self.knowledge_set, source=source) if is_records else None
        data = b""
        try:
            data = read()
            if is_records:
                result = self.parser.parse_records(
                    data, filename=filename, limits=self.limits, timeout_s=self.timeout_s
                )
        except Exception as exc:
            return [
                self._fail_safely(
                    source=source,
                    title=filename if is_records else title_hint,
                    error=exc,
                    size_bytes=len(data) or size_on_failure(),
                )
            ]
        if is_records:
            try:
                outcomes = self._ingest_records(filename, source, result, export=export)
                progress = self.export_progress
            finally:
                self.export_progress = None
            if progress is not None:
                progress.finish(content_hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data))
            return outcomes
        digest = hashlib.sha256(data).hexdigest()
        return [
            self.ingest_document(
                source=source,
                content_hash=digest,
                size_bytes=len(data),
                parse=lambda: self.parser.parse_bytes(
                    data,
                    filename=filename,
                    max_bytes=_max_bytes(),
                    limits=self.limits,
                    timeout_s=self.timeout_s,
                ),
                title_hint=title_hint,
                metadata={"mime_type": mimetypes.guess_type(filename)[0] or ""},
            )
        ]

    def _ingest_records(
        self, filename: str, source: str, result: RecordsResult, *, export: Document | None
    ) -> list[IngestOutcome]:
        """JSON/JSONL exports: each record is its own document, `file#id` its source (with
        the export's row as its parent, when the export has one)."""
        outcomes: list[IngestOutcome] = []
        seen: set[str] = set()
        self.export_progress = ExportProgress(
            export, total=len(result.records), skipped=result.failures
        )
        for done, record in enumerate(result.records, start=1):
            record_source = f"{source}#{record.record_id}"
            seen.add(record_source)
            outcomes.append(self._ingest_record(record, source=record_source))
            self.export_progress.record_done(done)
        for locator, message in result.failures:
            outcomes.append(
                IngestOutcome(
                    source=f"{source}#{locator}", status="failed", title=filename, error=message
                )
            )
        # Records that disappeared from the export are removed with their chunks.
        gone = Document.objects.filter(
            knowledge_set=self.knowledge_set, source__startswith=f"{source}#"
        ).exclude(source__in=seen)
        for document in gone:
            outcomes.append(remove_document(document))
        return outcomes

    def _ingest_record(self, record: ParsedRecord, *, source: str) -> IngestOutcome:
        try:
            canonical = json.dumps(
                {
                    "text": [s.text for s in record.document.sections],
                    "meta": record.metadata,
                    "title": record.title,
                    "source": record.source,
                },
                sort_keys=True,
                ensure_ascii=False,
            ).encode()
            metadata = {"record_source": record.source, **record.metadata}
        except Exception as exc:
            return self._fail_safely(source=source, title=record.title, error=exc, size_bytes=0)
        return self.ingest_document(
            source=source,
            content_hash=hashlib.sha256(canonical).hexdigest(),
            size_bytes=len(canonical),
            parse=lambda: record.document,
            title_hint=record.title,
            metadata=metadata,
        )


def _mark(document: Document, status: DocumentStatus) -> None:
    """Show a known document's progress at once (outside any transaction, so the admin's
    status poll sees it); a new one appears when it is saved, ready or failed."""
    if document.pk:
        Document.objects.filter(pk=document.pk).update(status=status, updated_at=timezone.now())


def remove_document(document: Document) -> IngestOutcome:
    documents_delete(documents=[document])
    return IngestOutcome(source=document.source, status="removed", title=document.title)
