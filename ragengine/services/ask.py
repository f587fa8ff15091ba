"""The one seam every door calls: `ask(*, member, question, channel, history=())`.

Order of work (shared/ARCHITECTURE.md): validate → resolve tier and knowledge sets →
rate limit and budget reservation → retrieve (hybrid) → build prompt within the tier's
token budget → route through the tier's model chain with fallback → settle the
reservation in the ledger → return. With no model configured (the embedded default) the
answer is extractive and costs nothing.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.conf import settings

from ragengine.answers import Answer, AnswerMode, Channel, Source, Turn
from ragengine.llm.extractive import Passage, answer_extractively
from ragengine.llm.prompts import PromptBudgetError, build_prompt
from ragengine.llm.tokens import tokenizer_for
from ragengine.models import HardLimitPolicy, KnowledgeSet, Member, Tier
from ragengine.retrieval.analysis import analyze, detect_language, words
from ragengine.retrieval.registry import get_embedder, get_sentence_embeddings, get_vector_store
from ragengine.retrieval.types import SearchHit, SearchQuery, VectorStoreError
from ragengine.selectors.guard import active_blocked_patterns
from ragengine.services.answer_cache import (
    CacheHit,
    CacheScope,
    RuleDecision,
    answer_from_hit,
    answer_payload,
    cache_key_for,
    cache_lookup,
    cache_rule_for,
    cache_scope,
    cache_store,
    generation_guard,
)
from ragengine.services.budgets import (
    Denied,
    Reservation,
    UsageDetails,
    usage_open,
    usage_record_cached,
    usage_record_refusal,
    usage_settle,
)
from ragengine.services.generation import (
    Step,
    downgrade_steps,
    generate,
    tier_steps,
    worst_case_cost,
)
from ragengine.services.guard import blocked_message, check_question
from ragengine.services.members import ab_arm, tier_for_member

logger = logging.getLogger(__name__)

SNIPPET_CHARS = 280
# A follow-up with this few content terms ("and for flights?") borrows the previous
# question's terms for retrieval.
FOLLOW_UP_MAX_TERMS = 3
_MARKER = re.compile(r"\[(\d+)\]")
STORE_DOWN_MESSAGE = (
    "The knowledge base can't be reached right now, so I can't look this up. "
    "Please try again in a few minutes."
)
ALL_DOWN_NOTICE = (
    "The AI models are unavailable right now, so this answer quotes the documents directly."
)


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
            self.timings[name] = self.timings.get(name, 0.0) + (time.perf_counter() - start) * 1000

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
    blocked = check_question(stripped, patterns=active_blocked_patterns())
    if blocked is not None:
        language = detect_language(words(stripped), stripped)
        logger.warning("question blocked", extra={"pattern": blocked.name})
        return QuestionProblem(blocked_message(blocked, language=language))
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


def cited_sources(text: str, hits: Sequence[SearchHit]) -> tuple[str, list[Source]]:
    """Renumber the passages the answer cites 1..n in order of first citation."""
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


@dataclass(slots=True)
class _Plan:
    """What the budget allows for this question."""

    steps: list[Step]
    reservation: Reservation | None = None
    notices: list[str] = field(default_factory=list)
    refusal: str | None = None
    rate_limited: bool = False


def _plan(
    *, member: Member | None, tier: Tier, arm: str, request_id: str, channel: Channel
) -> _Plan:
    """Rate limit, then reserve the chain's worst case; on a hard limit, apply the policy."""
    steps = tier_steps(tier=tier, arm=arm)
    if member is None:  # internal callers (benchmarks) without a ledger
        return _Plan(steps=steps)
    where = f"{channel.platform}:{channel.channel_id}"
    opened = usage_open(
        member=member,
        tier=tier,
        worst_case=worst_case_cost(steps=steps, tier=tier),
        request_id=request_id,
        channel=where,
    )
    if isinstance(opened, Reservation):
        return _Plan(steps=steps, reservation=opened)
    if opened.kind == "rate":
        return _Plan(steps=[], refusal=opened.message, rate_limited=True)
    return _apply_hard_limit(
        member=member, tier=tier, denial=opened, request_id=request_id, where=where
    )


