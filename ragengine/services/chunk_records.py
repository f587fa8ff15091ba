"""How a chunk is kept everywhere: its record in any vector store and its citation
location (ingestion and `migrate_store` both build records here, so ids and citation
metadata never differ between stores)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ragengine.models import Document
from ragengine.retrieval.types import SentenceVectors, StoreRecord

# Joins Chunk.heading_path in the database ("Leave › Vacation").
HEADING_SEPARATOR = " › "


def chunk_location(*, title: str, heading_path: Sequence[str], page: int | None) -> str:
    """Where in the document a chunk is: its page, or its headings without the title."""
    if page:
        return f"page {page}"
    headings = list(heading_path)
    if headings and headings[0].strip().casefold() == title.strip().casefold():
        headings = headings[1:]
    return HEADING_SEPARATOR.join(headings)


def chunk_record(
    *,
    document: Document,
    ordinal: int,
    text: str,
    heading_path: Sequence[str],
    page: int | None,
    vector: np.ndarray,
    sentences: SentenceVectors | None = None,
) -> StoreRecord:
    """A chunk as every vector store keeps it (ingestion and `migrate_store` both build
    records here, so ids and citation metadata never differ between stores)."""
    return StoreRecord(
        id=f"{document.pk}:{ordinal}",
        knowledge_set=str(document.knowledge_set_id),
        document_id=str(document.pk),
        ordinal=ordinal,
        text=text,
        vector=vector,
        metadata={
            "title": document.title,
            "source": document.source,
            "location": chunk_location(title=document.title, heading_path=heading_path, page=page),
            "page": page,
        },
        sentences=sentences,
    )
