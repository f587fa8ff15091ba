"""Writes on knowledge sets and documents that must keep the vector store in step."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F

from ragengine.models import Document, KnowledgeSet
from ragengine.retrieval import registry

logger = logging.getLogger(__name__)


class KnowledgeSetError(ValueError):
    """A readable reason a knowledge-set operation was refused."""


def knowledge_set_get_or_create(*, name: str) -> KnowledgeSet:
    name = name.strip()
    if not name:
        raise KnowledgeSetError("A knowledge set needs a name.")
    knowledge_set, created = KnowledgeSet.objects.get_or_create(name=name)
    if created:
        logger.info("knowledge set created", extra={"knowledge_set": name})
    return knowledge_set


def knowledge_set_bump_version(*, knowledge_set_id: int) -> None:
    """Mark everything derived from the set (cached answers) as stale."""
    KnowledgeSet.objects.filter(pk=knowledge_set_id).update(index_version=F("index_version") + 1)


def documents_delete(*, documents: list[Document]) -> int:
    """Remove documents with their chunks from the database and the vector store.

    The store goes first: if it fails, the database still lists the documents and a
    retry can finish the job; the reverse order could leave unreachable chunks behind.
    """
    if not documents:
        return 0
    set_ids = {d.knowledge_set_id for d in documents}
    spaces = KnowledgeSet.objects.filter(pk__in=set_ids).values_list("vector_space", flat=True)
    for space in set(spaces) or {""}:
        registry.get_vector_store(space=space).delete_documents(
            document_ids=[str(d.pk) for d in documents]
        )
    with transaction.atomic():
        count, _ = Document.objects.filter(pk__in=[d.pk for d in documents]).delete()
        for set_id in set_ids:
            knowledge_set_bump_version(knowledge_set_id=set_id)
    logger.info("documents deleted", extra={"documents": len(documents)})
    return len(documents)


def knowledge_set_delete(*, knowledge_set: KnowledgeSet) -> None:
    registry.get_vector_store(space=knowledge_set.vector_space).delete_knowledge_set(
        knowledge_set=str(knowledge_set.pk)
    )
    knowledge_set.delete()
    logger.info("knowledge set deleted", extra={"knowledge_set": knowledge_set.name})
