"""An `Answer` as the cache keeps it, and the reply a cache hit gives."""

from __future__ import annotations

from typing import Any

from ragengine.ask_types import Answer, AnswerMode, Source
from ragengine.cache.lookup import CacheHit


def answer_payload(*, answer: Answer) -> dict[str, Any]:
    """What a cached answer keeps: text, sources, mode, provider, model, tokens."""
    data = answer.to_dict()
    return {
        "text": answer.text,
        "mode": str(answer.mode),
        "sources": data["sources"],
        "provider": answer.provider,
        "model": answer.model,
        "tokens_in": answer.tokens_in,
        "tokens_out": answer.tokens_out,
    }


def answer_from_hit(*, hit: CacheHit, request_id: str = "") -> Answer:
    """The reply for a hit: the cached text and sources, mode `cached`, cost 0, and a
    notice saying it came from the cache (quoting the cached question on a semantic hit,
    so the asker can judge it answers theirs)."""
    data = hit.answer
    notice = "This answer comes from the cache."
    if hit.kind == "semantic":
        notice = f'This answer comes from the cache, for the similar question "{hit.question}".'
    return Answer(
        text=data.get("text", ""),
        mode=AnswerMode.CACHED,
        sources=[
            Source(
                number=int(s.get("number", i)),
                title=s.get("title", ""),
                location=s.get("location", ""),
                snippet=s.get("snippet", ""),
                score=float(s.get("score", 0.0)),
                document_id=int(s.get("document_id", 0)),
                link=s.get("link", ""),
            )
            for i, s in enumerate(data.get("sources", []), start=1)
        ],
        provider=data.get("provider", ""),
        model=data.get("model", ""),
        notices=[notice],
        request_id=request_id,
    )
