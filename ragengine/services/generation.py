"""Routing a prompt through a tier's model chain, with fallback and cost accounting.

What a question's calls may use is fixed beforehand (`CallLimits`): output tokens, a total
deadline shared by every attempt and fallback, and, under a budget, the money reserved for
them; each step's output is capped to what is left of that money. What the calls cost is
recorded as each one returns (`Charge`), including a stream that broke off after text
arrived (the provider bills what it generated: estimated from the text received, since
the usage report never came). A call that failed before any output is charged nothing; a
non-streamed call abandoned at its deadline may still be billed by the provider, which
cannot be known here: the failure is logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from ragengine.cache import ModelFamily
from ragengine.llm.deadline import check_deadline
from ragengine.llm.providers.base import estimate_prompt_tokens
from ragengine.llm.registry import provider_for
from ragengine.llm.resilience import close_stream
from ragengine.llm.tokens import count_tokens
from ragengine.llm.types import (
    ChatMessage,
    ChatProvider,
    ChatRequest,
    ChatResult,
    DeadlineExceeded,
    ProviderError,
)
from ragengine.models import ModelPrice, ProviderEndpoint, Tier
from ragengine.services.pricing import MILLION, PriceMissing, cost_of, price_for

logger = logging.getLogger(__name__)

# Receives the answer text so far while a model streams (a door edits its message).
TextSink = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Step:
    """One model a tier may use, with its price."""

    endpoint: ProviderEndpoint
    model: str
    price: ModelPrice

    @property
    def label(self) -> str:
        return f"{self.endpoint.name}:{self.model}"

    def worst_case(self, *, prompt_tokens: int, max_output_tokens: int) -> Decimal:
        return cost_of(price=self.price, tokens_in=prompt_tokens, tokens_out=max_output_tokens)


def steps_family(steps: Sequence[Step]) -> ModelFamily:
    """The model family that answers: the chain's first model, or the extractive answerer."""
    if not steps:
        return ModelFamily()
    return ModelFamily(label=steps[0].label, provider=steps[0].endpoint.name)


def _step(endpoint: ProviderEndpoint | None, model: str) -> Step | None:
    if endpoint is None or not model or not endpoint.enabled:
        return None
    try:
        return Step(
            endpoint=endpoint,
            model=model,
            price=price_for(provider_kind=endpoint.kind, model=model),
        )
    except PriceMissing as exc:
        logger.error("model skipped", extra={"model": f"{endpoint.name}:{model}", "why": str(exc)})
        return None


# Chains and prices change rarely but are read on every question: keep them briefly.
STEPS_CACHE_SECONDS = 30


def tier_steps(*, tier: Tier, arm: str) -> list[Step]:
    """The tier's chain in order; arm "B" puts the A/B model first.

    Cached per process for STEPS_CACHE_SECONDS per tier version: a tier edit (which bumps
    `updated_at`) applies at once, a price or endpoint edit within that time.
    """
    if not tier.pk:
        return []
    return _steps_cache().get(tier=tier, arm=arm)


class _StepsCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple, tuple[float, tuple[Step, ...]]] = {}

    def get(self, *, tier: Tier, arm: str) -> list[Step]:
        key = (tier.pk, tier.updated_at, arm)
        now = time.monotonic()
        with self._lock:
            cached = self._entries.get(key)
        if cached is not None and now - cached[0] < STEPS_CACHE_SECONDS:
            return list(cached[1])
        steps = _load_tier_steps(tier=tier, arm=arm)
        with self._lock:
            if len(self._entries) > 256:
                self._entries.clear()
            self._entries[key] = (now, tuple(steps))
        return steps

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@lru_cache(maxsize=1)
def _steps_cache() -> _StepsCache:
    return _StepsCache()


def _load_tier_steps(*, tier: Tier, arm: str) -> list[Step]:
    if arm == _DOWNGRADE:
        step = _step(tier.downgrade_endpoint, tier.downgrade_model)
        return [step] if step else []
    steps = [_step(item.endpoint, item.model) for item in tier.chain.select_related("endpoint")]
    if arm == "B":
        steps.insert(0, _step(tier.ab_endpoint, tier.ab_model))
    unique: list[Step] = []
    for step in steps:
        if step and all(step.label != other.label for other in unique):
            unique.append(step)
    return unique


# The downgrade policy's chain, cached beside the tier's own: it is looked up before
# every question of a budgeted downgrade tier.
_DOWNGRADE = "downgrade"


def downgrade_steps(*, tier: Tier) -> list[Step]:
    return _steps_cache().get(tier=tier, arm=_DOWNGRADE)


def affordable_tokens(*, price: ModelPrice, prompt_tokens: int, money: Decimal, most: int) -> int:
    """Output tokens (at most `most`) a call with `prompt_tokens` in can pay within `money`."""
    left = money - cost_of(price=price, tokens_in=prompt_tokens, tokens_out=0)
    if left < 0:
        return 0
    if price.output_per_million <= 0:
        return most
    tokens = min(most, int(left * MILLION / price.output_per_million))
    while tokens > 0 and cost_of(price=price, tokens_in=prompt_tokens, tokens_out=tokens) > money:
        tokens -= 1  # Decimal division rounds: never let it round up past the money
    return tokens


