"""An `Answer` as the cache keeps it, and the reply a cache hit gives."""

from __future__ import annotations

from typing import Any, Final

from ragengine.ask_types import Answer, AnswerMode, Source
from ragengine.cache.lookup import CacheHit

# The notice on a cached reply, in the answer's language like the rest of it.
_NOTICE: Final = {
    "en": (
        "This answer comes from the cache.",
        'This answer comes from the cache, for the similar question "{question}".',
    ),
    "pt": (
        "Esta resposta vem do cache.",
        'Esta resposta vem do cache, da pergunta parecida "{question}".',
    ),
}


def answer_payload(*, answer: Answer) -> dict[str, Any]:
    """What a cached answer keeps: text, sources, mode, provider, model, tokens, and its
    language with the labels around it (a Portuguese answer served again still says
    "Fontes")."""
    data = answer.to_dict()
    return {
        "text": answer.text,
        "language": answer.language,
        "labels": dict(answer.labels),
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
    language = data.get("language", "")  # entries cached before it was kept have none
    exact, similar = _NOTICE.get(language, _NOTICE["en"])
    notice = similar.format(question=hit.question) if hit.kind == "semantic" else exact
    return Answer(
        text=data.get("text", ""),
        language=language,
        labels=dict(data.get("labels", {})),
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
