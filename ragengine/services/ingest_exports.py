"""The row of an uploaded JSON/JSONL export while its records are ingested.

An export (kind `export`) has no chunks: its records are the documents that answer. Its
own status is the reading of the file: queued → parsing (the file is read and split into
records) → embedding (its records are ingested; `metadata` counts them as they go, so the
admin and the API show progress in records) → ready with the counts, or failed with the
reason the whole file was refused (the same reasons `manage.py ingest` prints).

Records that could not be used (a line that is not valid JSON, a record without text) are
skipped and listed on the export; the valid records still ingest. The CLI makes an
export row only where one exists already (an upload, or a file that failed before), so
folder ingestion keeps one document per record.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from django.db.models import Q
from django.utils import timezone

from ragengine.models import Document, DocumentKind, DocumentStatus, KnowledgeSet

MAX_SKIPPED_SHOWN = 20
PROGRESS_EVERY_S = 0.5


def export_row(*, knowledge_set: KnowledgeSet, source: str) -> Document | None:
    """The export's own row, marked parsing; None for a file the CLI reads on its own."""
    export = Document.objects.filter(knowledge_set=knowledge_set, source=source).first()
    if export is None:
        return None
    Document.objects.filter(pk=export.pk).update(
        kind=DocumentKind.EXPORT, status=DocumentStatus.PARSING, updated_at=timezone.now()
    )
    export.kind = DocumentKind.EXPORT
    return export


class ExportProgress:
    """Counts an export's records as they are ingested, on its row, at most twice a
    second (a record is far cheaper to count than to embed)."""

    def __init__(
        self, export: Document | None, *, total: int, skipped: Sequence[tuple[str, str]]
    ) -> None:
        self.export = export
        self.total = total
        self.skipped = list(skipped)
        self._written_at = 0.0
        if export is not None:
            metadata = {
                **export.metadata,
                "records": total,
                "records_done": 0,
                "skipped": len(self.skipped),
                "skipped_reasons": [message for _, message in self.skipped[:MAX_SKIPPED_SHOWN]],
            }
            export.metadata = metadata
            Document.objects.filter(pk=export.pk).update(
                status=DocumentStatus.EMBEDDING, metadata=metadata, updated_at=timezone.now()
            )

    def record_done(self, done: int) -> None:
        if self.export is None or time.monotonic() - self._written_at < PROGRESS_EVERY_S:
            return
        self._written_at = time.monotonic()
        self.export.metadata = {**self.export.metadata, "records_done": done}
        Document.objects.filter(pk=self.export.pk).update(
            metadata=self.export.metadata, updated_at=timezone.now()
        )

    def finish(self, *, content_hash: str, size_bytes: int) -> None:
        """Ready, with the counts; records of this file adopt the export as their parent."""
        export = self.export
        if export is None:
            return
        Document.objects.filter(knowledge_set_id=export.knowledge_set_id).filter(
            Q(source__startswith=f"{export.source}#")
        ).exclude(parent=export, uploaded_by=export.uploaded_by).update(
            parent=export, kind=DocumentKind.RECORD, uploaded_by=export.uploaded_by
        )
        metadata = {**export.metadata, "records_done": self.total}
        Document.objects.filter(pk=export.pk).update(
            status=DocumentStatus.READY,
            error="",
            metadata=metadata,
            content_hash=content_hash,
            indexed_hash=content_hash,
            size_bytes=size_bytes,
            chunk_count=0,
            mime_type=export.mime_type or "application/json",
            ingested_at=timezone.now(),
            updated_at=timezone.now(),
        )
