"""Answering from the documents: retrieve, then the tier's models (with fallback) or the
extractive answerer when there is no model, no budget for one, or every model failed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings

from ragengine.ask_types import Answer, AnswerMode, Turn
from ragengine.composition.bilingual import expand_query
from ragengine.composition.citations import cited_sources
from ragengine.composition.extractive import Passage, answer_extractively
from ragengine.composition.labels import answer_labels, question_language
from ragengine.composition.prompts import BuiltPrompt, PromptBudgetError, build_prompt
from ragengine.composition.stored_sentences import sentence_embed
from ragengine.llm.tokens import tokenizer_for
from ragengine.models import Tier
from ragengine.retrieval import registry
from ragengine.retrieval.similarity_scale import cache_threshold, similarity_scale
from ragengine.retrieval.types import SearchHit, SearchQuery
from ragengine.services.budgets import UsageDetails
from ragengine.services.generation import (
    Charge,
    Generation,
    Step,
    TextSink,
    charges_cost,
    generate,
)
from ragengine.services.reembed import knowledge_sets_queue_reembed
from ragengine.services.spending import Plan, plan_settle
from ragengine.services.timing import Stopwatch
from ragengine.services.vector_spaces import documents_search

if TYPE_CHECKING:
    from ragengine.services.ask_record import AskRecord

logger = logging.getLogger(__name__)

ALL_DOWN_NOTICE = (
    "The AI models are unavailable right now, so this answer quotes the documents directly."
)


class QuestionVector:
    """The question's embedding, computed at most once and only when something needs it
    (exact cache hits never do)."""

    def __init__(self, *, question: str, watch: Stopwatch) -> None:
        self.question = question
        self.watch = watch
        self._vector: np.ndarray | None = None

    def __call__(self) -> np.ndarray:
        if self._vector is None:
            with self.watch.stage("embed"):
                self._vector = registry.get_embedder().embed_query(self.question)
        return self._vector

    def paraphrase_threshold(self) -> float:
        """The cosine another question's vector needs to this one for its cached answer
        to serve it: the operator's ARANDU_CACHE_SEMANTIC_THRESHOLD when set, else the
        one measured for the embedder that embeds it (cosines are not comparable across
        embedders). Builds no model: naming the embedder loads nothing."""
        if settings.ARANDU_CACHE_SEMANTIC_THRESHOLD is not None:
            return settings.ARANDU_CACHE_SEMANTIC_THRESHOLD
        return cache_threshold(registry.get_embedder().name)


def answer_from_documents(
    *, record: AskRecord, vector: QuestionVector, on_text: TextSink | None = None
) -> tuple[Answer, UsageDetails]:
    """Retrieve for the question's search text, then answer it as the plan allows; a
    streaming model's text so far goes to `on_text`. The ranking, the prompt and the
    models tried go on `record`.

    The moment the model calls are over, what they cost is settled in the ledger, before
    the answer is rendered, cached or logged: nothing after a paid call decides its price."""
    intake, tier, plan, watch = record.intake, record.route.tier, record.plan, record.watch
    question, search_text = intake.question, intake.search_text
    query_vector: np.ndarray | None = None
    if settings.ARANDU_HYBRID_ALPHA == 0.0:
        pass  # a keyword-only search needs no embedding
    elif search_text == question:
        query_vector = vector()
    else:
        with watch.stage("embed"):
            query_vector = registry.get_embedder().embed_query(search_text)
    query = record.query = document_search_query(
        text=search_text, vector=query_vector, set_ids=intake.set_ids
    )
    with watch.stage("retrieve"):
        found = documents_search(
            query=query, configured_vector=None if query_vector is None else lambda: query_vector
        )
    hits = record.hits = found.hits
    if found.outdated_set_ids:
        knowledge_sets_queue_reembed(knowledge_set_ids=found.outdated_set_ids, retry_failed=False)
    notices = list(plan.notices)
    prompt = record.prompt = _prompt(
        question=question, hits=hits, history=intake.history, tier=tier, plan=plan
    )
    if prompt is not None:
        generated = _generated(
            record,
            prompt=prompt,
            notices=notices,
            on_text=on_text,
        )
        if generated is not None:
            return generated
        notices.append(ALL_DOWN_NOTICE)
    return _extractive(
        question=question,
        hits=hits,
        query_vector=query_vector if query_vector is not None else vector(),
        watch=watch,
        request_id=record.request_id,
        notices=notices,
        charges=plan.charges,
    )


def document_search_query(
    *, text: str, vector: np.ndarray | None, set_ids: tuple[str, ...] | None
) -> SearchQuery:
    """The search `ask()` runs, from settings (the benchmarks build theirs here too).

    The keyword side also searches the question's words in the other language
    (`bilingual.expand_query`: "Posso trabalhar de casa" also looks for "work home"), so
    an English document answers a Portuguese question and the reverse even when the
    embedder does not bridge the languages; `vector` stays the question's own. Measured
    on the labelled set: answerable questions refused 6.4 % -> 4.7 %, fact quoted
    86.6 % -> 88.9 % (docs/PERFORMANCE.md, section 18)."""
    return SearchQuery(
        text=expand_query(text),
        vector=vector,
        top_k=settings.ARANDU_TOP_K,
        knowledge_sets=set_ids,
        min_similarity=settings.ARANDU_MIN_SIMILARITY,
        alpha=settings.ARANDU_HYBRID_ALPHA,
        fusion=settings.ARANDU_FUSION,
        per_document=settings.ARANDU_MAX_CHUNKS_PER_DOCUMENT or None,
    )


def _prompt(
    *, question: str, hits: list[SearchHit], history: Sequence[Turn], tier: Tier, plan: Plan
) -> BuiltPrompt | None:
    """The prompt for the plan's models; None when there is no model or nothing to cite."""
    if not plan.steps or not hits:
        return None
    try:
        return build_prompt(
            question=question,
            hits=hits,
            history=history,
            count=_chain_counter(plan.steps),
            context_budget=tier.context_token_budget,
        )
    except PromptBudgetError:
        logger.error("context budget too small", extra={"tier": tier.name})
        return None


