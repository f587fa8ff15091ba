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
    DocumentStatus,
    KnowledgeSet,
    ReembedStatus,
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
    documents = Document.objects.filter(knowledge_set=knowledge_set)
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
    """Status, label, chunk count and error of the given documents (at most MAX_POLLED;
    ids that do not exist are left out)."""
    ids = list(document_ids)[:MAX_POLLED]
    rows = Document.objects.filter(pk__in=ids).values("pk", "status", "chunk_count", "error")
    labels = dict(DocumentStatus.choices)
    return {
        str(row["pk"]): {
            "status": row["status"],
            "label": labels.get(row["status"], row["status"]),
            "chunks": row["chunk_count"],
            "error": row["error"],
            "done": row["status"] not in DocumentStatus.in_progress(),
        }
        for row in rows
    }


def reembed_state_text(*, knowledge_set: KnowledgeSet, configured_embedder: str) -> str:
    """A set's re-embed in a few words for the admin: queued, running (done/total),
    done, failed (the reason is shown beside it), or needed when the configured embedder
    is not the one that built the set; "" when there is nothing to say."""
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
    if status == ReembedStatus.DONE:
        return "done"
    return ""