def _apply_hard_limit(
    *, member: Member, tier: Tier, denial: Denied, request_id: str, where: str
) -> _Plan:
    policy = tier.hard_limit_policy
    if policy == HardLimitPolicy.REFUSE:
        usage_record_refusal(member=member, tier=tier, request_id=request_id, channel=where)
        return _Plan(steps=[], refusal=f"{denial.message} Until then I can't answer questions.")
    if policy == HardLimitPolicy.DOWNGRADE:
        cheaper = downgrade_steps(tier=tier)
        opened = usage_open(
            member=member,
            tier=tier,
            worst_case=worst_case_cost(steps=cheaper, tier=tier),
            request_id=request_id,
            channel=where,
            check_rate=False,
        )
        if cheaper and isinstance(opened, Reservation):
            model = cheaper[0].model
            return _Plan(
                steps=cheaper,
                reservation=opened,
                notices=[f"{denial.message} Meanwhile answers come from {model}."],
            )
    opened = usage_open(
        member=member,
        tier=tier,
        worst_case=Decimal("0"),
        request_id=request_id,
        channel=where,
        check_rate=False,
    )
    reservation = opened if isinstance(opened, Reservation) else None
    return _Plan(
        steps=[],
        reservation=reservation,
        notices=[f"{denial.message} Meanwhile answers quote the documents (no AI model)."],
    )


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
        set_ids = None
        if problem is None:
            set_ids, set_problem = _resolve_sets(channel)
            if set_problem:
                problem = QuestionProblem(set_problem)
    if problem is not None:
        return _refused(problem.message, watch, request_id, channel)

    question = question.strip()
    tier = tier_for_member(member)
    arm = ab_arm(member=member, tier=tier)
    # A follow-up's meaning depends on the thread, so it is neither served from nor stored
    # in the cache.
    cacheable = _retrieval_text(question, history) == question
    if cacheable:
        # Fast path: a repeated question is answered before any reservation or embedding.
        early = _CacheContext.build(
            question=question, set_ids=set_ids, steps=tier_steps(tier=tier, arm=arm), tier=tier
        )
        if early.decision.cacheable:
            hit = early.lookup(None, watch)
            if hit is not None:
                return _serve_exact_hit(hit, member, tier, request_id, channel, watch)
    with watch.stage("budget"):
        plan = _plan(member=member, tier=tier, arm=arm, request_id=request_id, channel=channel)
    vector = _LazyVector(question=question, watch=watch)
    cache = None
    if cacheable:
        cache = _CacheContext.build(question=question, set_ids=set_ids, steps=plan.steps, tier=tier)
        if not cache.decision.cacheable:  # e.g. real-time questions: never served stale
            cache = None
    if plan.refusal is not None:
        if plan.rate_limited and cache and not tier.cache_hits_count_toward_quota:
            hit = cache.lookup(vector, watch)
            if hit is not None and member is not None:
                return _serve_uncounted_hit(hit, member, tier, request_id, channel, watch)
        return _refused(plan.refusal, watch, request_id, channel)

    try:
        hit = cache.lookup(vector, watch) if cache else None
        if hit is None and cache is not None:
            with generation_guard(key=cache.key):
                hit = cache.lookup(vector, watch)  # the previous holder usually just stored it
                if hit is None:
                    answer, details = _answer_and_store(
                        question, history, set_ids, tier, plan, watch, request_id, vector, cache
                    )
        elif hit is None:
            answer, details = _answer_and_store(
                question, history, set_ids, tier, plan, watch, request_id, vector, None
            )
        if hit is not None:
            answer = answer_from_hit(hit=hit, request_id=request_id)
            details = UsageDetails(
                mode=AnswerMode.CACHED,
                provider=answer.provider,
                model=answer.model,
                cost_saved=hit.cost_saved,
                counts_toward_quota=tier.cache_hits_count_toward_quota,
            )
    except VectorStoreError:
        logger.exception("vector store unavailable", extra={"request_id": request_id})
        if plan.reservation is not None:
            usage_settle(
                reservation=plan.reservation,
                details=UsageDetails(mode="error", counts_toward_quota=False),
            )
        return _refused(STORE_DOWN_MESSAGE, watch, request_id, channel)
    except BaseException:
        if plan.reservation is not None:  # release: an error must not eat the budget
            usage_settle(
                reservation=plan.reservation,
                details=UsageDetails(mode="error", counts_toward_quota=False),
            )
        raise
    details.arm = arm if details.mode == AnswerMode.GENERATED else ""
    answer.timings_ms = watch.finish()
    details.latencies_ms = dict(answer.timings_ms)
    if plan.reservation is not None:
        usage_settle(reservation=plan.reservation, details=details)
        soft = plan.reservation.state.soft_limit_notice(extra=details.cost)
        if soft and not plan.notices:  # a hard-limit notice already says more
            answer.notices.insert(0, soft)
    logger.info(
        "question answered",
        extra={
            "request_id": request_id,
            "platform": channel.platform,
            "mode": str(answer.mode),
            "model": answer.model,
            "sources": len(answer.sources),
            "cost": str(answer.cost),
            "total_ms": round(answer.timings_ms["total"], 1),
        },
    )
    return answer


