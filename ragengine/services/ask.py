"""The one seam every door calls: `ask(*, member, question, channel, history=())`.

Order of work (shared/ARCHITECTURE.md), read top to bottom in `_answer`: the question
(validated, its knowledge sets, the text to search) → the member's route (tier, A/B arm,
models) → an exact cache hit, before any reservation or embedding → the spending plan
(rate limit and budget reservation, or the hard-limit policy) → a paraphrase hit → one
asker at a time answers from the documents (retrieve, then the models with fallback or
extractive) → the reservation settled → the answer cached → returned.

Every cached answer leaves by one path (`serve_cached`), every refusal by another (a
`Refusal` raised where it is decided, turned into an answer here). A paid call is settled
the moment it returns, so nothing after it (a cache write, rendering, logging) can change
what is charged; a failure before the end settles whatever the calls cost so far. The
cache is an optimisation: a failure to store an answer is logged and the answer still
goes out. With no model configured (the embedded default) answers are extractive and
cost nothing. The question's request id is bound for its logs (ragengine.request_context).

What each step decides goes on the question's `AskRecord`; once the answer is final
(refused or failed too) `ask_record_save` writes it down once: the history row, the
metrics, the log line and the trace.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import ExitStack

from ragengine.ask_types import Answer, AnswerMode, Channel, Refusal, Turn
from ragengine.cache import QuestionCache
from ragengine.models import Member
from ragengine.request_context import current_request_id, new_request_id, request_scope
from ragengine.retrieval.types import VectorStoreError
from ragengine.services.ask_record import AskRecord, ask_record_save
from ragengine.services.document_answers import (
    ALL_DOWN_NOTICE,
    QuestionVector,
    answer_from_documents,
)
from ragengine.services.generation import TextSink
from ragengine.services.questions import INACTIVE_MESSAGE, question_intake
from ragengine.services.routing import route_for
from ragengine.services.spending import plan_answer, plan_finish, plan_release, serve_cached
from ragengine.services.timing import Stopwatch

__all__ = ["ALL_DOWN_NOTICE", "INACTIVE_MESSAGE", "STORE_DOWN_MESSAGE", "TextSink", "ask"]

logger = logging.getLogger(__name__)

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
    share one id, and `on_text` to receive a streaming model's text so far.
    `use_cache=False` neither reads nor writes the answer cache (evaluation runs measure
    answering, not the cache).
    """
    record = AskRecord(
        request_id=(request_id or current_request_id() or new_request_id())[:32],
        member=member,
        question=question,
        channel=channel,
        use_cache=use_cache,
        watch=Stopwatch(),
    )
    with request_scope(record.request_id, door=channel.platform):
        try:
            record.answer = _answer(record, history=history, on_text=on_text)
        except Refusal as refusal:
            record.answer = Answer(
                text=refusal.message,
                mode=AnswerMode.REFUSED,
                timings_ms=record.watch.finish(),
                request_id=record.request_id,
            )
        except Exception:
            record.failed = True
            raise
        finally:  # refusals and errors too
            ask_record_save(record)
    return record.answer


def _answer(record: AskRecord, *, history: Sequence[Turn], on_text: TextSink | None) -> Answer:
    """The order of work; any step may raise Refusal."""
    watch, member = record.watch, record.member
    with watch.stage("validate"):
        intake = record.intake = question_intake(
            member=member, question=record.question, channel=record.channel, history=history
        )
    route = record.route = route_for(member=member)
    vector = QuestionVector(question=intake.question, watch=watch)
    cache = None
    if record.use_cache and not intake.follow_up:
        record.cache_rule, cache = QuestionCache.open(
            question=intake.question,
            set_ids=intake.set_ids,
            family=route.family,
            semantic_allowed=route.tier.semantic_cache_enabled,
            semantic_threshold=vector.paraphrase_threshold(),
        )
        record.opened_cache = cache
    hit = None
    if cache is not None:
        with watch.stage("cache"):
            hit = cache.lookup(None)  # a repeat: no reservation, no embedding
    plan = None
    if hit is None:
        with watch.stage("budget"):
            plan = record.plan = plan_answer(
                member=member, route=route, request_id=record.request_id, where=record.where
            )
        may_serve_cached = plan.refusal is None or (
            plan.rate_limited and not route.tier.cache_hits_count_toward_quota
        )
        if cache is not None and plan.refusal is None:
            cache = cache.for_family(plan.family)  # a hard-limit policy may change it
        if cache is not None and may_serve_cached:
            with watch.stage("cache"):
                hit = cache.lookup(vector)  # a paraphrase, free even when rate-limited
        if hit is None and plan.refusal is not None:
            raise Refusal(plan.refusal)

    with ExitStack() as held:
        if hit is None and cache is not None:
            held.enter_context(cache.generation_lock())
            with watch.stage("cache"):
                hit = cache.lookup(vector)  # the previous holder usually just stored it
        if hit is not None:
            record.hit = hit
            with watch.stage("budget"):
                answer = serve_cached(
                    hit=hit,
                    plan=plan,
                    member=member,
                    tier=route.tier,
                    request_id=record.request_id,
                    where=record.where,
                    latencies_ms=watch.timings,
                )
            answer.timings_ms = watch.finish()
            return answer
        try:
            answer, details = answer_from_documents(record=record, vector=vector, on_text=on_text)
        except VectorStoreError as exc:
            logger.exception("vector store unavailable", extra={"request_id": record.request_id})
            plan_release(plan)
            raise Refusal(STORE_DOWN_MESSAGE) from exc
        except BaseException:
            plan_release(plan)  # an error must not eat the budget, nor make a paid call free
            raise
        answer.timings_ms = watch.finish()
        details.latencies_ms = dict(answer.timings_ms)
        plan_finish(plan=plan, answer=answer, details=details)
        if cache is not None:
            try:
                record.stored = cache.store(answer=answer, vector=vector, cost=details.cost)
            except Exception:  # the cache is an optimisation: the answer still goes out
                logger.exception("answer not cached", extra={"request_id": record.request_id})
    return answer
