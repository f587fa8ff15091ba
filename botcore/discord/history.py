"""Earlier messages of a thread or DM → `Turn`s, so follow-up questions have context.

The bot's own messages become assistant turns, everyone else's user turns (mentions of the
bot removed). Consecutive messages by the same side are merged, because a long answer is
sent as several messages.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

import discord

from botcore.conversation import strip_mention
from ragengine.ask_types import Turn

logger = logging.getLogger(__name__)

DM_HISTORY_WINDOW = timedelta(minutes=30)
_MESSAGES_PER_TURN = 3  # a turn may span several messages (long answers are split)
_FETCH_LIMIT = 100  # Discord's page size: one request
# Messages people write (not joins, pins, thread-created notices ...).
CHAT_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})


def message_turn(message: discord.Message, *, bot_user_id: int) -> Turn | None:
    """The turn for one message, or None for system messages and empty text."""
    if message.type not in CHAT_TYPES:
        return None
    if message.author.id == bot_user_id:
        role, text = "assistant", (message.content or "").strip()
    else:
        role, text = "user", strip_mention(message.content or "", bot_user_id=str(bot_user_id))
    return Turn(role, text) if text else None


def turns_from_messages(
    messages: Iterable[discord.Message], *, bot_user_id: int, limit: int
) -> tuple[Turn, ...]:
    """`messages` oldest first → at most the last `limit` turns."""
    if limit <= 0:
        return ()
    turns: list[Turn] = []
    for message in messages:
        turn = message_turn(message, bot_user_id=bot_user_id)
        if turn is None:
            continue
        if turns and turns[-1].role == turn.role:
            turns[-1] = Turn(turn.role, f"{turns[-1].text}\n{turn.text}")
        else:
            turns.append(turn)
    return tuple(turns[-limit:])


async def thread_history(
    thread: discord.Thread, *, before: discord.Message, bot_user_id: int, limit: int
) -> tuple[Turn, ...]:
    """The thread's earlier messages; its starter message (the question the bot's thread
    was opened on, which lives in the parent channel) counts as the first user turn."""
    if limit <= 0:
        return ()
    wanted = min(_FETCH_LIMIT, limit * _MESSAGES_PER_TURN)
    messages = [m async for m in thread.history(limit=wanted, before=before)]
    messages.reverse()
    if len(messages) < wanted:  # we reached the thread's beginning
        starter = await _starter_message(thread)
        if starter is not None and starter.id != before.id:
            messages.insert(0, starter)
    return turns_from_messages(messages, bot_user_id=bot_user_id, limit=limit)


async def dm_history(
    channel: discord.abc.Messageable,
    *,
    before: discord.Message,
    bot_user_id: int,
    limit: int,
    window: timedelta = DM_HISTORY_WINDOW,
) -> tuple[Turn, ...]:
    """The DM's messages from the last `window` before `before` (a DM never ends, so
    only the recent conversation is context)."""
    if limit <= 0:
        return ()
    cutoff = before.created_at - window
    messages: list[discord.Message] = []
    async for message in channel.history(
        limit=min(_FETCH_LIMIT, limit * _MESSAGES_PER_TURN), before=before
    ):
        if message.created_at < cutoff:
            break
        messages.append(message)
    messages.reverse()
    return turns_from_messages(messages, bot_user_id=bot_user_id, limit=limit)


async def _starter_message(thread: discord.Thread) -> discord.Message | None:
    if thread.starter_message is not None:
        return thread.starter_message
    if not thread.parent_id:
        return None
    parent = thread.guild.get_channel(thread.parent_id)
    if not isinstance(parent, discord.TextChannel):
        return None  # forum posts keep their starter inside the thread itself
    try:
        return await parent.fetch_message(thread.id)
    except discord.HTTPException:  # not a message thread, deleted, or no access
        logger.debug(
            "discord thread starter unavailable",
            extra={"platform": "discord", "channel": str(thread.id)},
        )
        return None