class _LazyVector:
    """The question's embedding, computed at most once and only when something needs it
    (exact cache hits never do)."""

    def __init__(self, *, question: str, watch: _Stopwatch) -> None:
        self.question = question
        self.watch = watch
        self._vector: np.ndarray | None = None

    def __call__(self) -> np.ndarray:
        if self._vector is None:
            with self.watch.stage("embed"):
                self._vector = get_embedder().embed_query(self.question)
        return self._vector


@dataclass(frozen=True, slots=True)
class _CacheContext:
    question: str
    scope: CacheScope
    decision: RuleDecision
    allow_semantic: bool
    key: str
    steps: tuple[Step, ...]

    @classmethod
    def build(
        cls,
        *,
        question: str,
        set_ids: tuple[str, ...] | None,
        steps: Sequence[Step],
        tier: Tier,
    ) -> _CacheContext:
        family = steps[0].label if steps else "extractive"
        scope = cache_scope(set_ids=set_ids, model_family=family)
        decision = cache_rule_for(question=question)
        return cls(
            question=question,
            scope=scope,
            decision=decision,
            allow_semantic=tier.semantic_cache_enabled and decision.semantic,
            key=cache_key_for(question=question, scope=scope),
            steps=tuple(steps),
        )

    def lookup(self, vector: Callable[[], np.ndarray] | None, watch: _Stopwatch) -> CacheHit | None:
        """Exact, then (with a vector) semantic; `vector=None` means exact only."""
        with watch.stage("cache"):
            return cache_lookup(
                question=self.question,
                query_vector=vector,
                scope=self.scope,
                allow_semantic=self.allow_semantic,
            )

    def store(self, answer: Answer, vector: Callable[[], np.ndarray], cost: Decimal) -> None:
        """Only answers of the scope's own kind: never a fallback or degraded one."""
        if self.steps:
            intended = (
                answer.mode == AnswerMode.GENERATED
                and answer.provider == self.steps[0].endpoint.name
            )
        else:
            intended = answer.mode == AnswerMode.EXTRACTIVE and not answer.notices
        if intended and self.decision.cacheable:
            cache_store(
                question=self.question,
                query_vector=vector(),
                scope=self.scope,
                answer=answer_payload(answer=answer),
                cost=cost,
                decision=self.decision,
            )


def _answer_and_store(question, history, set_ids, tier, plan, watch, request_id, vector, cache):
    answer, details = _answer(
        question=question,
        history=history,
        set_ids=set_ids,
        tier=tier,
        plan=plan,
        watch=watch,
        request_id=request_id,
        vector=vector,
    )
    if cache is not None:
        cache.store(answer, vector, details.cost)
    return answer, details


def _serve_exact_hit(
    hit: CacheHit,
    member: Member | None,
    tier: Tier,
    request_id: str,
    channel: Channel,
    watch: _Stopwatch,
) -> Answer:
    """A cached answer in one ledger write: free, but still subject to the question quota
    when the tier counts cache hits."""
    answer = answer_from_hit(hit=hit, request_id=request_id)
    if member is None:
        answer.timings_ms = watch.finish()
        return answer
    with watch.stage("budget"):
        denied = usage_record_cached(
            member=member,
            tier=tier,
            request_id=request_id,
            channel=f"{channel.platform}:{channel.channel_id}",
            details=UsageDetails(
                mode=AnswerMode.CACHED,
                provider=answer.provider,
                model=answer.model,
                cost_saved=hit.cost_saved,
                counts_toward_quota=tier.cache_hits_count_toward_quota,
            ),
        )
    if denied is not None:
        return _refused(denied.message, watch, request_id, channel)
    answer.timings_ms = watch.finish()
    logger.info(
        "question answered",
        extra={
            "request_id": request_id,
            "platform": channel.platform,
            "mode": "cached",
            "total_ms": round(answer.timings_ms["total"], 1),
        },
    )
    return answer