def _generated(
    record: AskRecord,
    *,
    prompt: BuiltPrompt,
    notices: list[str],
    on_text: TextSink | None = None,
) -> tuple[Answer, UsageDetails] | None:
    """A model's answer, or None when every model of the chain failed."""
    question, tier, plan, watch = (
        record.intake.question,
        record.route.tier,
        record.plan,
        record.watch,
    )
    request_id = record.request_id
    with watch.stage("generate"):
        generation = record.generation = generate(
            steps=plan.steps,
            messages=prompt.messages,
            limits=plan.call_limits(prompt_tokens=prompt.prompt_tokens),
            request_id=request_id,
            on_text=on_text,
            charges=plan.charges,
        )
    result, step = generation.result, generation.step
    mode = AnswerMode.GENERATED if result is not None else AnswerMode.EXTRACTIVE
    details = _charged(generation.charges, mode=mode, answered_by=generation)
    if generation.charges:
        details.arm = plan.arm if mode == AnswerMode.GENERATED else ""
        details.latencies_ms = dict(watch.finish())
        plan_settle(plan=plan, details=details)  # before anything else can fail
    if result is None or step is None:
        return None
    if generation.failures:
        failed = ", ".join(s.model for s, _ in generation.failures)
        notices.append(f"{failed} did not answer, so {step.model} answered instead.")
    if result.finish_reason == "length" and generation.max_tokens < tier.max_output_tokens:
        notices.append(
            "This answer is shorter than usual: what is left of your budget paid for "
            f"{generation.max_tokens} tokens of it."
        )
    text, sources = cited_sources(result.text, prompt.used_hits)
    language = question_language(question)
    answer = Answer(
        language=language,
        labels=answer_labels(language),
        text=text,
        mode=AnswerMode.GENERATED,
        sources=sources,
        provider=details.provider,
        model=details.model,
        tokens_in=result.tokens_in,
        tokens_out=result.tokens_out,
        cost=details.cost,
        notices=notices,
        request_id=request_id,
    )
    return answer, details


def _charged(
    charges: Sequence[Charge], *, mode: str, answered_by: Generation | None = None
) -> UsageDetails:
    """The ledger's view of the model calls: every billed token and their whole cost,
    under the model that answered (or the last one billed)."""
    step = answered_by.step if answered_by and answered_by.step else None
    result = answered_by.result if answered_by else None
    if step is None and charges:
        step = charges[-1].step
    return UsageDetails(
        mode=mode,
        provider=step.endpoint.name if step else "extractive",
        model=((result.model if result else "") or step.model) if step else "extractive",
        tokens_in=sum(c.tokens_in for c in charges),
        tokens_out=sum(c.tokens_out for c in charges),
        cost=charges_cost(charges),
    )


def _extractive(
    *,
    question: str,
    hits: list[SearchHit],
    query_vector: np.ndarray,
    watch: Stopwatch,
    request_id: str,
    notices: list[str],
    charges: Sequence[Charge] = (),
) -> tuple[Answer, UsageDetails]:
    """The extractive answer; `charges` are model calls that broke off before it (a
    stream cut short is billed by its provider), already settled."""
    with watch.stage("generate"):
        result = answer_extractively(
            question=question,
            passages=[
                Passage(number=i, text=h.text, score=h.score, similarity=h.similarity)
                for i, h in enumerate(hits, start=1)
            ],
            max_sentences=settings.ARANDU_EXTRACTIVE_SENTENCES,
            embed=sentence_embed(
                (h.sentences for h in hits), fallback=registry.get_sentence_embeddings()
            ),
            query_vector=query_vector,
            max_embedded=settings.ARANDU_EXTRACTIVE_EMBED_SENTENCES,
            scale=similarity_scale(registry.get_embedder().name),
        )
        text, sources = cited_sources(result.text, hits) if result.found else (result.text, [])
    answer = Answer(
        language=result.language,
        labels=answer_labels(result.language),
        text=text,
        mode=AnswerMode.EXTRACTIVE,
        sources=sources,
        provider="extractive",
        model="extractive",
        cost=charges_cost(charges),
        notices=notices,
        request_id=request_id,
    )
    return answer, _charged(charges, mode=AnswerMode.EXTRACTIVE)


def _chain_counter(steps: Sequence[Step]) -> Callable[[str], int]:
    """Count with every tokenizer of the chain and keep the largest, so the prompt fits
    whichever model ends up answering."""
    counters = [tokenizer_for(model) for model in dict.fromkeys(s.model for s in steps)]
    if len(counters) == 1:
        return counters[0]
    return lambda text: max(count(text) for count in counters)
