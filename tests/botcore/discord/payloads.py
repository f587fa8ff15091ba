"""Gateway- and REST-shaped Discord payloads (as documented by Discord) for the tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import discord

BOT_ID = 900000000000000001
APP_ID = 900000000000000002
GUILD_ID = 900000000000000010
CHANNEL_ID = 900000000000000020
OTHER_CHANNEL_ID = 900000000000000021
USER_ID = 900000000000000030
OTHER_USER_ID = 900000000000000031
OTHER_BOT_ID = 900000000000000032
GUILD_NAME = "Acme"


def snowflake_time(snowflake: int) -> str:
    return discord.utils.snowflake_time(snowflake).isoformat()


def user(id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(id),
        "username": name,
        "discriminator": "0",
        "global_name": name.title(),
        "avatar": None,
    }
    if bot:
        data["bot"] = True
    return data


def member(user_data: dict[str, Any]) -> dict[str, Any]:
    return {
        "user": user_data,
        "roles": [],
        "joined_at": "2024-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
        "nick": None,
    }


def application() -> dict[str, Any]:
    return {
        "id": str(APP_ID),
        "name": "Arandu",
        "icon": None,
        "description": "Company knowledge bot",
        "bot_public": False,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "owner": user(USER_ID, "owner"),
        "flags": 0,
        "bot": user(BOT_ID, "arandu", bot=True),
    }


def text_channel(*, id: int, name: str, guild_id: int = GUILD_ID) -> dict[str, Any]:
    return {
        "id": str(id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
    }


def thread_channel(
    *, id: int, parent_id: int, owner_id: int, name: str, guild_id: int = GUILD_ID
) -> dict[str, Any]:
    return {
        "id": str(id),
        "type": 11,
        "guild_id": str(guild_id),
        "parent_id": str(parent_id),
        "owner_id": str(owner_id),
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": datetime.now(UTC).isoformat(),
            "locked": False,
        },
    }


def dm_channel(*, id: int, recipient: dict[str, Any]) -> dict[str, Any]:
    """A DM channel (type 1) as interactions carry it."""
    return {"id": str(id), "type": 1, "last_message_id": None, "recipients": [recipient]}


def guild_create(
    *,
    id: int = GUILD_ID,
    name: str = GUILD_NAME,
    channels: list[dict[str, Any]] | None = None,
    threads: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """GUILD_CREATE as the gateway sends it (the bot's own member included)."""
    return {
        "id": str(id),
        "name": name,
        "icon": None,
        "owner_id": str(USER_ID),
        "region": "us-west",
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [
            {
                "id": str(id),
                "name": "@everyone",
                "permissions": str(discord.Permissions.general().value),
                "position": 0,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
                "flags": 0,
            }
        ],
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "joined_at": "2024-01-01T00:00:00+00:00",
        "large": False,
        "unavailable": False,
        "member_count": 3,
        "members": [member(user(BOT_ID, "arandu", bot=True))],
        "voice_states": [],
        "presences": [],
        "channels": channels
        if channels is not None
        else [
            text_channel(id=CHANNEL_ID, name="general", guild_id=id),
            text_channel(id=OTHER_CHANNEL_ID, name="random", guild_id=id),
        ],
        "threads": threads or [],
        "stage_instances": [],
        "guild_scheduled_events": [],
    }


def message(
    *,
    id: int,
    channel_id: int,
    author: dict[str, Any],
    content: str,
    guild_id: int | None = None,
    mentions: list[dict[str, Any]] | None = None,
    type: int = 0,
    embeds: list[dict[str, Any]] | None = None,
    components: list[dict[str, Any]] | None = None,
    flags: int = 0,
) -> dict[str, Any]:
    """A message object; with `guild_id` it is MESSAGE_CREATE-shaped (member included)."""
    data: dict[str, Any] = {
        "id": str(id),
        "channel_id": str(channel_id),
        "author": author,
        "content": content,
        "timestamp": snowflake_time(id),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": mentions or [],
        "mention_roles": [],
        "attachments": [],
        "embeds": embeds or [],
        "pinned": False,
        "type": type,
        "flags": flags,
        "components": components or [],
    }
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
        data["member"] = {k: v for k, v in member(author).items() if k != "user"}
    return data


def mention_message(*, id: int, content: str, channel_id: int = CHANNEL_ID, **kwargs):
    """A guild message by USER_ID that mentions the bot: `<@BOT_ID> content`."""
    return message(
        id=id,
        channel_id=channel_id,
        author=user(USER_ID, "ana"),
        content=f"<@{BOT_ID}> {content}",
        guild_id=GUILD_ID,
        mentions=[user(BOT_ID, "arandu", bot=True)],
        **kwargs,
    )


def _interaction_base(
    *,
    id: int,
    type: int,
    guild_id: int | None,
    channel: dict[str, Any] | None,
    clicker: dict[str, Any],
    context: int | None = None,
) -> dict[str, Any]:
    """`channel=None`: a payload without its channel; `context`: 0 guild, 1 the bot's DM,
    2 a private channel (someone else's DM or a group DM; user-installed commands)."""
    data: dict[str, Any] = {
        "id": str(id),
        "application_id": str(APP_ID),
        "type": type,
        "token": f"token-{id}",
        "version": 1,
        "app_permissions": str(discord.Permissions.all().value),
        "locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(guild_id or USER_ID)},
        "attachment_size_limit": 8 * 1024 * 1024,
    }
    if channel is not None:
        data |= {"channel_id": channel["id"], "channel": channel}
    if guild_id is not None:
        data |= {
            "guild_id": str(guild_id),
            "guild_locale": "en-US",
            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "member": member(clicker) | {"permissions": str(discord.Permissions.all().value)},
            "context": 0 if context is None else context,
        }
    else:
        data |= {"user": clicker, "context": 1 if context is None else context}
    return data


NO_CHANNEL: dict[str, Any] = {}  # `ask_command(channel=NO_CHANNEL)`: the payload has none


def ask_command(
    *,
    id: int,
    question: str,
    guild_id: int | None = GUILD_ID,
    channel: dict[str, Any] | None = None,
    clicker: dict[str, Any] | None = None,
    context: int | None = None,
) -> dict[str, Any]:
    """INTERACTION_CREATE type 2: `/ask question:<question>` (in #general by default)."""
    if channel is None:
        channel = text_channel(id=CHANNEL_ID, name="general")
    data = _interaction_base(
        id=id,
        type=2,
        guild_id=guild_id,
        channel=channel if channel is not NO_CHANNEL else None,
        clicker=clicker or user(USER_ID, "ana"),
        context=context,
    )
    data["data"] = {
        "id": str(APP_ID + 1),
        "name": "ask",
        "type": 1,
        "options": [{"name": "question", "type": 3, "value": question}],
    }
    return data


def button_click(
    *,
    id: int,
    custom_id: str,
    message_data: dict[str, Any],
    guild_id: int | None = GUILD_ID,
    clicker: dict[str, Any] | None = None,
    channel: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """INTERACTION_CREATE type 3: a click on the button `custom_id` of `message_data`."""
    channel_id = int(message_data["channel_id"])
    data = _interaction_base(
        id=id,
        type=3,
        guild_id=guild_id,
        channel=channel or text_channel(id=channel_id, name="general"),
        clicker=clicker or user(USER_ID, "ana"),
    )
    data["message"] = message_data
    data["data"] = {"custom_id": custom_id, "component_type": 2}
    return data


def modal_submit(
    *,
    id: int,
    custom_id: str,
    values: dict[str, str],
    guild_id: int | None = GUILD_ID,
    clicker: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """INTERACTION_CREATE type 5: a submitted modal with text inputs {custom_id: value}."""
    data = _interaction_base(
        id=id,
        type=5,
        guild_id=guild_id,
        channel=text_channel(id=CHANNEL_ID, name="general"),
        clicker=clicker or user(USER_ID, "ana"),
    )
    data["data"] = {
        "custom_id": custom_id,
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
            for key, value in values.items()
        ],
    }
    return data
