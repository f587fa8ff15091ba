"""Asking from the admin's playground: the same `ask()` as every door, as a chosen member,
channel binding and tier or model, traced, and never on the impersonated member's bill.

The question is asked by a playground member (`playground:<admin>`) on a playground tier
(`playground:<target>`) that copies the chosen tier's chain and answer and budget limits
(not its rate limits: an admin trying questions is not a person asking all day), as the
evaluation runner does for its targets. So the budget decision is a real one, on the
playground member's own ledger, and the impersonated member's spend never moves. The
knowledge sets come from the same scope resolution as Slack and Discord: the binding of
the chosen channel, else the member's direct-message scope, else every set.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.db import transaction

from ragengine.ask_types import Answer, Channel
from ragengine.models import (
    ChannelBinding,
    Member,
    ProviderEndpoint,
    TargetKind,
    Tier,
    TierModel,
    UsageRecord,
)
from ragengine.selectors.channels import ScopeOrigin, channel_scope
from ragengine.services.answer_targets import EVAL_PREFIX, TargetError, TargetSpec, parse_target
from ragengine.services.ask import ask
from ragengine.services.pricing import PriceMissing, price_for
from ragengine.services.routing import tier_for_member
from ragengine.trace import Trace, tracing

logger = logging.getLogger(__name__)

PLAYGROUND = "playground"
PLAYGROUND_PREFIX = f"{PLAYGROUND}:"
OWN_TIER = ""  # the target "whatever tier the asker has"
COPIED_LIMITS = (
    "max_output_tokens",
    "min_output_tokens",
    "context_token_budget",
    "daily_budget",
    "monthly_budget",
    "soft_limit_percent",
    "hard_limit_policy",
    "downgrade_endpoint",
    "downgrade_model",
    "semantic_cache_enabled",
    "cache_hits_count_toward_quota",
)


class PlaygroundError(ValueError):
    """Input the playground can't ask with; the message says why."""


@dataclass(frozen=True, slots=True)
class PlaygroundScope:
    channel: Channel
    origin: str  # binding, member, workspace, all, none
    label: str  # who/where, for the page


@dataclass(frozen=True, slots=True)
class PlaygroundResult:
    answer: Answer
    trace: Trace
    scope: PlaygroundScope
    target_label: str
    tier: Tier
    asker: Member
    ledger: UsageRecord | None


def playground_scope(*, member: Member | None, binding: ChannelBinding | None) -> PlaygroundScope:
    """The knowledge sets a question gets in the binding's channel (as `member`, when
    chosen), or in `member`'s direct messages, or every set when neither is chosen."""
    if binding is not None:
        scope = channel_scope(
            platform=binding.platform,
            workspace_id=binding.workspace_id,
            channel_id=binding.channel_id,
            member=member,
        )
        label = f"channel {binding.name or binding.channel_id}"
    elif member is not None:
        scope = channel_scope(
            platform=member.workspace.platform if member.workspace else "slack",
            workspace_id=member.workspace.external_id if member.workspace else "",
            channel_id=f"dm:{member.pk}",
            is_direct=True,
            member=member,
        )
        label = f"direct message from {member.display_name}"
    else:
        return PlaygroundScope(Channel(PLAYGROUND, "all", None), ScopeOrigin.ALL, "every set")
    where = f"binding:{binding.pk}" if binding is not None else f"member:{member.pk}"
    channel = Channel(
        PLAYGROUND, where, scope.channel.knowledge_sets, refusal=scope.channel.refusal
    )
    return PlaygroundScope(channel, str(scope.origin), label)


