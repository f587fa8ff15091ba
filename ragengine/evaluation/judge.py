"""The optional LLM judge: a model (the first of a chosen tier's chain) grades each answer
for faithfulness to the sources it cited and relevance to the question, 0 to 1.

A judgement that can't be had — the judge is down, its reply is not the JSON asked for, a
score is outside 0–1, the run's budget for the judge is spent — is recorded as "not
judged" with the reason; the aggregates say how many cases were judged, never NaN. The
judge's calls are in the ledger like the run's other spend (channel `eval:run:<id>`, mode
`judge`), charged to the run's judge member and capped by the run's budget cap.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ragengine.llm.registry import provider_for
from ragengine.llm.tokens import tokenizer_for
from ragengine.llm.types import ChatMessage, ChatRequest, ProviderError
from ragengine.models import (
    EvalRun,
    Member,
    ModelPrice,
    ProviderEndpoint,
    Tier,
    UsageRecord,
    UsageStatus,
)
from ragengine.services.answer_targets import EVAL_PREFIX
from ragengine.services.pricing import PriceMissing, cost_of, price_for

logger = logging.getLogger(__name__)

MAX_OUTPUT_TOKENS = 300
SNIPPET_CHARS = 1200
SYSTEM_PROMPT = """You grade answers written by a company knowledge assistant.
You get a question, the numbered sources the answer cited (excerpts), and the answer.
Reply with ONLY a JSON object, no other text:
{"faithfulness": <0 to 1: the share of the answer's statements the cited sources support>,
 "relevance": <0 to 1: how well the answer addresses the question>,
 "reason": "<one short sentence>"}"""
_JSON = re.compile(r"\{.*\}", re.DOTALL)


class JudgeUnavailable(ValueError):
    """The chosen tier has no model the judge can use; the message says why."""


@dataclass(frozen=True, slots=True)
class JudgeModel:
    endpoint: ProviderEndpoint
    model: str
    price: ModelPrice

    @property
    def label(self) -> str:
        return f"{self.endpoint.name}:{self.model}"


def judge_model_for(tier: Tier) -> JudgeModel:
    """The tier's first model that is switched on and has a price."""
    for step in tier.chain.select_related("endpoint"):
        if not step.endpoint.enabled:
            continue
        try:
            price = price_for(provider_kind=step.endpoint.kind, model=step.model)
        except PriceMissing:
            continue
        return JudgeModel(step.endpoint, step.model, price)
    raise JudgeUnavailable(f"The judge tier {tier} has no model with a price that is switched on.")


@dataclass(slots=True)
class Judgement:
    judged: bool
    reason: str
    faithfulness: float | None = None
    relevance: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Decimal = Decimal("0")
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"judged": self.judged, "reason": self.reason}
        if self.judged:
            data |= {"faithfulness": self.faithfulness, "relevance": self.relevance}
        if self.tokens_in or self.tokens_out:
            data |= {
                "tokens_in": self.tokens_in,
                "tokens_out": self.tokens_out,
                "cost": str(self.cost),
            }
        return data


class JudgeReplyError(ValueError):
    pass


def parse_judgement(text: str) -> tuple[float, float, str]:
    """(faithfulness, relevance, reason) from the judge's reply, or JudgeReplyError."""
    match = _JSON.search(text or "")
    if not match:
        raise JudgeReplyError("the judge's reply had no JSON object")
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError as exc:
        raise JudgeReplyError(f"the judge's reply was not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise JudgeReplyError("the judge's reply was not a JSON object")
    scores = []
    for name in ("faithfulness", "relevance"):
        value = data.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise JudgeReplyError(f"the judge gave no number for {name}")
        if not 0 <= value <= 1:
            raise JudgeReplyError(f"the judge's {name} {value} is outside 0–1")
        scores.append(float(value))
    return scores[0], scores[1], str(data.get("reason") or "")[:500]


class Judge:
    """Grades answers for one run; its spend is capped at the run's budget cap."""

    def __init__(self, *, run: EvalRun, model: JudgeModel) -> None:
        self.run = run
        self.model = model
        self.member = Member.objects.create(
            display_name=f"{EVAL_PREFIX}run{run.pk}:judge:{model.label}"[:200]
        )
        self.spent = Decimal("0")
        self._lock = threading.Lock()
        self._count = tokenizer_for(model.model)

    def __call__(
        self, *, question: str, answer: str, sources: list[dict[str, Any]], request_id: str
    ) -> Judgement:
        cited = "\n\n".join(
            f"[{s.get('number')}] {s.get('title', '')}: {str(s.get('snippet', ''))[:SNIPPET_CHARS]}"
            for s in sources
        )
        prompt = f"Question:\n{question}\n\nCited sources:\n{cited}\n\nAnswer:\n{answer}"
        messages = (ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", prompt))
        worst = cost_of(
            price=self.model.price,
            tokens_in=self._count(SYSTEM_PROMPT + prompt) + 16,
            tokens_out=MAX_OUTPUT_TOKENS,
        )
        with self._lock:  # reserve the worst case so concurrent judgements can't overspend
            if self.spent + worst > self.run.budget_cap:
                return Judgement(False, "not judged: the run's budget for the judge is spent")
            self.spent += worst
        try:
            result = provider_for(self.model.endpoint).complete(
                ChatRequest(model=self.model.model, messages=messages, max_tokens=MAX_OUTPUT_TOKENS)
            )
        except ProviderError as exc:
            with self._lock:
                self.spent -= worst
            logger.warning(
                "judge failed", extra={"request_id": request_id, "model": self.model.label}
            )
            return Judgement(False, f"not judged: {self.model.label} failed: {exc}"[:500])
        cost = cost_of(
            price=self.model.price, tokens_in=result.tokens_in, tokens_out=result.tokens_out
        )
        with self._lock:
            self.spent += cost - worst
        UsageRecord.objects.create(
            member=self.member,
            status=UsageStatus.SETTLED,
            mode="judge",
            provider=self.model.endpoint.name[:60],
            model=self.model.model[:120],
            tokens_in=result.tokens_in,
            tokens_out=result.tokens_out,
            cost=cost,
            counts_toward_quota=False,
            request_id=f"{request_id}j"[:32],
            channel=f"eval:{self.run.channel_id}",
        )
        usage = {"tokens_in": result.tokens_in, "tokens_out": result.tokens_out, "cost": cost}
        try:
            faithfulness, relevance, reason = parse_judgement(result.text)
        except JudgeReplyError as exc:
            return Judgement(False, f"not judged: {exc}", **usage)
        return Judgement(True, reason, faithfulness, relevance, **usage)
