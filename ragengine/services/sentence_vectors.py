"""Sentence vectors: what the extractive answerer compares with the question, computed
once per chunk in the background instead of at every question.

The answerer quotes evidence units (composition/evidence.py: sentences, list items, code
lines, table rows) and embedded up to 8 candidates per question, most of a cold answer's
time (docs/PERFORMANCE.md §2). Here each chunk's units are embedded once, by the same
splitter (`evidence.units`) and the same embedder the answerer would use, and stored
with the chunk (the local store) and in the embedding cache (keyed by the chunk's text,
so a changed document keeps those of its unchanged chunks). Answers are then the same
as before, only faster.

Why in the background and not inside ingestion: embedding a chunk's ~13 units costs
about 1.4 times embedding the chunk itself, which would take ingestion from ~29 to ~12
chunks/s, below its floor. Pooling each unit from the chunk's own forward pass would cost
nothing, but those contextual vectors lost 6 of 172 quoted facts and refused 8 more
answerable questions on the labelled set (docs/PERFORMANCE.md §20). So ingestion stays as
fast as before, and this runs after it: queued when an ingestion ends, and scheduled
(migration 0024) so data dirs from before get theirs after the first start. Until a
chunk has them, the answerer embeds its units at question time, as it always did.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
from django.conf import settings

from ragengine.composition.evidence import units
from ragengine.retrieval.types import Embedder, SentenceVectors, sentence_key

logger = logging.getLogger(__name__)

TASK = "ragengine.tasks.sentence_vectors_backfill_task"
# Chunks per store commit: ~25 s of embedding on two cores, so a commit (a new snapshot,
# 1.4 s at 100k chunks) stays a small share of the work.
BATCH_CHUNKS = 500


def embed_sentences(*, embedder: Embedder, texts: Sequence[str]) -> list[SentenceVectors]:
    """Each text's sentence vectors: one per distinct evidence unit, embedded alone (as
    the answerer would embed it), stored as float16."""
    keyed = [{sentence_key(u.text): u.text for u in units(text)} for text in texts]
    distinct = list(dict.fromkeys(t for per_text in keyed for t in per_text.values()))
    vectors = embedder.embed_documents(distinct) if distinct else np.zeros((0, 0), np.float32)
    row = {text: i for i, text in enumerate(distinct)}
    return [
        SentenceVectors(
            keys=np.fromiter(per_text, dtype=np.uint64, count=len(per_text)),
            vectors=np.asarray(
                vectors[[row[t] for t in per_text.values()]], dtype=np.float16
            ).reshape(len(per_text), embedder.dimension),
        )
        for per_text in keyed
    ]


def sentences_enabled() -> bool:
    """Whether sentence vectors are computed: for the in-process (local) embedder only. A
    remote embedder would be billed for every unit of the corpus; its answers keep
    embedding their few candidates at question time."""
    return settings.ARANDU_EMBEDDER == "local" and settings.ARANDU_VECTOR_STORE == "local"


def sentence_vectors_queue() -> None:
    """Queue the background task (after an ingestion); never fails the caller."""
    if not sentences_enabled():
        return
    from django_q.tasks import async_task

    try:
        async_task(TASK, group="sentence-vectors")
    except Exception:  # the scheduled run catches up
        logger.warning("could not queue the sentence-vector task", exc_info=True)


def store_sentences_backfill(*, max_seconds: float = 600.0) -> int:
    """Give the local store's chunks that have no sentence vectors theirs, a batch of
    documents per store commit, until none is left or `max_seconds` have passed (the next
    run continues). Returns the documents rewritten.

    The chunk texts and vectors come from the database, the source of truth, so nothing
    in search changes; sentence vectors come from the embedding cache or the embedder
    (and go into the cache). A document re-ingested meanwhile keeps what its ingestion
    wrote."""
    from ragengine.models import KnowledgeSet
    from ragengine.retrieval import registry
    from ragengine.retrieval.stores.local import LocalStore

    if not sentences_enabled():
        return 0
    embedder = registry.get_embedder()
    # The main store and every space the configured embedder's sets live in (a set
    # re-embedded into a space of its own is answered from there).
    spaces = {""} | set(
        KnowledgeSet.objects.filter(embedder=embedder.name).values_list("vector_space", flat=True)
    )
    started = time.monotonic()
    done = 0
    for space in sorted(spaces):
        store = registry.get_vector_store(space=space)
        if isinstance(store, LocalStore):
            done += _backfill_store(store=store, embedder=embedder, until=started + max_seconds)
    if done:
        logger.info("sentence vectors stored", extra={"documents": done})
    return done


def _backfill_store(*, store, embedder: Embedder, until: float) -> int:
    done = 0
    failed: set[str] = set()
    while time.monotonic() < until:
        pending = [pk for pk in store.document_ids_without_sentences() if pk not in failed]
        if not pending:
            break
        written, skipped = _backfill_batch(store=store, embedder=embedder, pending=pending)
        failed.update(skipped)
        done += written
        if not written and not skipped:
            break
    return done


def _backfill_batch(*, store, embedder: Embedder, pending: Sequence[str]) -> tuple[int, set[str]]:
    """One commit's worth: (documents rewritten, store ids that cannot be done now)."""
    from ragengine.models import Chunk, Document, DocumentStatus
    from ragengine.services.chunk_records import (
        HEADING_SEPARATOR,
        chunk_record,
        configured_vector_text,
        stored_embedding_texts,
    )
    from ragengine.services.embedding import (
        cached_sentences,
        sentences_to_cache,
        vector_from_bytes,
    )

    ids = {int(pk): pk for pk in pending if pk.isdigit()}
    skipped = {pk for pk in pending if not pk.isdigit()}
    documents = (
        Document.objects.filter(pk__in=ids, status=DocumentStatus.READY)
        .select_related("knowledge_set")
        .in_bulk()
    )
    skipped |= {pk for key, pk in ids.items() if key not in documents}
    chosen: list[tuple[Document, list[Chunk]]] = []
    size = 0
    for key in ids:  # store order
        document = documents.get(key)
        if document is None:
            continue
        if (
            document.indexed_hash != document.content_hash
            or document.knowledge_set.embedder not in ("", embedder.name)
            or document.knowledge_set.vector_text != configured_vector_text()
        ):
            # Being re-ingested (that ingestion will queue this again), or built by
            # another embedder or from another text (its re-embed will).
            skipped.add(ids[key])
            continue
        chunks = list(Chunk.objects.filter(document=document).order_by("ordinal"))
        if not chunks:
            skipped.add(ids[key])  # the store and the database disagree: not ours to fix
            continue
        chosen.append((document, chunks))
        size += len(chunks)
        if size >= BATCH_CHUNKS:
            break
    if not chosen:
        return 0, skipped
    texts = [c.text for _, chunks in chosen for c in chunks]
    # The cache keys a chunk's entry by what its vector was embedded from.
    embedded = [
        text
        for document, chunks in chosen
        for text in stored_embedding_texts(document=document, chunks=chunks)
    ]
    sentences = cached_sentences(embedder=embedder, texts=embedded, plain_texts=texts)
    missing = [i for i, s in enumerate(sentences) if s is None]
    fresh = embed_sentences(embedder=embedder, texts=[texts[i] for i in missing])
    for i, computed in zip(missing, fresh, strict=True):
        sentences[i] = computed
    all_chunks = [c for _, chunks in chosen for c in chunks]
    sentences_to_cache(
        embedder=embedder,
        chunks=[(embedded[i], all_chunks[i].embedding, sentences[i]) for i in missing],
    )
    current = dict(
        Document.objects.filter(pk__in=[d.pk for d, _ in chosen]).values_list("pk", "indexed_hash")
    )
    keep = {d.pk for d, _ in chosen if current.get(d.pk) == d.content_hash}
    skipped |= {str(d.pk) for d, _ in chosen if d.pk not in keep}
    records = []
    position = 0
    for document, chunks in chosen:
        for chunk in chunks:
            vectors = sentences[position]
            position += 1
            if document.pk not in keep:
                continue
            records.append(
                chunk_record(
                    document=document,
                    ordinal=chunk.ordinal,
                    text=chunk.text,
                    heading_path=chunk.heading_path.split(HEADING_SEPARATOR)
                    if chunk.heading_path
                    else [],
                    page=chunk.page,
                    vector=vector_from_bytes(chunk.embedding),
                    sentences=vectors,
                )
            )
    store.replace_documents(document_ids=[str(pk) for pk in keep], records=records)
    return len(keep), skipped
