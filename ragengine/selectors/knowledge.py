"""Reads about knowledge sets and their documents for the admin: a set's ingestion
summary, and documents' statuses for the change list's live refresh."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, Sum

from ragengine.models import (
    ChannelBinding,
    Document,
    DocumentKind,
    DocumentStatus,
    KnowledgeSet,
    ReembedStatus,
    VectorText,
)

MAX_POLLED = 500


@dataclass(frozen=True, slots=True)
class KnowledgeSetSummary:
    ready: int
    failed: int
    queued: int
    in_progress: int  # parsing or embedding
    chunks: int
    size_bytes: int
    last_ingested_at: datetime | None
    embedder: str
    channels: list[ChannelBinding]

    @property
    def documents(self) -> int:
        return self.ready + self.failed + self.queued + self.in_progress


def knowledge_set_summary(*, knowledge_set: KnowledgeSet) -> KnowledgeSetSummary:
    """Counts per status, chunks and size of a set's documents. An uploaded export whose
    records exist is counted through its records (each one is a document), not again as
    a row of its own; an export that failed as a whole has no records and counts once."""
    documents = Document.objects.filter(knowledge_set=knowledge_set).exclude(
        kind=DocumentKind.EXPORT,
        pk__in=Document.objects.filter(knowledge_set=knowledge_set, parent__isnull=False).values(
            "parent"
        ),
    )
    by_status = dict(
        documents.values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    totals = documents.aggregate(
        chunks=Sum("chunk_count"), size=Sum("size_bytes"), last=Max("ingested_at")
    )
    return KnowledgeSetSummary(
        ready=by_status.get(DocumentStatus.READY, 0),
        failed=by_status.get(DocumentStatus.FAILED, 0),
        queued=by_status.get(DocumentStatus.QUEUED, 0),
        in_progress=by_status.get(DocumentStatus.PARSING, 0)
        + by_status.get(DocumentStatus.EMBEDDING, 0),
        chunks=totals["chunks"] or 0,
        size_bytes=totals["size"] or 0,
        last_ingested_at=totals["last"],
        embedder=knowledge_set.embedder,
        channels=list(knowledge_set.channels.order_by("platform", "name", "channel_id")),
    )


def documents_status(*, document_ids: Iterable[int]) -> dict[str, dict]:
    """Status, label (an export's with its records: "Ready (120 records)"), chunk count,
    error (an export's skipped records) and time of ingestion of the given documents (at
    most MAX_POLLED; ids that do not exist are left out)."""
    ids = list(document_ids)[:MAX_POLLED]
    rows = Document.objects.filter(pk__in=ids).values(
        "pk", "status", "kind", "chunk_count", "error", "metadata", "ingested_at"
    )
    return {
        str(row["pk"]): {
            "status": row["status"],
            "label": document_label(
                status=row["status"], kind=row["kind"], metadata=row["metadata"] or {}
            ),
            "chunks": row["chunk_count"],
            "error": row["error"] or document_notes(kind=row["kind"], metadata=row["metadata"]),
            "ingested_at": row["ingested_at"],
            "done": row["status"] not in DocumentStatus.in_progress(),
        }
        for row in rows
    }


def document_label(*, status: str, kind: str, metadata: dict) -> str:
    label = dict(DocumentStatus.choices).get(status, status)
    if kind != DocumentKind.EXPORT:
        return label
    return export_label(status=status, label=label, metadata=metadata)


def document_notes(*, kind: str, metadata: dict | None) -> str:
    """What an admin should know about a document that is not an error: an export's
    skipped records."""
    return export_notes(metadata or {}) if kind == DocumentKind.EXPORT else ""


def export_records(*, export: Document) -> dict[str, int]:
    """An export's records by state, for the API: total, ready, failed, in progress, and
    skipped (records of the file that could not be used, so never became documents)."""
    by_status = dict(
        Document.objects.filter(parent=export)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    in_progress = sum(by_status.get(s, 0) for s in DocumentStatus.in_progress())
    return {
        "total": sum(by_status.values()),
        "ready": by_status.get(DocumentStatus.READY, 0),
        "failed": by_status.get(DocumentStatus.FAILED, 0),
        "in_progress": in_progress,
        "skipped": int(export.metadata.get("skipped") or 0),
        "in_file": int(export.metadata.get("records") or 0),
        "done": int(export.metadata.get("records_done") or 0),
    }


def export_label(*, status: str, label: str, metadata: dict) -> str:
    """An export's status as admins read it: "Embedding (40 of 120 records)",
    "Ready (118 records, 2 skipped)"; other documents keep their plain label."""
    total = metadata.get("records")
    if total is None or status in (DocumentStatus.QUEUED, DocumentStatus.PARSING):
        return label
    if status == DocumentStatus.EMBEDDING:
        return f"{label} ({metadata.get('records_done', 0)} of {_records(total)})"
    if status == DocumentStatus.READY:
        skipped = metadata.get("skipped") or 0
        return f"{label} ({_records(total)}" + (f", {skipped} skipped)" if skipped else ")")
    return label


def export_notes(metadata: dict) -> str:
    """Why records of an export were skipped, for the admin's error column."""
    skipped = metadata.get("skipped") or 0
    if not skipped:
        return ""
    reasons = " ".join(metadata.get("skipped_reasons") or [])
    word = "record" if skipped == 1 else "records"
    return f"{skipped} {word} skipped: {reasons}"


def _records(n: int) -> str:
    return f"{n} record" + ("" if n == 1 else "s")


def reembed_state_text(
    *, knowledge_set: KnowledgeSet, configured_embedder: str, configured_vector_text: str = ""
) -> str:
    """A set's re-embed in a few words for the admin: queued, running (done/total),
    done, failed (the reason is shown beside it), or needed when the configured embedder
    is not the one that built the set (or its vectors were embedded from another text
    than `configured_vector_text`); "" when there is nothing to say."""
    status = knowledge_set.reembed_status
    target = knowledge_set.reembed_target
    if status == ReembedStatus.QUEUED:
        return f"queued → {target}"
    if status == ReembedStatus.RUNNING:
        return (
            f"running → {target}: {knowledge_set.reembed_done}/{knowledge_set.reembed_total} chunks"
        )
    if status == ReembedStatus.FAILED:
        return f"failed → {target}"
    needed = knowledge_set.embedder and knowledge_set.embedder != configured_embedder
    if needed:
        return f"needed → {configured_embedder}"
    if (
        knowledge_set.embedder
        and configured_vector_text
        and knowledge_set.vector_text != configured_vector_text
    ):
        return f"needed → {VectorText(configured_vector_text).label.lower()}"
    if status == ReembedStatus.DONE:
        return "done"
    return ""
