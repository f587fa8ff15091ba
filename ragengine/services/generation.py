"""Routing a prompt through a tier's model chain, with fallback and cost accounting."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from ragengine.llm.registry import provider_for
from ragengine.llm.types import (
    ChatMessage,
    ChatProvider,
    ChatRequest,
    ChatResult,
    ProviderError,
)
from ragengine.models import ModelPrice, ProviderEndpoint, Tier
from ragengine.services.pricing import PriceMissing, cost_of, price_for

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
    steps = [_step(item.endpoint, item.model) for item in tier.chain.select_related("endpoint")]
    if arm == "B":
        steps.insert(0, _step(tier.ab_endpoint, tier.ab_model))
    unique: list[Step] = []
    for step in steps:
        if step and all(step.label != other.label for other in unique):
            unique.append(step)
    return unique


def downgrade_steps(*, tier: Tier) -> list[Step]:
    step = _step(tier.downgrade_endpoint, tier.downgrade_model)
    return [step] if step else []


def worst_case_cost(*, steps: Sequence[Step], tier: Tier) -> Decimal:
    """Most any step of the chain could cost: the whole context budget in, max tokens out."""
    return max(
        (
            s.worst_case(
                prompt_tokens=tier.context_token_budget, max_output_tokens=tier.max_output_tokens
            )
            for s in steps
        ),
        default=Decimal("0"),
    )


@dataclass(slots=True)
class Generation:
    result: ChatResult | None = None
    step: Step | None = None
    failures: list[tuple[Step, ProviderError]] = field(default_factory=list)

    @property
    def cost(self) -> Decimal:
        if self.result is None or self.step is None:
            return Decimal("0")
        return cost_of(
            price=self.step.price,
            tokens_in=self.result.tokens_in,
            tokens_out=self.result.tokens_out,
        )


def generate(
    *,
    steps: Sequence[Step],
    messages: Sequence[ChatMessage],
    max_tokens: int,
    request_id: str,
    on_text: TextSink | None = None,
) -> Generation:
    """Try each step until one answers; every failure is kept for notices and logs.

    With `on_text`, models stream and `on_text` gets the text so far after each piece; a
    model that fails mid-stream hands over to the next, which starts the text again.
    """
    outcome = Generation()
    for step in steps:
        request = ChatRequest(model=step.model, messages=tuple(messages), max_tokens=max_tokens)
        try:
            provider = provider_for(step.endpoint)
            if on_text is None:
                outcome.result = provider.complete(request)
            else:
                outcome.result = _streamed(provider, request, on_text, request_id=request_id)
            outcome.step = step
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


def _streamed(
    provider: ChatProvider, request: ChatRequest, on_text: TextSink, *, request_id: str
) -> ChatResult:
    """Stream one model's answer into `on_text`; the last delta carries the result."""
    text = ""
    for delta in provider.stream(request):
        if delta.result is not None:
            return delta.result
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
