"""Ingestion: files and folders in, chunks with embeddings out, kept in step with the store.

Idempotent and restartable. A document is "unchanged" only when the bytes hash matches
both what the database last saw (`content_hash`) and what the vector store holds
(`indexed_hash`); an interrupted run leaves those two apart, so the next run redoes just
that document (embeddings come back from the cache, so redoing is cheap). Chunks are
replaced in one database transaction and one store commit each, so no reader ever sees a
document with both its old and new chunks, or with neither.

One bad file fails alone, whatever goes wrong with it (a ParseError, RecursionError,
MemoryError, a library's bug, its own database write): the run records a readable reason
and carries on, and the failed document's writes are rolled back. Which files are read,
and how links are refused, is `ingest_files`. Files are parsed in a separate worker process
under ARANDU_PARSE_TIMEOUT_S per file (`parsers.isolation` says why), within
ARANDU_MAX_DOC_PARAGRAPHS and ARANDU_MAX_DOC_CHARS. Store commits are outside these
guards: a vector store that fails is no file's fault and stops the run, as before.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from ragengine import metrics
from ragengine.models import Document, KnowledgeSet
from ragengine.retrieval import registry
from ragengine.retrieval.types import Embedder
from ragengine.services.chunk_records import configured_vector_text
from ragengine.services.ingest_files import find_files
from ragengine.services.ingestor import (
    Ingestor,
    IngestOutcome,
    IngestReport,
    ProgressCallback,
    remove_document,
)
from ragengine.services.knowledge import KnowledgeSetError
from ragengine.services.reembed import knowledge_sets_queue_reembed
from ragengine.services.sentence_vectors import sentence_vectors_queue
from ragengine.services.vector_spaces import space_for

__all__ = [
    "IngestOutcome",
    "IngestReport",
    "StoredFile",
    "documents_ingest_paths",
    "documents_ingest_stored",
]

logger = logging.getLogger(__name__)


def _set_embedder(knowledge_set: KnowledgeSet) -> Embedder:
    """The embedder to ingest into this set with: the one that built its vectors (until a
    re-embed switches it; one is queued here, also for vectors embedded from another kind
    of text than the configured one, which go on being embedded that way until then), or
    the configured one for a new set, which then gets its vector space."""
    configured = registry.get_embedder()
    if not knowledge_set.embedder:
        with transaction.atomic():
            knowledge_set.vector_space = space_for(
                embedder=configured.name, knowledge_set=knowledge_set
            )
            knowledge_set.embedder = configured.name
            knowledge_set.vector_text = configured_vector_text()
            knowledge_set.save(
                update_fields=["embedder", "vector_space", "vector_text", "updated_at"]
            )
        return configured
    if knowledge_set.embedder == configured.name:
        if knowledge_set.vector_text != configured_vector_text():
            knowledge_sets_queue_reembed(knowledge_set_ids=[knowledge_set.pk], retry_failed=False)
        return configured
    knowledge_sets_queue_reembed(knowledge_set_ids=[knowledge_set.pk], retry_failed=False)
    embedder = registry.embedder_named(knowledge_set.embedder)
    if embedder is None:
        raise KnowledgeSetError(
            f"Knowledge set {knowledge_set.name!r} was built with embedder "
            f"{knowledge_set.embedder!r}, which is no longer available, and is being "
            f"re-embedded with {configured.name!r}: add documents when that has finished "
            "(see its re-embed status in the admin)."
        )
    return embedder


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file kept in a storage rather than read from a folder (an upload): `source` names
    its documents, `read()` returns its bytes or raises a ParseError saying why not."""

    source: str
    filename: str
    read: Callable[[], bytes]


def documents_ingest_paths(
    *,
    paths: Sequence[Path],
    knowledge_set: KnowledgeSet,
    prune: bool = False,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Ingest files and folders (recursively) into `knowledge_set`.

    Links that leave the folder being ingested are refused, each with a reason (see
    `ingest_files`). With `prune`, documents of this set whose file lies under one of the
    given folders but no longer exists are removed with their chunks.
    """
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"No such file or folder: {', '.join(str(p) for p in missing)}")
    files = find_files(paths)
    return _ingest_run(
        knowledge_set=knowledge_set,
        known_under=[  # as `find_files` names what it finds under each path
            os.path.realpath(p) if p.is_dir() else os.path.join(os.path.realpath(p.parent), p.name)
            for p in paths
        ],
        files=[lambda ingestor, found=found: ingestor.ingest_file(found) for found in files],
        after=(lambda: _prune(knowledge_set, paths)) if prune else None,
        progress=progress,
    )


def documents_ingest_stored(
    *, files: Sequence[StoredFile], knowledge_set: KnowledgeSet
) -> IngestReport:
    """Ingest files kept in a storage (uploads) into `knowledge_set`: read through the
    storage's API, so a storage without local paths (S3 and the like) works as well."""
    return _ingest_run(
        knowledge_set=knowledge_set,
        known_under=[f.source for f in files],
        files=[
            lambda ingestor, f=f: ingestor.ingest_data(
                source=f.source, filename=f.filename, read=f.read
            )
            for f in files
        ],
    )


def _ingest_run(
    *,
    knowledge_set: KnowledgeSet,
    known_under: Sequence[str],
    files: Sequence[Callable[[Ingestor], list[IngestOutcome]]],
    after: Callable[[], list[IngestOutcome]] | None = None,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """One ingestion run: each file in turn, then `after` (a prune), one store commit
    per ARANDU_INGEST_COMMIT_EVERY documents, and whatever was written reaches the store."""
    embedder = _set_embedder(knowledge_set)
    ingestor = Ingestor(knowledge_set=knowledge_set, embedder=embedder, known_under=known_under)
    report = IngestReport()
    try:
        for index, ingest_one in enumerate(files, start=1):
            for outcome in ingest_one(ingestor):
                report.outcomes.append(outcome)
                if progress:
                    progress(outcome, index, len(files))
        for outcome in after() if after else ():
            report.outcomes.append(outcome)
            if progress:
                progress(outcome, len(files), len(files))
    finally:
        # Whatever was written to the database before an error still reaches the store.
        ingestor.flush()
    if report.count("ingested"):
        sentence_vectors_queue()
    metrics.record_ingested(
        {status: report.count(status) for status in ("ingested", "unchanged", "failed", "removed")}
    )
    logger.info(
        "ingest finished",
        extra={
            "knowledge_set": knowledge_set.name,
            "ingested": report.count("ingested"),
            "unchanged": report.count("unchanged"),
            "failed": report.count("failed"),
            "removed": report.count("removed"),
        },
    )
    return report


def _prune(knowledge_set: KnowledgeSet, paths: Sequence[Path]) -> list[IngestOutcome]:
    folders = [str(p.resolve()) for p in paths if p.is_dir()]
    outcomes = []
    for document in Document.objects.filter(knowledge_set=knowledge_set):
        file_source = document.source.split("#", 1)[0]
        under = any(file_source.startswith(folder.rstrip("/") + "/") for folder in folders)
        if under and not Path(file_source).exists():
            outcomes.append(remove_document(document))
    return outcomes
