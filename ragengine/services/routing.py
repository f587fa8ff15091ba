"""Which tier answers a member, which A/B arm they are in, and the models that will try."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ragengine.cache import ModelFamily
from ragengine.models import Member, Tier
from ragengine.services.generation import Step, steps_family, tier_steps


@dataclass(frozen=True, slots=True)
class Route:
    tier: Tier
    arm: str
    steps: tuple[Step, ...]

    @property
    def family(self) -> ModelFamily:
        return steps_family(self.steps)


def route_for(*, member: Member | None) -> Route:
    """The member's tier, arm and chain, read once per question."""
    tier = tier_for_member(member)
    arm = ab_arm(member=member, tier=tier)
    return Route(tier=tier, arm=arm, steps=tuple(tier_steps(tier=tier, arm=arm)))


def tier_for_member(member: Member | None) -> Tier:
    """Member's tier, else their workspace's default, else the global default.

    With no tier configured at all, an unsaved Tier with the model defaults applies:
    extractive answers and no limits, which is the embedded default.
    """
    if member is not None:
        if member.tier_id:
            return member.tier
        if member.workspace_id and member.workspace.default_tier_id:
            return member.workspace.default_tier
    return Tier.objects.filter(is_default=True).order_by("pk").first() or Tier(name="(none)")


def ab_arm(*, member: Member | None, tier: Tier) -> str:
    """ "A" or "B", from a stable hash of tier and member: a person always gets the same arm."""
    if not tier.ab_percent or member is None or not member.pk:
        return "A"
    digest = hashlib.sha256(f"{tier.pk}:{member.pk}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 10_000
    return "B" if bucket < tier.ab_percent * 100 else "A"