def _serve_uncounted_hit(
    hit: CacheHit,
    member: Member,
    tier: Tier,
    request_id: str,
    channel: Channel,
    watch: _Stopwatch,
) -> Answer:
    """Over the question quota, but this tier doesn't count cache hits: serve it, free."""
    opened = usage_open(
        member=member,
        tier=tier,
        worst_case=Decimal("0"),
        request_id=request_id,
        channel=f"{channel.platform}:{channel.channel_id}",
        counts_toward_quota=False,
        check_rate=False,
    )
    answer = answer_from_hit(hit=hit, request_id=request_id)
    answer.timings_ms = watch.finish()
    if isinstance(opened, Reservation):
        usage_settle(
            reservation=opened,
            details=UsageDetails(
                mode=AnswerMode.CACHED,
                provider=answer.provider,
                model=answer.model,
                cost_saved=hit.cost_saved,
                latencies_ms=dict(answer.timings_ms),
            ),
        )
    return answer


def _chain_counter(steps: Sequence[Step]):
    """Count with every tokenizer of the chain and keep the largest, so the prompt fits
    whichever model ends up answering."""
    counters = [tokenizer_for(model) for model in dict.fromkeys(s.model for s in steps)]
    if len(counters) == 1:
        return counters[0]
    return lambda text: max(count(text) for count in counters)


def _refused(message: str, watch: _Stopwatch, request_id: str, channel: Channel) -> Answer:
    logger.info(
        "question refused",
        extra={"request_id": request_id, "platform": channel.platform, "reason": message},
    )
    return Answer(
        text=message, mode=AnswerMode.REFUSED, timings_ms=watch.finish(), request_id=request_id
    )


def _answer(
    *,
    question: str,
    history: Sequence[Turn],
    set_ids: tuple[str, ...] | None,
    tier: Tier,
    plan: _Plan,
    watch: _Stopwatch,
    request_id: str,
    vector: _LazyVector,
) -> tuple[Answer, UsageDetails]:
    embedder = get_embedder()
    retrieval_text = _retrieval_text(question, history)
    if retrieval_text == question:
        query_vector = vector()
    else:
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
    notices = list(plan.notices)
    prompt = None
    if plan.steps and hits:
        try:
            prompt = build_prompt(
                question=question,
                hits=hits,
                history=history,
                count=_chain_counter(plan.steps),
                context_budget=tier.context_token_budget,
            )
        except PromptBudgetError:
            logger.error("context budget too small", extra={"tier": tier.name})
    if prompt is not None:
        with watch.stage("generate"):
            generation = generate(
                steps=plan.steps,
                messages=prompt.messages,
                max_tokens=tier.max_output_tokens,
                request_id=request_id,
            )
        if generation.result is not None and generation.step is not None:
            if generation.failures:
                failed = ", ".join(step.model for step, _ in generation.failures)
                notices.append(
                    f"{failed} did not answer, so {generation.step.model} answered instead."
                )
            text, sources = cited_sources(generation.result.text, prompt.used_hits)
            result = generation.result
            answer = Answer(
                text=text,
                mode=AnswerMode.GENERATED,
                sources=sources,
                provider=generation.step.endpoint.name,
                model=result.model or generation.step.model,
                tokens_in=result.tokens_in,
                tokens_out=result.tokens_out,
                cost=generation.cost,
                notices=notices,
                request_id=request_id,
            )
            return answer, UsageDetails(
                mode=AnswerMode.GENERATED,
                provider=answer.provider,
                model=answer.model,
                tokens_in=answer.tokens_in,
                tokens_out=answer.tokens_out,
                cost=answer.cost,
            )
        notices.append(ALL_DOWN_NOTICE)
    with watch.stage("generate"):
        result = answer_extractively(
            question=question,
            passages=[
                Passage(number=i, text=h.text, score=h.score, similarity=h.similarity)
                for i, h in enumerate(hits, start=1)
            ],
            max_sentences=settings.ARANDU_EXTRACTIVE_SENTENCES,
            embed=get_sentence_embeddings(),
            query_vector=query_vector,
            max_embedded=settings.ARANDU_EXTRACTIVE_EMBED_SENTENCES,
        )
        text, sources = cited_sources(result.text, hits) if result.found else (result.text, [])
    answer = Answer(
        text=text,
        mode=AnswerMode.EXTRACTIVE,
        sources=sources,
        provider="extractive",
        model="extractive",
        notices=notices,
        request_id=request_id,
    )
    return answer, UsageDetails(
        mode=AnswerMode.EXTRACTIVE, provider="extractive", model="extractive"
    )
