"""Which knowledge sets a question asked in a chat channel may read.

Order: a channel binding (threads follow their parent channel), else for direct messages
the member's own sets, else the workspace's default sets, else every set.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ragengine.answers import Channel
from ragengine.models import ChannelBinding, Member, Workspace


class ScopeOrigin(StrEnum):
    BINDING = "binding"
    MEMBER = "member"
    WORKSPACE = "workspace"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class ChannelScope:
    channel: Channel
    origin: ScopeOrigin


def channel_scope(
    *,
    platform: str,
    workspace_id: str,
    channel_id: str,
    parent_channel_id: str = "",
    is_direct: bool = False,
    member: Member | None = None,
) -> ChannelScope:
    """The `Channel` to pass to `ask()`, and where its knowledge sets came from."""

    def scope(sets: list[str] | None, origin: ScopeOrigin) -> ChannelScope:
        names = tuple(sorted(sets)) if sets is not None else None
        return ChannelScope(Channel(platform, channel_id, names), origin)

    if not is_direct:
        binding = _binding(
            platform=platform,
            workspace_id=workspace_id,
            channel_ids=[c for c in (channel_id, parent_channel_id) if c],
        )
        if binding is not None:
            return scope([s.name for s in binding.knowledge_sets.all()], ScopeOrigin.BINDING)
    if is_direct and member is not None and member.pk:
        own = list(member.knowledge_sets.values_list("name", flat=True))
        if own:
            return scope(own, ScopeOrigin.MEMBER)
    workspace = Workspace.objects.filter(platform=platform, external_id=workspace_id).first()
    if workspace is not None:
        defaults = list(workspace.default_knowledge_sets.values_list("name", flat=True))
        if defaults:
            return scope(defaults, ScopeOrigin.WORKSPACE)
    return scope(None, ScopeOrigin.ALL)


def _binding(*, platform: str, workspace_id: str, channel_ids: list[str]) -> ChannelBinding | None:
    """The channel's own binding first, then its parent's (a thread's channel)."""
    rows = {
        row.channel_id: row
        for row in ChannelBinding.objects.filter(
            platform=platform, workspace_id__in={workspace_id, ""}, channel_id__in=channel_ids
        )
        .order_by("workspace_id")  # "" first: an exact workspace match overwrites it
        .prefetch_related("knowledge_sets")
    }
    return next((rows[c] for c in channel_ids if c in rows), None)
