"""The one seam every door calls: `ask(*, member, question, channel, history=())`.

Order of work (see shared/ARCHITECTURE.md): validate → resolve knowledge sets → embed →
retrieve (hybrid) → answer → return. Tiers, budgets and the cache slot in between
without changing this signature.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings

from ragengine.answers import Answer, AnswerMode, Channel, Source, Turn
from ragengine.llm.extractive import Passage, answer_extractively
from ragengine.models import KnowledgeSet, Member
from ragengine.retrieval.analysis import analyze
from ragengine.retrieval.registry import get_embedder, get_vector_store
from ragengine.retrieval.types import SearchHit, SearchQuery

logger = logging.getLogger(__name__)

SNIPPET_CHARS = 280
# A follow-up with this few content terms ("and for flights?") borrows the previous
# question's terms for retrieval.
FOLLOW_UP_MAX_TERMS = 3
_MARKER = re.compile(r"\[(\d+)\]")


class _Stopwatch:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._start = time.perf_counter()

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = (time.perf_counter() - start) * 1000

    def finish(self) -> dict[str, float]:
        self.timings["total"] = (time.perf_counter() - self._start) * 1000
        return self.timings


@dataclass(frozen=True, slots=True)
class QuestionProblem:
    message: str


def question_validate(*, question: str) -> QuestionProblem | None:
    """A readable reason the question can't be asked, or None."""
    stripped = (question or "").strip()
    low, high = settings.ARANDU_QUESTION_MIN_CHARS, settings.ARANDU_QUESTION_MAX_CHARS
    if not stripped:
        return QuestionProblem("Please type a question.")
    if len(stripped) < low:
        return QuestionProblem(f"That question is too short: please use at least {low} characters.")
    if len(stripped) > high:
        return QuestionProblem(
            f"That question is too long ({len(stripped)} characters): please keep it under "
            f"{high} characters, or split it into smaller questions."
        )
    return None


def _resolve_sets(channel: Channel) -> tuple[tuple[str, ...] | None, str | None]:
    """Store ids of the sets the channel may read, or a readable problem."""
    if channel.knowledge_sets is None:
        return None, None
    found = dict(
        KnowledgeSet.objects.filter(name__in=channel.knowledge_sets).values_list("name", "pk")
    )
    unknown = [n for n in channel.knowledge_sets if n not in found]
    if unknown:
        return None, f"Unknown knowledge set: {', '.join(unknown)}."
    return tuple(str(found[n]) for n in channel.knowledge_sets), None


def _retrieval_text(question: str, history: Sequence[Turn]) -> str:
    if len(analyze(question)) > FOLLOW_UP_MAX_TERMS:
        return question
    previous = next((t.text for t in reversed(history) if t.role == "user"), "")
    return f"{previous} {question}".strip()


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= SNIPPET_CHARS:
        return text
    return text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"


def _link(source: str) -> str:
    return source if source.startswith(("http://", "https://")) else ""


def _cited_sources(text: str, hits: list[SearchHit]) -> tuple[str, list[Source]]:
    """Renumber the passages the answer quotes 1..n in order of first citation."""
    order: dict[int, int] = {}
    for match in _MARKER.finditer(text):
        n = int(match.group(1))
        if 1 <= n <= len(hits) and n not in order:
            order[n] = len(order) + 1
    renumbered = _MARKER.sub(
        lambda m: f"[{order[int(m.group(1))]}]" if int(m.group(1)) in order else m.group(0), text
    )
    sources = []
    for old, new in sorted(order.items(), key=lambda kv: kv[1]):
        hit = hits[old - 1]
        sources.append(
            Source(
                number=new,
                title=str(hit.metadata.get("title", "")),
                location=str(hit.metadata.get("location", "")),
                snippet=_snippet(hit.text),
                score=round(float(hit.score), 4),
                document_id=int(hit.document_id),
                link=_link(str(hit.metadata.get("source", ""))),
            )
        )
    return renumbered, sources


def ask(
    *,
    member: Member | None,
    question: str,
    channel: Channel,
    history: Sequence[Turn] = (),
) -> Answer:
    """Answer `question` for `member` asking in `channel`, with numbered sources."""
    request_id = uuid.uuid4().hex[:12]
    watch = _Stopwatch()
    with watch.stage("validate"):
        problem = question_validate(question=question)
        if problem is None:
            set_ids, set_problem = _resolve_sets(channel)
            if set_problem:
                problem = QuestionProblem(set_problem)
    if problem is not None:
        logger.info(
            "question refused",
            extra={
                "request_id": request_id,
                "platform": channel.platform,
                "reason": problem.message,
            },
        )
        return Answer(
            text=problem.message,
            mode=AnswerMode.REFUSED,
            timings_ms=watch.finish(),
            request_id=request_id,
        )

    question = question.strip()
    embedder = get_embedder()
    retrieval_text = _retrieval_text(question, history)
    with watch.stage("embed"):
        query_vector = embedder.embed_query(retrieval_text)
    with watch.stage("retrieve"):
        hits = get_vector_store().search(
            SearchQuery(
                text=retrieval_text,
                vector=query_vector,
                top_k=settings.ARANDU_TOP_K,
                knowledge_sets=set_ids,
                min_similarity=settings.ARANDU_MIN_SIMILARITY,
                alpha=settings.ARANDU_HYBRID_ALPHA,
                fusion=settings.ARANDU_FUSION,
            )
        )
    with watch.stage("generate"):
        result = answer_extractively(
            question=question,
            passages=[
                Passage(number=i, text=h.text, score=h.score, similarity=h.similarity)
                for i, h in enumerate(hits, start=1)
            ],
            max_sentences=settings.ARANDU_EXTRACTIVE_SENTENCES,
            embed=embedder.embed_documents,
            query_vector=query_vector,
        )
        text, sources = _cited_sources(result.text, hits) if result.found else (result.text, [])
    answer = Answer(
        text=text,
        mode=AnswerMode.EXTRACTIVE,
        sources=sources,
        provider="extractive",
        model="extractive",
        timings_ms=watch.finish(),
        request_id=request_id,
    )
    logger.info(
        "question answered",
        extra={
            "request_id": request_id,
            "platform": channel.platform,
            "mode": str(answer.mode),
            "found": result.found,
            "hits": len(hits),
            "total_ms": round(answer.timings_ms["total"], 1),
        },
    )
    return answer