def playground_target(*, spec: str, member: Member | None) -> TargetSpec:
    """The target to ask: `spec` (extractive, tier:NAME, model:ENDPOINT:MODEL), or with
    an empty spec the member's own tier (the default tier without a member)."""
    if not spec:
        tier = tier_for_member(member)
        if not tier.pk:
            return TargetSpec(kind=TargetKind.EXTRACTIVE)
        return TargetSpec(kind=TargetKind.TIER, tier_name=tier.name)
    try:
        target = parse_target(spec)
    except TargetError as exc:
        raise PlaygroundError(str(exc)) from exc
    if target.kind == TargetKind.TIER and target.tier_name.startswith(
        (EVAL_PREFIX, PLAYGROUND_PREFIX)
    ):
        raise PlaygroundError(f"There is no tier named {target.tier_name!r}.")
    return target


@transaction.atomic
def playground_member(*, admin_name: str, target: TargetSpec) -> Member:
    """The member asking for `admin_name`, on the playground tier of `target` (its chain
    and limits synced from the source on every question, so edits apply at once)."""
    tier = _playground_tier(target)
    name = f"{PLAYGROUND_PREFIX}{admin_name}"[:200]
    member, _ = Member.objects.get_or_create(display_name=name, defaults={"tier": tier})
    if member.tier_id != tier.pk or not member.is_active:
        member.tier, member.is_active = tier, True
        member.save(update_fields=["tier", "is_active"])
    return member


def _playground_tier(target: TargetSpec) -> Tier:
    name = f"{PLAYGROUND_PREFIX}{target.spec}"[:80]
    values: dict = {"is_default": False, "questions_per_hour": None, "questions_per_day": None}
    chain: list[tuple[ProviderEndpoint, str]] = []
    if target.kind == TargetKind.TIER:
        source = Tier.objects.filter(name=target.tier_name).first()
        if source is None:
            raise PlaygroundError(f"There is no tier named {target.tier_name!r}.")
        values |= {field: getattr(source, field) for field in COPIED_LIMITS}
        values |= {"ab_endpoint": source.ab_endpoint, "ab_model": source.ab_model}
        values["ab_percent"] = source.ab_percent
        chain = [(step.endpoint, step.model) for step in source.chain.select_related("endpoint")]
    elif target.kind == TargetKind.MODEL:
        endpoint = ProviderEndpoint.objects.filter(name=target.endpoint_name).first()
        if endpoint is None or not endpoint.enabled:
            raise PlaygroundError(f"There is no enabled endpoint named {target.endpoint_name!r}.")
        try:
            price_for(provider_kind=endpoint.kind, model=target.model)
        except PriceMissing as exc:
            raise PlaygroundError(f"{target.label} has no price: add one in Model prices.") from exc
        chain = [(endpoint, target.model)]
    tier, _ = Tier.objects.update_or_create(name=name, defaults=values)
    current = [(step.endpoint_id, step.model) for step in tier.chain.all()]
    if current != [(endpoint.pk, model) for endpoint, model in chain]:
        tier.chain.all().delete()
        TierModel.objects.bulk_create(
            TierModel(tier=tier, position=i, endpoint=endpoint, model=model)
            for i, (endpoint, model) in enumerate(chain)
        )
    return tier


def playground_ask(
    *,
    question: str,
    admin_name: str,
    scope: PlaygroundScope,
    target: TargetSpec,
    use_cache: bool = True,
) -> PlaygroundResult:
    """Ask `question` through `ask()` as the playground member for `target`, traced."""
    asker = playground_member(admin_name=admin_name, target=target)
    request_id = f"pg{uuid.uuid4().hex[:12]}"
    with tracing() as trace:
        answer = ask(
            member=asker,
            question=question,
            channel=scope.channel,
            request_id=request_id,
            use_cache=use_cache,
        )
    logger.info(
        "playground question",
        extra={"request_id": request_id, "admin": admin_name, "target": target.spec},
    )
    return PlaygroundResult(
        answer=answer,
        trace=trace,
        scope=scope,
        target_label=target.label,
        tier=asker.tier,
        asker=asker,
        ledger=UsageRecord.objects.filter(request_id=request_id).order_by("-pk").first(),
    )
