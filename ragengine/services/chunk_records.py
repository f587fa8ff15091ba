"""How a chunk is kept everywhere: its record in any vector store, its citation
location, and the text its vector is embedded from (ingestion, re-embeds and
`migrate_store` all build them here, so ids, citation metadata and vectors never differ
between stores)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from django.conf import settings

from ragengine.models import Document, VectorText
from ragengine.retrieval.types import SentenceVectors, StoreRecord

# Joins Chunk.heading_path in the database ("Leave › Vacation").
HEADING_SEPARATOR = " › "
# At most this much title and heading path goes before a chunk's text in what is
# embedded: chunks fill the embedder's window already, so a long path would push more of
# the chunk's end out of it.
MAX_PREFIX_CHARS = 200


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


def configured_vector_text() -> str:
    """What chunk vectors are embedded from now (ARANDU_EMBED_TITLES)."""
    return VectorText.TITLED if settings.ARANDU_EMBED_TITLES else VectorText.TEXT


def embedding_text(
    *, text: str, title: str, heading_path: Sequence[str] | str, vector_text: str
) -> str:
    """What a chunk's vector is embedded from: with `VectorText.TITLED`, its document's
    title and heading path ("Handbook › Leave › Vacation") on a line before its text, so
    a question that names the topic finds chunks whose sentences never say it (the
    keyword side has had them since `lexical_text`); else the text alone. Shown and cited
    text stays `text`. `heading_path` is a list, or `Chunk.heading_path` (joined): the
    same text either way, so ingestion and a re-embed from the database agree."""
    if vector_text != VectorText.TITLED:
        return text
    joined = heading_path if isinstance(heading_path, str) else HEADING_SEPARATOR.join(heading_path)
    headings = [h.strip() for h in joined.split(HEADING_SEPARATOR)]
    parts = [title.strip(), *headings]
    parts = [p for i, p in enumerate(parts) if p and p.casefold() not in _folded(parts[:i])]
    if not parts:
        return text
    return f"{HEADING_SEPARATOR.join(parts)[:MAX_PREFIX_CHARS]}\n\n{text}"


def _folded(values: Sequence[str]) -> set[str]:
    return {v.casefold() for v in values}


def stored_embedding_texts(*, document: Document, chunks: Sequence) -> list[str]:
    """What each of `document`'s stored chunks (`Chunk` rows) was embedded from, as its
    knowledge set's vectors are now."""
    return [
        embedding_text(
            text=chunk.text,
            title=document.title,
            heading_path=chunk.heading_path,
            vector_text=document.knowledge_set.vector_text,
        )
        for chunk in chunks
    ]
