"""The one seam every door calls: `ask(*, member, question, channel, history=())`.

Order of work (shared/ARCHITECTURE.md): validate → resolve tier and knowledge sets →
exact cache hit? → rate limit and budget reservation → semantic cache hit? → retrieve →
answer (the tier's models with fallback, or extractive) → cache it → settle the
reservation in the ledger → return. With no model configured (the embedded default) the
answer is extractive and costs nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from functools import partial

from ragengine.answers import Answer, AnswerMode, Channel, Turn
from ragengine.cache import answer_from_hit, generation_lock
from ragengine.models import Member
from ragengine.retrieval.types import VectorStoreError
from ragengine.services.answer_plan import Plan, plan_answer
from ragengine.services.answering import (
    ALL_DOWN_NOTICE,
    QuestionVector,
    answer_from_documents,
)
from ragengine.services.ask_cache import AskCache, cached_usage, serve_hit
from ragengine.services.budgets import Denied, UsageDetails, usage_settle
from ragengine.services.generation import TextSink, tier_steps
from ragengine.services.members import ab_arm, tier_for_member
from ragengine.services.questions import (
    QuestionProblem,
    channel_set_ids,
    question_validate,
    retrieval_text,
)
from ragengine.services.timing import Stopwatch

__all__ = ["ALL_DOWN_NOTICE", "INACTIVE_MESSAGE", "STORE_DOWN_MESSAGE", "ask"]

logger = logging.getLogger(__name__)

INACTIVE_MESSAGE = (
    "Your access to Arandu is switched off. Ask an admin if you think this is a mistake."
)
STORE_DOWN_MESSAGE = (
    "The knowledge base can't be reached right now, so I can't look this up. "
    "Please try again in a few minutes."
)


def ask(
    *,
    member: Member | None,
    question: str,
    channel: Channel,
    history: Sequence[Turn] = (),
    request_id: str = "",
    on_text: TextSink | None = None,
    use_cache: bool = True,
) -> Answer:
    """Answer `question` for `member` asking in `channel`, with numbered sources.

    A door may pass its own `request_id` (≤ 32 characters) so its logs and the ledger
    share one id, and `on_text` to receive a streaming model's text so far. With
    `use_cache=False` the answer cache is neither read nor written (evaluation runs
    measure answering, not the cache).
    """
    request_id = (request_id or uuid.uuid4().hex[:12])[:32]
    watch = Stopwatch()
    with watch.stage("validate"):
        problem = question_validate(question=question)
        if member is not None and not member.is_active:
            problem = QuestionProblem(INACTIVE_MESSAGE)
        set_ids = None
        if problem is None:
            set_ids, problem = channel_set_ids(channel=channel)
    if problem is not None:
        return _refused(problem.message, watch, request_id, channel)

    question = question.strip()
    where = f"{channel.platform}:{channel.channel_id}"
    tier = tier_for_member(member)
    arm = ab_arm(member=member, tier=tier)
    steps = tier_steps(tier=tier, arm=arm)
    search_text = retrieval_text(question=question, history=history)
    # A follow-up's meaning depends on the thread: never served from or stored in the cache.
    cache = None
    if use_cache and search_text == question:
        cache = AskCache.build(question=question, set_ids=set_ids, steps=steps, tier=tier)
        if not cache.decision.cacheable:  # e.g. real-time questions: never served stale
            cache = None
    if cache is not None:
        # Fast path: a repeated question is answered before any reservation or embedding.
        hit = cache.lookup(None, watch)
        if hit is not None:
            served = serve_hit(
                hit=hit,
                member=member,
                tier=tier,
                request_id=request_id,
                where=where,
                counts=tier.cache_hits_count_toward_quota,
                watch=watch,
            )
            return _served(served, watch, request_id, channel)

    with watch.stage("budget"):
        plan = plan_answer(
            member=member, tier=tier, steps=steps, request_id=request_id, where=where
        )
    vector = QuestionVector(question=question, watch=watch)
    if plan.refusal is not None:
        if plan.rate_limited and cache is not None and not tier.cache_hits_count_toward_quota:
            hit = cache.lookup(vector, watch)  # a paraphrase hit is still free to serve
            if hit is not None:
                served = serve_hit(
                    hit=hit,
                    member=member,
                    tier=tier,
                    request_id=request_id,
                    where=where,
                    counts=False,
                    watch=watch,
                )
                return _served(served, watch, request_id, channel)
        return _refused(plan.refusal, watch, request_id, channel)
    if cache is not None:
        cache = cache.for_steps(plan.steps)

    try:
        answer, details = _answer_or_cached(
            cache=cache,
            vector=vector,
            watch=watch,
            request_id=request_id,
            counts=tier.cache_hits_count_toward_quota,
            fresh=partial(
                answer_from_documents,
                question=question,
                search_text=search_text,
                history=history,
                set_ids=set_ids,
                tier=tier,
                plan=plan,
                watch=watch,
                request_id=request_id,
                vector=vector,
                on_text=on_text,
            ),
        )
    except VectorStoreError:
        logger.exception("vector store unavailable", extra={"request_id": request_id})
        _release(plan)
        return _refused(STORE_DOWN_MESSAGE, watch, request_id, channel)
    except BaseException:
        _release(plan)  # an error must not eat the budget
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


def _answer_or_cached(
    *,
    cache: AskCache | None,
    vector: QuestionVector,
    watch: Stopwatch,
    request_id: str,
    counts: bool,
    fresh: Callable[[], tuple[Answer, UsageDetails]],
) -> tuple[Answer, UsageDetails]:
    """A cached answer if one appears, else `fresh()` (stored in the cache); concurrent
    askers of the same question wait for the first answer instead of all generating it."""

    def answer_and_store() -> tuple[Answer, UsageDetails]:
        answer, details = fresh()
        if cache is not None:
            cache.store(answer, vector, details.cost)
        return answer, details

    if cache is None:
        return answer_and_store()
    hit = cache.lookup(vector, watch)
    if hit is None:
        with generation_lock(key=cache.key):
            hit = cache.lookup(vector, watch)  # the previous holder usually just stored it
            if hit is None:
                return answer_and_store()
    answer = answer_from_hit(hit=hit, request_id=request_id)
    return answer, cached_usage(answer=answer, hit=hit, counts=counts)


def _release(plan: Plan) -> None:
    if plan.reservation is not None:
        usage_settle(
            reservation=plan.reservation,
            details=UsageDetails(mode="error", counts_toward_quota=False),
        )


def _served(served: Answer | Denied, watch: Stopwatch, request_id: str, channel: Channel) -> Answer:
    if isinstance(served, Denied):
        return _refused(served.message, watch, request_id, channel)
    return served


def _refused(message: str, watch: Stopwatch, request_id: str, channel: Channel) -> Answer:
    logger.info(
        "question refused",
        extra={"request_id": request_id, "platform": channel.platform, "reason": message},
    )
    return Answer(
        text=message, mode=AnswerMode.REFUSED, timings_ms=watch.finish(), request_id=request_id
    )
