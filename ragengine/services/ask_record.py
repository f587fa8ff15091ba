"""What happened to one question: the record `ask()` fills in as it goes, and the one
place that writes it down once the answer is final (`ask_record_save`).

The steps of `ask()` only put what they decided on the record (the route, the cache rule,
the budget plan, the ranking, the prompt, the models tried, the answer); nothing on the
way calls out to the history, the metrics or the trace and back. At the end, refused or
failed too, `ask_record_save` writes the history row, counts the answer in the metrics,
logs the one line that says how it ended, and hands the decisions to the trace a
playground or evaluation run opened (in the order they were made). Nothing here may
change the answer: every writer below is one that never raises into the asker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ragengine import metrics
from ragengine.ask_types import Answer, AnswerMode, Channel
from ragengine.models import Member
from ragengine.services.question_history import question_record
from ragengine.services.timing import Stopwatch
from ragengine.trace import trace_record

if TYPE_CHECKING:
    from ragengine.cache import CacheHit, QuestionCache, RuleDecision
    from ragengine.composition.prompts import BuiltPrompt
    from ragengine.retrieval.types import SearchHit, SearchQuery
    from ragengine.services.generation import Generation
    from ragengine.services.questions import Intake
    from ragengine.services.routing import Route
    from ragengine.services.spending import Plan

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class AskRecord:
    """One question from the door's call to its answer. Fields stay None until the step
    that decides them is reached (a question refused while validating has no route)."""

    request_id: str
    member: Member | None
    question: str
    channel: Channel
    use_cache: bool
    watch: Stopwatch
    intake: Intake | None = None
    route: Route | None = None
    cache_rule: RuleDecision | None = None  # None as well when the cache was not asked
    opened_cache: QuestionCache | None = None  # None: not cacheable, off, or a follow-up
    plan: Plan | None = None  # None: served from the cache before any reservation
    hit: CacheHit | None = None
    query: SearchQuery | None = None
    hits: list[SearchHit] | None = None  # None: no retrieval (a cache hit or a refusal)
    prompt: BuiltPrompt | None = None  # None after a retrieval: no model, or nothing to cite
    generation: Generation | None = None
    stored: bool | None = None  # None: the cache was not written (or failed to be)
    answer: Answer | None = None
    failed: bool = False  # an unexpected error: the door apologises

    @property
    def where(self) -> str:
        """The channel as the ledger names it."""
        return f"{self.channel.platform}:{self.channel.channel_id}"

    @property
    def tier_name(self) -> str:
        """The tier the metrics label the question with ("" before it is known)."""
        return self.route.tier.name if self.route is not None else ""


def ask_record_save(record: AskRecord) -> None:
    """Write down how the question ended: the history row always (refusals and errors
    too: the history shows what people could not get), then the metrics, the log line
    and the trace."""
    answer, door = record.answer, record.channel.platform
    question_record(
        request_id=record.request_id,
        member=record.member,
        channel=record.channel,
        question=record.question,
        answer=answer,
    )
    _trace(record)
    if answer is None:
        if record.failed:
            metrics.record_question_error(door=door, tier=record.tier_name)
        return
    if answer.mode == AnswerMode.CACHED and record.hit is not None:
        metrics.record_cache_saved(record.hit.cost_saved)
    metrics.record_answer(answer, door=door, tier=record.tier_name)
    if answer.mode == AnswerMode.REFUSED:
        logger.info(
            "question refused",
            extra={"request_id": record.request_id, "platform": door, "reason": answer.text},
        )
        return
    logger.info(
        "question answered",
        extra={
            "request_id": record.request_id,
            "platform": door,
            "mode": str(answer.mode),
            "model": answer.model,
            "sources": len(answer.sources),
            "cost": str(answer.cost),
            "total_ms": round(answer.timings_ms["total"], 1),
        },
    )


def _trace(record: AskRecord) -> None:
    """The decisions, in the order `ask()` made them, for a trace opened around it (with
    none open, each `trace_record` returns at once)."""
    intake, route = record.intake, record.route
    if intake is None or route is None:
        return  # refused while validating: nothing was decided yet
    trace_record("route", route=route, set_ids=intake.set_ids, search_text=intake.search_text)
    if record.cache_rule is not None:
        trace_record("cache_rule", decision=record.cache_rule)
    trace_record(
        "cache_open",
        cache=record.opened_cache,
        use_cache=record.use_cache,
        follow_up=intake.follow_up,
    )
    if record.plan is not None:
        trace_record("budget", plan=record.plan)
    if record.hit is not None:
        trace_record("cache_hit", hit=record.hit)
    query = record.query
    if record.hits is not None and query is not None:
        trace_record(
            "retrieval",
            search_text=query.text,
            hits=record.hits,
            set_ids=query.knowledge_sets,
            top_k=query.top_k,
            min_similarity=query.min_similarity,
            alpha=query.alpha,
            fusion=query.fusion,
            per_document=query.per_document,
        )
        trace_record("prompt", prompt=record.prompt)
    if record.generation is not None:
        trace_record("generation", generation=record.generation)
    if record.stored is not None and record.opened_cache is not None:
        trace_record("cache_store", stored=record.stored, decision=record.opened_cache.decision)
