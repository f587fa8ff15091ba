"""Moving a knowledge set to the configured embedder in the background, with no downtime.

When ARANDU_EMBEDDER(_MODEL) changes, every set built with the old model must be embedded
again: its chunks' text is in the database, so nothing is parsed again. The same holds
when what a chunk's vector is embedded from changes (ARANDU_EMBED_TITLES: the chunk text
alone, or its title and headings first; `KnowledgeSet.vector_text`): the set is rebuilt
with the same model, in its own space, each record replaced in place. A django-q2 task
embeds the chunks with the new model (through the embedding cache, so a resumed or
repeated run re-embeds nothing it already did), writes them to the new model's vector
space while questions go on being answered from the old vectors with the old model, and
then switches the set's `embedder` and `vector_space` in one row update. A failure keeps
the old vectors and records the reason on the set.

Queued automatically by the first question that reaches such a set (`ask()`), by an
ingestion into it, by an hourly schedule (migration 0026: a data dir from before moves
over without anyone asking), and from the admin's knowledge-set page. Queuing twice
gives one run: queuing only moves a set that is neither queued nor running, and a task
only runs a set it finds queued.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import replace
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from ragengine.models import Chunk, Document, KnowledgeSet, ReembedStatus
from ragengine.retrieval import registry
from ragengine.services.chunk_records import (
    configured_vector_text,
    embedding_text,
)
from ragengine.services.embedding import cached_sentences, texts_embed_cached, vector_to_bytes
from ragengine.services.store_migration import chunk_records
from ragengine.services.vector_spaces import space_for

logger = logging.getLogger(__name__)

REEMBED_TASK = "ragengine.tasks.knowledge_set_reembed_task"
# Chunks embedded (and progress saved) per step.
STEP_CHUNKS = 256
# A running re-embed whose progress has not moved for this long lost its worker: it may
# be queued again.
STALE_AFTER = timedelta(minutes=30)
# Passes over a set whose documents keep changing while it is re-embedded.
MAX_PASSES = 3


class ReembedError(RuntimeError):
    """A readable reason a re-embed could not finish (the old vectors stay in use)."""


def _queueable(*, now) -> Q:
    stale = Q(reembed_status=ReembedStatus.RUNNING) & (
        Q(reembed_updated_at__lt=now - STALE_AFTER) | Q(reembed_updated_at__isnull=True)
    )
    return ~Q(reembed_status__in=(ReembedStatus.QUEUED, ReembedStatus.RUNNING)) | stale


def knowledge_sets_queue_reembed(
    *, knowledge_set_ids: Sequence[int], retry_failed: bool = True
) -> list[int]:
    """Queue a re-embed of these sets to the configured embedder; the ids actually
    queued (a set already queued or running is left alone; so is one whose vectors are
    the configured embedder's of the configured text already; with `retry_failed`
    False, one whose re-embed to this embedder failed, so a question never restarts a
    run that fails every time)."""
    target = registry.get_embedder().name
    now = timezone.now()
    candidates = (
        KnowledgeSet.objects.filter(pk__in=list(knowledge_set_ids))
        .exclude(embedder="")
        .exclude(embedder=target, vector_text=configured_vector_text())
        .filter(_queueable(now=now))
    )
    if not retry_failed:
        candidates = candidates.exclude(reembed_status=ReembedStatus.FAILED, reembed_target=target)
    queued = []
    for pk in candidates.values_list("pk", flat=True):
        # The conditional update is the claim: of two callers, one moves the row.
        moved = (
            KnowledgeSet.objects.filter(pk=pk)
            .filter(_queueable(now=now))
            .update(
                reembed_status=ReembedStatus.QUEUED,
                reembed_target=target,
                reembed_error="",
                reembed_done=0,
                reembed_total=0,
                reembed_updated_at=now,
            )
        )
        if moved:
            queued.append(pk)
            transaction.on_commit(lambda pk=pk: async_task(REEMBED_TASK, pk, group="reembed"))
    if queued:
        logger.info(
            "re-embed queued",
            extra={
                "knowledge_sets": queued,
                "embedder": target,
                "vector_text": configured_vector_text(),
            },
        )
    return queued


def knowledge_sets_queue_outdated() -> list[int]:
    """Queue a re-embed of every built set whose vectors are not the configured
    embedder's of the configured text (hourly; a no-op once none is left). A set whose
    last re-embed to this embedder failed waits for the admin."""
    ids = KnowledgeSet.objects.exclude(embedder="").values_list("pk", flat=True)
    return knowledge_sets_queue_reembed(knowledge_set_ids=list(ids), retry_failed=False)


def knowledge_set_reembed(*, knowledge_set_id: int) -> str:
    """Run a queued re-embed; returns the set's re-embed status afterwards. A set not
    queued (already run, or taken by another worker) is left as it is."""
    now = timezone.now()
    claimed = KnowledgeSet.objects.filter(
        pk=knowledge_set_id, reembed_status=ReembedStatus.QUEUED
    ).update(reembed_status=ReembedStatus.RUNNING, reembed_started_at=now, reembed_updated_at=now)
    if not claimed:
        status = (
            KnowledgeSet.objects.filter(pk=knowledge_set_id)
            .values_list("reembed_status", flat=True)
            .first()
        )
        return status if status is not None else "missing"
    knowledge_set = KnowledgeSet.objects.get(pk=knowledge_set_id)
    try:
        _reembed(knowledge_set)
    except Exception as exc:
        reason = str(exc) if isinstance(exc, ReembedError) else f"{type(exc).__name__}: {exc}"
        logger.exception("re-embed failed", extra={"knowledge_set": knowledge_set.name})
        KnowledgeSet.objects.filter(pk=knowledge_set_id).update(
            reembed_status=ReembedStatus.FAILED,
            reembed_error=f"{reason} The previous vectors are still used.",
            reembed_updated_at=timezone.now(),
        )
        return ReembedStatus.FAILED
    return ReembedStatus.DONE


def _reembed(knowledge_set: KnowledgeSet) -> None:
    embedder = registry.get_embedder()
    if knowledge_set.reembed_target != embedder.name:
        raise ReembedError(
            f"The configured embedder is now {embedder.name!r}, not "
            f"{knowledge_set.reembed_target!r} as when this was queued; queue it again."
        )
    vector_text = configured_vector_text()
    old_space = knowledge_set.vector_space
    new_space = space_for(embedder=embedder.name, knowledge_set=knowledge_set)
    target = registry.get_vector_store(space=new_space)
    for _ in range(MAX_PASSES):
        version = KnowledgeSet.objects.values_list("index_version", flat=True).get(
            pk=knowledge_set.pk
        )
        vectors = _embed_chunks(knowledge_set, embedder, vector_text)
        _write(knowledge_set, target, vectors, embedder, in_place=old_space == new_space)
        if _switch(knowledge_set, embedder.name, new_space, vector_text, version, vectors):
            break
    else:
        raise ReembedError(
            f"The set's documents changed during {MAX_PASSES} passes; queue it again."
        )
    if old_space != new_space:
        # Nothing searches the set there any more.
        registry.get_vector_store(space=old_space).delete_knowledge_set(
            knowledge_set=str(knowledge_set.pk)
        )
    logger.info(
        "re-embed done",
        extra={
            "knowledge_set": knowledge_set.name,
            "embedder": embedder.name,
            "vector_text": vector_text,
            "space": new_space,
            "chunks": len(vectors),
        },
    )


def _embed_chunks(knowledge_set: KnowledgeSet, embedder, vector_text: str) -> dict[int, tuple]:
    """Chunk pk -> (document id, ordinal, text, embedded text, new vector)."""
    rows = [
        (
            pk,
            document_id,
            ordinal,
            text,
            embedding_text(
                text=text,
                title=title,
                heading_path=headings,
                vector_text=vector_text,
            ),
        )
        for pk, document_id, ordinal, text, title, headings in Chunk.objects.filter(
            document__knowledge_set=knowledge_set
        )
        .order_by("document_id", "ordinal")
        .values_list("pk", "document_id", "ordinal", "text", "document__title", "heading_path")
    ]
    KnowledgeSet.objects.filter(pk=knowledge_set.pk).update(
        reembed_total=len(rows), reembed_done=0, reembed_updated_at=timezone.now()
    )
    done: dict[int, tuple] = {}
    for start in range(0, len(rows), STEP_CHUNKS):
        step = rows[start : start + STEP_CHUNKS]
        vectors = texts_embed_cached(embedder=embedder, texts=[r[4] for r in step])
        for row, vector in zip(step, vectors, strict=True):
            done[row[0]] = (*row[1:], vector)
        KnowledgeSet.objects.filter(pk=knowledge_set.pk).update(
            reembed_done=len(done), reembed_updated_at=timezone.now()
        )
    return done


def _write(
    knowledge_set: KnowledgeSet, target, vectors: dict[int, tuple], embedder, *, in_place: bool
) -> None:
    """The set's records (as `migrate_store` rebuilds them from the database) with their
    new vectors and the sentence vectors the cache holds for them, in the new space, in
    one commit where the store batches. `in_place` (the same space: only the embedded
    text changed) replaces each document's records without emptying the set first, so a
    store whose writes are not atomic (Weaviate) answers from one or the other all along."""
    documents = list(
        Document.objects.filter(knowledge_set=knowledge_set).only(
            "pk", "title", "source", "knowledge_set_id"
        )
    )
    fresh = {(str(row[0]), row[1]): row[2:] for row in vectors.values()}
    records = [
        replace(record, vector=fresh[key][-1])
        for record in chunk_records(documents)
        if (key := (record.document_id, record.ordinal)) in fresh
    ]
    found = cached_sentences(
        embedder=embedder,
        texts=[fresh[(r.document_id, r.ordinal)][1] for r in records],
        plain_texts=[r.text for r in records],
    )
    records = [replace(r, sentences=s) for r, s in zip(records, found, strict=True)]
    set_id = str(knowledge_set.pk)
    ids = [str(d.pk) for d in documents]
    batch = getattr(target, "batch", None)
    with batch() if batch is not None else nullcontext():
        if not in_place:
            target.delete_knowledge_set(knowledge_set=set_id)  # earlier leftovers
        elif gone := sorted(target.document_ids(knowledge_set=set_id) - set(ids)):
            target.delete_documents(document_ids=gone)
        target.replace_documents(document_ids=ids, records=records)


def _switch(
    knowledge_set: KnowledgeSet,
    embedder: str,
    space: str,
    vector_text: str,
    version: int,
    vectors: dict,
) -> bool:
    """Point the set at its new vectors in one transaction, unless its documents changed
    since `version` was read (then False: another pass)."""
    with transaction.atomic():
        current = KnowledgeSet.objects.select_for_update().get(pk=knowledge_set.pk)
        if current.index_version != version:
            return False
        chunks = list(Chunk.objects.filter(pk__in=list(vectors)).only("pk"))
        for chunk in chunks:
            chunk.embedding = vector_to_bytes(vectors[chunk.pk][-1])
        Chunk.objects.bulk_update(chunks, ["embedding"], batch_size=500)
        KnowledgeSet.objects.filter(pk=knowledge_set.pk).update(
            embedder=embedder,
            vector_space=space,
            vector_text=vector_text,
            index_version=version + 1,  # cached answers were built on the old vectors
            reembed_status=ReembedStatus.DONE,
            reembed_error="",
            reembed_updated_at=timezone.now(),
        )
    return True
