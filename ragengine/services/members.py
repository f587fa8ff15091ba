"""Finding the member behind a request (created on first contact)."""

from __future__ import annotations

import getpass

from django.db import IntegrityError, transaction

from ragengine.models import Identity, Member, Platform, Workspace
from ragengine.plaintext import readable

# Platforms whose user ids name one person everywhere, whatever the workspace.
GLOBAL_USER_ID_PLATFORMS = frozenset({Platform.DISCORD})


def member_resolve(
    *,
    platform: str,
    user_id: str,
    workspace_id: str = "",
    display_name: str = "",
    workspace_name: str = "",
) -> Member:
    """The member behind a platform account, created on first contact.

    A new member belongs to the account's workspace/guild, so it gets that workspace's
    default tier (or the global default) until an admin assigns one, and its DMs read
    that workspace's default sets. A Discord account seen before in another guild (or a
    DM) maps to the same member; one first seen in a DM joins the first guild it asks in.
    """
    identity = (
        Identity.objects.select_related("member")
        .filter(platform=platform, workspace_id=workspace_id, user_id=user_id)
        .first()
    )
    if identity:
        return identity.member
    # Discord user ids are global: the same person asking in a second guild, or in a DM
    # (no guild), stays one member with one budget. (Slack ids are only guaranteed
    # unique within a workspace, and Slack DMs carry their workspace anyway.)
    known = (
        Identity.objects.select_related("member")
        .filter(platform=platform, user_id=user_id)
        .order_by("pk")
        .first()
        if platform in GLOBAL_USER_ID_PLATFORMS
        else None
    )
    if known is not None:
        Identity.objects.get_or_create(
            platform=platform,
            workspace_id=workspace_id,
            user_id=user_id,
            defaults={"member": known.member},
        )
        member = known.member
        if workspace_id and member.workspace_id is None:
            # First seen in a DM (no guild): the guild they now ask in becomes their
            # workspace, so their DMs read its default sets from now on.
            member.workspace = _workspace(platform, workspace_id, readable(workspace_name))
            member.save(update_fields=["workspace"])
        return member
    # names come from the platform, not typed here: cleaned rather than refused
    display_name, workspace_name = readable(display_name), readable(workspace_name)
    workspace = _workspace(platform, workspace_id, workspace_name) if workspace_id else None
    try:
        with transaction.atomic():
            member = Member.objects.create(
                display_name=display_name or f"{platform}:{user_id}", workspace=workspace
            )
            Identity.objects.create(
                member=member, platform=platform, workspace_id=workspace_id, user_id=user_id
            )
    except IntegrityError:  # created concurrently by another request
        return Identity.objects.get(
            platform=platform, workspace_id=workspace_id, user_id=user_id
        ).member
    return member


def _workspace(platform: str, external_id: str, name: str) -> Workspace:
    workspace, _ = Workspace.objects.get_or_create(
        platform=platform, external_id=external_id, defaults={"name": name}
    )
    return workspace


def member_for_cli() -> Member:
    """The local terminal user, created on first use."""
    user = getpass.getuser()
    return member_resolve(platform="cli", user_id=user, display_name=f"cli:{user}")