@dataclass(frozen=True, slots=True)
class CallLimits:
    """What one question's model calls may use.

    `deadline` (a `time.monotonic()` instant) bounds them all, retries and fallbacks
    included. With `allowance` (the money reserved), each step's output is capped to
    what is left of it for a `prompt_tokens` prompt; a step that could then write fewer
    than `min_tokens` is skipped."""

    max_tokens: int
    deadline: float | None = None
    allowance: Decimal | None = None
    min_tokens: int = 1
    prompt_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Charge:
    """One model call the provider bills; `estimated` when a stream broke off before its
    usage report, so the tokens are counted from the prompt and the text received."""

    step: Step
    tokens_in: int
    tokens_out: int
    estimated: bool = False

    @property
    def cost(self) -> Decimal:
        return cost_of(price=self.step.price, tokens_in=self.tokens_in, tokens_out=self.tokens_out)


def charges_cost(charges: Sequence[Charge]) -> Decimal:
    return sum((c.cost for c in charges), Decimal("0"))


@dataclass(slots=True)
class Generation:
    result: ChatResult | None = None
    step: Step | None = None
    max_tokens: int = 0  # the answering call's output cap
    failures: list[tuple[Step, ProviderError]] = field(default_factory=list)
    charges: list[Charge] = field(default_factory=list)

    @property
    def cost(self) -> Decimal:
        """Everything the calls cost: the answer and any stream that broke off before it."""
        return charges_cost(self.charges)


def generate(
    *,
    steps: Sequence[Step],
    messages: Sequence[ChatMessage],
    limits: CallLimits,
    request_id: str,
    on_text: TextSink | None = None,
    charges: list[Charge] | None = None,
) -> Generation:
    """Try each step until one answers, within `limits`; every failure is kept for
    notices and logs.

    Each billed call is appended to `charges` (the caller's list, if given) the moment
    it is known, so a caller interrupted by anything still knows what was spent.
    With `on_text`, models stream and `on_text` gets the text so far after each piece; a
    model that fails mid-stream hands over to the next, which starts the text again.
    """
    outcome = Generation(charges=charges if charges is not None else [])
    for step in steps:
        try:
            check_deadline(limits.deadline, provider=step.endpoint.name)
            max_tokens = _step_tokens(step, limits, spent=outcome.cost)
            request = ChatRequest(
                model=step.model,
                messages=tuple(messages),
                max_tokens=max_tokens,
                deadline=limits.deadline,
            )
            provider = provider_for(step.endpoint)
            if on_text is None:
                result = provider.complete(request)
            else:
                result = _streamed(
                    provider,
                    request,
                    on_text,
                    request_id=request_id,
                    step=step,
                    charges=outcome.charges,
                )
            outcome.charges.append(
                Charge(step=step, tokens_in=result.tokens_in, tokens_out=result.tokens_out)
            )
            outcome.result, outcome.step, outcome.max_tokens = result, step, max_tokens
            return outcome
        except ProviderError as exc:
            outcome.failures.append((step, exc))
            logger.warning(
                "provider failed",
                extra={
                    "request_id": request_id,
                    "model": step.label,
                    "transient": exc.transient,
                    "error": str(exc),
                },
            )
    return outcome


def _step_tokens(step: Step, limits: CallLimits, *, spent: Decimal) -> int:
    """The step's output cap: the tier's, or less when the money left can't pay for it."""
    if limits.allowance is None:
        return limits.max_tokens
    tokens = affordable_tokens(
        price=step.price,
        prompt_tokens=limits.prompt_tokens,
        money=limits.allowance - spent,
        most=limits.max_tokens,
    )
    if tokens < limits.min_tokens:
        raise ProviderError(
            f"{step.label} not called: the budget left pays for {tokens} output tokens, "
            f"fewer than the {limits.min_tokens} an answer needs.",
            provider=step.endpoint.name,
            transient=False,
        )
    return tokens


def _streamed(
    provider: ChatProvider,
    request: ChatRequest,
    on_text: TextSink,
    *,
    request_id: str,
    step: Step,
    charges: list[Charge],
) -> ChatResult:
    """Stream one model's answer into `on_text`; the last delta carries the result.

    The deadline is checked after every piece too (a model may trickle for ever). If
    the stream ends any other way once text has arrived, that text is charged."""
    text = ""
    stream = provider.stream(request)
    try:
        for delta in stream:
            if delta.result is not None:
                return delta.result
            if request.deadline is not None and time.monotonic() >= request.deadline:
                raise DeadlineExceeded(
                    f"Provider {provider.name!r} ({request.model}): the call's deadline "
                    "passed while it was streaming.",
                    provider=provider.name,
                )
            if not delta.text:
                continue
            text += delta.text
            try:
                on_text(text)
            except Exception:  # a door failing to show progress must not lose the answer
                logger.exception("streaming callback failed", extra={"request_id": request_id})
        raise ProviderError(
            "the stream ended without a final result", provider=provider.name, transient=True
        )
    except BaseException:
        if text:
            charges.append(
                Charge(
                    step=step,
                    tokens_in=estimate_prompt_tokens(request),
                    tokens_out=count_tokens(text, model=request.model),
                    estimated=True,
                )
            )
        raise
    finally:
        close_stream(stream)
