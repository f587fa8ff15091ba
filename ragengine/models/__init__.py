"""Engine models, one module per topic."""

from ragengine.models.embeddings import EmbeddingCacheEntry
from ragengine.models.knowledge import Chunk, Document, DocumentStatus, KnowledgeSet
from ragengine.models.people import Member

__all__ = [
    "Chunk",
    "Document",
    "DocumentStatus",
    "EmbeddingCacheEntry",
    "KnowledgeSet",
    "Member",
]
