"""Which knowledge sets a REST API token may read, from trusted data only.

A service account reads exactly the sets an admin chose on its token. A member token
reads the member's own sets, else their workspace's default sets; with neither it is
refused, never widened to every set. A request may narrow its scope to some of those
sets; a set it names that is unknown or not allowed gets one answer, so a caller can't
learn which sets exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ragengine.ask_types import Channel
from ragengine.models import ApiToken, ApiTokenKind, Member, Workspace
from ragengine.selectors.plain_rows import knowledge_set_names


class TokenScopeOrigin(StrEnum):
    TOKEN = "token"  # the sets chosen on a service account's token
    MEMBER = "member"  # the member's own sets
    WORKSPACE = "workspace"  # the member's workspace's default sets


@dataclass(frozen=True, slots=True)
class TokenScope:
    """The sets a token may read (sorted names), or `refusal` saying how to fix it."""

    knowledge_sets: tuple[str, ...] = ()
    origin: TokenScopeOrigin | None = None
    refusal: str = ""


NO_SERVICE_SETS = (
    "This service account's token has no knowledge sets. Ask an admin to choose them "
    "(admin → API tokens → {name} → Knowledge sets)."
)
NO_MEMBER_SETS = (
    "No knowledge sets are set for {member}: they have no sets of their own and their "
    "workspace has no default sets. Ask an admin to give them sets (admin → Members) or "
    "to set their workspace's default sets (admin → Workspaces)."
)
NOT_ALLOWED = (
    "Unknown knowledge set, or not one this token may use: {names}. "
    "GET /api/v1/knowledge-sets lists the ones it may use."
)


def api_scope(*, token: ApiToken) -> TokenScope:
    """The knowledge sets `token` may read."""

    if token.kind == ApiTokenKind.SERVICE:
        sets = knowledge_set_names(model=ApiToken, pk=token.pk, relation="knowledge_sets")
        if sets:
            return TokenScope(sets, TokenScopeOrigin.TOKEN)
        return TokenScope(refusal=NO_SERVICE_SETS.format(name=token.name))
    member = token.member
    own = knowledge_set_names(model=Member, pk=member.pk, relation="knowledge_sets")
    if own:
        return TokenScope(own, TokenScopeOrigin.MEMBER)
    if member.workspace_id:
        defaults = knowledge_set_names(
            model=Workspace, pk=member.workspace_id, relation="default_knowledge_sets"
        )
        if defaults:
            return TokenScope(defaults, TokenScopeOrigin.WORKSPACE)
    return TokenScope(refusal=NO_MEMBER_SETS.format(member=member.display_name))


def api_scope_narrow(*, scope: TokenScope, requested: Sequence[str] | None) -> TokenScope:
    """`scope` limited to the `requested` sets (None: all of them); a requested set outside
    the scope refuses the whole request with one message for unknown and forbidden sets."""
    if scope.refusal or requested is None:
        return scope
    outside = [name for name in dict.fromkeys(requested) if name not in scope.knowledge_sets]
    if outside:
        return TokenScope(refusal=NOT_ALLOWED.format(names=", ".join(outside)))
    return TokenScope(tuple(sorted(set(requested))), scope.origin)


def api_channel(*, token: ApiToken, scope: TokenScope) -> Channel:
    """The `Channel` a token's question is asked in (the ledger shows `api:token:<id>`)."""
    if scope.refusal:
        raise ValueError("A refused scope has no channel.")
    return Channel(
        platform="api", channel_id=f"token:{token.pk}", knowledge_sets=scope.knowledge_sets
    )
