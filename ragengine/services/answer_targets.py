"""What a run measures (targets) and who asks for it.

A target is written as a spec: `extractive`, `tier:NAME` or `model:ENDPOINT:MODEL`. For
each target of a run the engine builds an evaluation tier (`eval:run<id>:…`, never the
default) and an evaluation member on it, so the run goes through the same `ask()` as
every door while spending only its own budget cap:

- tier target: a copy of the tier's model chain and answer limits (not its rate limits,
  which would refuse a 100-case run half way, nor its A/B split: the chain is measured);
- model target: a chain of that one model;
- extractive: no chain.

The evaluation tier's daily and monthly budgets are the run's cap, and at the cap it
refuses (a run must not quietly measure a cheaper model or the extractive fallback).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from ragengine.models import (
    EvalRun,
    EvalRunTarget,
    HardLimitPolicy,
    Member,
    ProviderEndpoint,
    TargetKind,
    Tier,
    TierModel,
)
from ragengine.services.pricing import PriceMissing, price_for

EVAL_PREFIX = "eval:"


class TargetError(ValueError):
    """A target spec that can't be run; the message says why."""


@dataclass(frozen=True, slots=True)
class TargetSpec:
    kind: str
    tier_name: str = ""
    endpoint_name: str = ""
    model: str = ""

    @property
    def spec(self) -> str:
        if self.kind == TargetKind.TIER:
            return f"tier:{self.tier_name}"
        if self.kind == TargetKind.MODEL:
            return f"model:{self.endpoint_name}:{self.model}"
        return "extractive"

    @property
    def label(self) -> str:
        if self.kind == TargetKind.MODEL:
            return f"{self.endpoint_name}:{self.model}"
        return self.spec


def parse_target(spec: str) -> TargetSpec:
    """`extractive`, `tier:NAME` or `model:ENDPOINT:MODEL` (the model may contain ':')."""
    text = (spec or "").strip()
    kind, _, rest = text.partition(":")
    kind = kind.strip().lower()
    if kind == "extractive" and not rest:
        return TargetSpec(kind=TargetKind.EXTRACTIVE)
    if kind == "tier" and rest.strip():
        return TargetSpec(kind=TargetKind.TIER, tier_name=rest.strip())
    if kind == "model":
        endpoint, _, model = rest.partition(":")
        if endpoint.strip() and model.strip():
            return TargetSpec(
                kind=TargetKind.MODEL, endpoint_name=endpoint.strip(), model=model.strip()
            )
    raise TargetError(
        f"{text!r} is not a target: use extractive, tier:NAME or model:ENDPOINT:MODEL."
    )


def target_check(target: TargetSpec) -> None:
    """TargetError unless the target can be asked: the tier exists (and is not itself an
    evaluation tier), the endpoint exists and is enabled, the model has a price."""
    if target.kind == TargetKind.TIER:
        tier = Tier.objects.filter(name=target.tier_name).first()
        if tier is None or tier.name.startswith(EVAL_PREFIX):
            raise TargetError(f"There is no tier named {target.tier_name!r}.")
        return
    if target.kind == TargetKind.MODEL:
        endpoint = ProviderEndpoint.objects.filter(name=target.endpoint_name).first()
        if endpoint is None:
            raise TargetError(f"There is no provider endpoint named {target.endpoint_name!r}.")
        if not endpoint.enabled:
            raise TargetError(f"The endpoint {endpoint.name!r} is switched off.")
        try:
            price_for(provider_kind=endpoint.kind, model=target.model)
        except PriceMissing as exc:
            raise TargetError(
                f"{target.label} has no price, so it would never be used: add one in Model prices."
            ) from exc


def target_choices() -> list[tuple[str, str]]:
    """Targets an admin can pick: extractive, every real tier, every model in a chain."""
    choices = [("extractive", "Extractive (no model)")]
    for tier in Tier.objects.exclude(name__startswith=EVAL_PREFIX).prefetch_related(
        "chain__endpoint"
    ):
        chain = " → ".join(str(step) for step in tier.chain.all()) or "extractive only"
        choices.append((f"tier:{tier.name}", f"Tier {tier.name} ({chain})"))
    models = (
        TierModel.objects.exclude(tier__name__startswith=EVAL_PREFIX)
        .values_list("endpoint__name", "model")
        .distinct()
        .order_by("endpoint__name", "model")
    )
    for endpoint, model in models:
        choices.append((f"model:{endpoint}:{model}", f"Model {endpoint}:{model}"))
    return choices


@transaction.atomic
def evaluation_member_build(*, run: EvalRun, target: EvalRunTarget) -> Member:
    """The tier and member that ask for `target` in `run` (kept on the target row)."""
    cap = Decimal(run.budget_cap)
    name = f"{EVAL_PREFIX}run{run.pk}:{target.position}:{target.spec}"[:80]
    tier = Tier.objects.create(
        name=name,
        is_default=False,
        daily_budget=cap,
        monthly_budget=cap,
        soft_limit_percent=100,
        hard_limit_policy=HardLimitPolicy.REFUSE,
    )
    if target.kind == TargetKind.TIER and target.source_tier is not None:
        source = target.source_tier
        tier.max_output_tokens = source.max_output_tokens
        tier.context_token_budget = source.context_token_budget
        tier.semantic_cache_enabled = source.semantic_cache_enabled
        tier.save(
            update_fields=["max_output_tokens", "context_token_budget", "semantic_cache_enabled"]
        )
        TierModel.objects.bulk_create(
            TierModel(tier=tier, position=step.position, endpoint=step.endpoint, model=step.model)
            for step in source.chain.all()
        )
    elif target.kind == TargetKind.MODEL and target.endpoint is not None:
        TierModel.objects.create(
            tier=tier, position=0, endpoint=target.endpoint, model=target.model
        )
    member = Member.objects.create(display_name=name, tier=tier)
    target.tier, target.member = tier, member
    target.save(update_fields=["tier", "member"])
    return member
