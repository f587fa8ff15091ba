"""Which knowledge sets a question asked in a chat channel may read.

Only trusted ids decide: the channel id (and a thread's parent channel id) the platform
reported, whether the door saw a direct message (Slack: a `D…` conversation id; Discord:
a DM channel without a guild), and the asker's own member row. Display names and the team
id of a shared channel never widen what is read.

Order: the binding of the channel or of a thread's parent (matched by channel id,
whichever workspace asks) → for a direct message the member's own sets, then their own
workspace's default sets → for a channel the asking workspace's default sets → every set
only where that workspace's admin switched `answers_from_every_set` on → otherwise no set:
the question is refused with a message saying what an admin must do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ragengine.ask_types import Channel
from ragengine.models import ChannelBinding, Member, Workspace


class ScopeOrigin(StrEnum):
    BINDING = "binding"
    MEMBER = "member"
    WORKSPACE = "workspace"
    ALL = "all"  # the workspace's admin chose "every set"
    NONE = "none"  # no scope could be established: refused


UNSCOPED_CHANNEL_MESSAGE = (
    "I can't answer here yet: this channel isn't bound to any knowledge sets and its "
    "workspace has no default sets. Ask an admin to bind this channel (Arandu admin → "
    "Channel bindings) or to give the workspace default sets (Arandu admin → Workspaces)."
)
UNSCOPED_DIRECT_MESSAGE = (
    "I can't answer your direct messages yet: no knowledge sets are assigned to you or to "
    "your workspace. Ask an admin to give you sets (Arandu admin → Members) or to give "
    "your workspace default sets (Arandu admin → Workspaces)."
)
UNKNOWN_CHANNEL_MESSAGE = (
    "I can't tell which channel this conversation belongs to, so I don't know which "
    "documents I may use here. Please ask in the channel itself, or ask an admin to bind "
    "this thread in Arandu admin → Channel bindings."
)


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
    is_thread: bool = False,
    member: Member | None = None,
) -> ChannelScope:
    """The `Channel` to pass to `ask()`, and where its knowledge sets came from.

    `is_direct` must come from a trusted id (see the module docstring). `is_thread` says
    the channel is a thread (or a channel the door could not identify): without its
    `parent_channel_id` it has no scope of its own.
    """

    def scope(sets: list[str] | None, origin: ScopeOrigin) -> ChannelScope:
        names = tuple(sorted(sets)) if sets is not None else None
        return ChannelScope(Channel(platform, channel_id, names), origin)

    def refused(message: str) -> ChannelScope:
        return ChannelScope(Channel(platform, channel_id, (), refusal=message), ScopeOrigin.NONE)

    binding = _binding(
        platform=platform, channel_ids=[c for c in (channel_id, parent_channel_id) if c]
    )
    if binding is not None:
        return scope([s.name for s in binding.knowledge_sets.all()], ScopeOrigin.BINDING)
    if is_direct:
        if member is None or not member.pk:
            return refused(UNSCOPED_DIRECT_MESSAGE)
        own = list(member.knowledge_sets.values_list("name", flat=True))
        if own:
            return scope(own, ScopeOrigin.MEMBER)
        workspace = member.workspace  # the member's own, not whatever the request says
        message = UNSCOPED_DIRECT_MESSAGE
    else:
        if not channel_id or (is_thread and not parent_channel_id):
            return refused(UNKNOWN_CHANNEL_MESSAGE)
        workspace = (
            Workspace.objects.filter(platform=platform, external_id=workspace_id).first()
            if workspace_id
            else None
        )
        message = UNSCOPED_CHANNEL_MESSAGE
    if workspace is not None:
        defaults = list(workspace.default_knowledge_sets.values_list("name", flat=True))
        if defaults:
            return scope(defaults, ScopeOrigin.WORKSPACE)
        if workspace.answers_from_every_set:
            return scope(None, ScopeOrigin.ALL)
    return refused(message)


def _binding(*, platform: str, channel_ids: list[str]) -> ChannelBinding | None:
    """The channel's own binding first, then its parent's (a thread's channel)."""
    if not channel_ids:
        return None
    rows = {
        row.channel_id: row
        for row in ChannelBinding.objects.filter(
            platform=platform, channel_id__in=channel_ids
        ).prefetch_related("knowledge_sets")
    }
    return next((rows[c] for c in channel_ids if c in rows), None)
