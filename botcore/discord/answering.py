"""Questions from Discord (messages and `/ask`) → `answer_incoming` → replies.

Decides where an answer goes (a new thread on the question, the bot's thread, the DM),
shows typing while the engine works in a worker thread, and delivers the rendered
messages. Discord HTTP errors while replying are logged, never raised into the client.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from enum import StrEnum

import discord
from asgiref.sync import sync_to_async
from django.conf import settings

from botcore import conversation
from botcore.conversation import (
    HELP_TEXT,
    Incoming,
    Outcome,
    is_help,
    mentions,
    ms_since,
    strip_mention,
)
from botcore.discord.claims import interaction_claim
from botcore.discord.history import CHAT_TYPES, dm_history, thread_history
from botcore.discord.render import Reply, plain_replies, render_outcome, send_kwargs, thread_name
from ragengine.ask_types import Turn
from ragengine.request_context import request_scope

logger = logging.getLogger(__name__)

PLATFORM = "discord"


class Where(StrEnum):
    """Where the answer to a message goes."""

    NEW_THREAD = "new_thread"  # mention in a text channel: a thread on the question
    THREAD = "thread"  # the bot's own thread, or a mention inside any thread
    DIRECT = "direct"  # a DM
    CHANNEL = "channel"  # a mention where threads can't be started: reply in place


def message_route(message: discord.Message, *, bot_user: discord.abc.User) -> Where | None:
    """Where to answer `message`, or None to ignore it (bots, system messages, chatter
    that neither mentions the bot nor happens in its thread)."""
    if message.author.bot or message.author.id == bot_user.id:
        return None
    if message.type not in CHAT_TYPES:
        return None
    if message.guild is None:
        return Where.DIRECT if isinstance(message.channel, discord.DMChannel) else None
    channel = message.channel
    if isinstance(channel, discord.Thread) and channel.owner_id == bot_user.id:
        return Where.THREAD
    mentioned = any(user.id == bot_user.id for user in message.mentions) or mentions(
        message.content, bot_user_id=str(bot_user.id)
    )
    if not mentioned:
        return None
    if isinstance(channel, discord.Thread):
        return Where.THREAD
    if isinstance(channel, discord.TextChannel):
        return Where.NEW_THREAD
    return Where.CHANNEL


async def answer_message(client: discord.Client, message: discord.Message, where: Where) -> None:
    """Answer one message routed by `message_route`; its request id is bound for every
    log line from event to reply."""
    with request_scope(conversation.new_request_id(), door=PLATFORM) as request_id:
        await _answer_message(client, message, where, request_id=request_id)


async def _answer_message(
    client: discord.Client, message: discord.Message, where: Where, *, request_id: str
) -> None:
    assert client.user is not None
    bot_id = client.user.id
    question = strip_mention(message.content or "", bot_user_id=str(bot_id))
    guild = message.guild
    _log_event(
        "discord message received",
        request_id=request_id,
        channel=str(message.channel.id),
        guild=str(guild.id) if guild else "",
        kind=str(where),
    )
    target: discord.abc.Messageable = message.channel
    reference: discord.Message | None = None
    channel_id, parent_id, is_thread = str(message.channel.id), "", False
    if where is Where.NEW_THREAD:
        thread = await _start_thread(message, question, request_id=request_id)
        if thread is None:
            reference = message  # not allowed to start threads here: reply in place
        else:
            target, channel_id = thread, str(thread.id)
            parent_id, is_thread = str(message.channel.id), True
    elif where is Where.THREAD and isinstance(message.channel, discord.Thread):
        parent_id, is_thread = str(message.channel.parent_id or ""), True
    elif where is Where.CHANNEL:
        reference = message
        parent_id, is_thread = await _uncached_parent(client, message.channel, request_id)

    started = time.perf_counter()
    async with contextlib.AsyncExitStack() as stack:
        await _typing(stack, target, request_id=request_id)
        if is_help(question):
            replies, mode = plain_replies(HELP_TEXT), "help"
        else:
            history = await _history(client, message, where, request_id=request_id)
            incoming = _incoming(
                user=message.author,
                guild_id=guild.id if guild else None,
                guild=guild,
                channel_id=channel_id,
                text=question,
                parent_channel_id=parent_id,
                is_direct=where is Where.DIRECT,
                is_thread=is_thread,
                history=history,
                request_id=request_id,
            )
            outcome = await ask_in_worker(incoming)
            replies, mode = render_outcome(outcome), _mode(outcome)
    await deliver(
        target,
        replies,
        reference=reference,
        request_id=request_id,
        log_fields={
            "channel": channel_id,
            "guild": str(guild.id) if guild else "",
            "latency_ms": ms_since(started),
            "mode": mode,
        },
    )


def _incoming(
    *,
    user: discord.abc.User,
    guild_id: int | None,
    guild: discord.Guild | None,
    channel_id: str,
    text: str,
    parent_channel_id: str,
    is_direct: bool,
    is_thread: bool,
    request_id: str,
    history: tuple[Turn, ...] = (),
) -> Incoming:
    """The conversation layer's view of a Discord question, one rule for messages and
    `/ask`: the guild is the workspace (none in a DM; its name only when it is cached),
    the display name the user's."""
    return Incoming(
        platform=PLATFORM,
        user_id=str(user.id),
        channel_id=channel_id,
        text=text,
        workspace_id=str(guild_id or ""),
        workspace_name=guild.name if guild else "",
        user_name=user.display_name,
        parent_channel_id=parent_channel_id,
        is_direct=is_direct,
        is_thread=is_thread,
        history=history,
        request_id=request_id,
    )


async def answer_interaction(interaction: discord.Interaction, question: str) -> None:
    """`/ask question`: defer with "thinking…", then answer in a follow-up message."""
    with request_scope(conversation.new_request_id(), door=PLATFORM) as request_id:
        await _answer_interaction(interaction, question, request_id=request_id)


async def _answer_interaction(
    interaction: discord.Interaction, question: str, *, request_id: str
) -> None:
    if not await interaction_claim(interaction):
        return  # a copy the gateway delivered again: the first one answers
    _log_event(
        "discord command received",
        request_id=request_id,
        channel=str(interaction.channel_id or ""),
        guild=str(interaction.guild_id or ""),
        kind="ask",
    )
    started = time.perf_counter()
    try:
        await interaction.response.defer(thinking=True)
    except discord.HTTPException:  # the 3 s window passed or the interaction is gone
        _log_delivery_failure(request_id, kind="defer")
        return
    question = " ".join(question.split())
    if is_help(question):
        replies, mode = plain_replies(HELP_TEXT), "help"
    else:
        channel = interaction.channel
        is_thread = isinstance(channel, discord.Thread)
        parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
        guild = interaction.guild
        outcome = await ask_in_worker(
            _incoming(
                user=interaction.user,
                guild_id=interaction.guild_id,
                guild=guild,
                channel_id=str(interaction.channel_id or ""),
                text=question,
                parent_channel_id=str(parent_id or ""),
                is_direct=is_bot_dm(interaction),
                is_thread=is_thread,
                request_id=request_id,
            )
        )
        replies, mode = render_outcome(outcome, question=question), _mode(outcome)
    fields = {
        "channel": str(interaction.channel_id or ""),
        "guild": str(interaction.guild_id or ""),
        "latency_ms": ms_since(started),
        "mode": mode,
    }
    try:
        for reply in replies:
            await interaction.followup.send(**send_kwargs(reply))
    except discord.HTTPException:
        _log_delivery_failure(request_id, kind="followup", **fields)
        return
    _log_event("discord reply sent", request_id=request_id, **fields)


def is_bot_dm(interaction: discord.Interaction) -> bool:
    """A command used in the asker's DM with the bot, as Discord reports it (no guild,
    context BOT_DM). A user-installed command used in someone else's DM or a group DM
    (context PRIVATE_CHANNEL) is not: others may read the answer there."""
    return interaction.guild_id is None and interaction.context.dm_channel


async def _uncached_parent(
    client: discord.Client, channel: discord.abc.Messageable, request_id: str
) -> tuple[str, bool]:
    """(parent channel id, is a thread) for a guild channel the client's cache doesn't
    know (discord.py hands over a bare PartialMessageable): asked from Discord, because
    a thread there must read its parent channel's binding. Unknown stays unknown, which
    refuses the question rather than guessing."""
    if not isinstance(channel, discord.PartialMessageable):
        return "", False
    try:
        fetched = await client.fetch_channel(channel.id)
    except (discord.HTTPException, discord.InvalidData):
        logger.warning(
            "discord channel unknown, scope not established",
            extra={"platform": PLATFORM, "request_id": request_id, "channel": str(channel.id)},
        )
        return "", True
    if isinstance(fetched, discord.Thread):
        return str(fetched.parent_id or ""), True
    return "", False


async def ask_in_worker(incoming: Incoming) -> Outcome:
    """`answer_incoming` in a worker thread: the event loop keeps serving other events
    and parallel questions don't queue behind each other (thread_sensitive=False)."""
    return await sync_to_async(conversation.answer_incoming, thread_sensitive=False)(incoming)


async def deliver(
    target: discord.abc.Messageable,
    replies: Sequence[Reply],
    *,
    reference: discord.Message | None = None,
    request_id: str,
    log_fields: dict[str, object],
) -> bool:
    """Send the replies in order (the first one as a reply to `reference`, if given)."""
    try:
        for index, reply in enumerate(replies):
            kwargs = send_kwargs(reply)
            if reference is not None and index == 0:
                kwargs |= {"reference": reference, "mention_author": False}
            await target.send(**kwargs)
    except discord.HTTPException:
        _log_delivery_failure(request_id, kind="message", **log_fields)
        return False
    _log_event("discord reply sent", request_id=request_id, **log_fields)
    return True


async def _start_thread(
    message: discord.Message, question: str, *, request_id: str
) -> discord.Thread | None:
    try:
        return await message.create_thread(name=thread_name(question))
    except discord.HTTPException as exc:  # no permission, or the message has a thread already
        logger.warning(
            "discord thread not created, replying in channel",
            extra={
                "platform": PLATFORM,
                "request_id": request_id,
                "channel": str(message.channel.id),
                "status": exc.status,
                "code": exc.code,
            },
        )
        return None


async def _typing(
    stack: contextlib.AsyncExitStack, target: discord.abc.Messageable, *, request_id: str
) -> None:
    try:
        await stack.enter_async_context(target.typing())
    except discord.HTTPException:  # cosmetic: answer anyway
        logger.warning(
            "discord typing failed", extra={"platform": PLATFORM, "request_id": request_id}
        )


async def _history(
    client: discord.Client, message: discord.Message, where: Where, *, request_id: str
) -> tuple[Turn, ...]:
    assert client.user is not None
    limit = settings.ARANDU_BOT_HISTORY_TURNS
    try:
        if where is Where.THREAD and isinstance(message.channel, discord.Thread):
            return await thread_history(
                message.channel, before=message, bot_user_id=client.user.id, limit=limit
            )
        if where is Where.DIRECT:
            return await dm_history(
                message.channel, before=message, bot_user_id=client.user.id, limit=limit
            )
    except discord.HTTPException:  # answer without context rather than not at all
        logger.warning(
            "discord history unavailable",
            exc_info=True,
            extra={"platform": PLATFORM, "request_id": request_id},
        )
    return ()


def _mode(outcome: Outcome) -> str:
    return "error" if outcome.answer is None else str(outcome.answer.mode)


def _log_event(message: str, *, request_id: str, **fields: object) -> None:
    logger.info(message, extra={"platform": PLATFORM, "request_id": request_id, **fields})


def _log_delivery_failure(request_id: str, *, kind: str, **fields: object) -> None:
    logger.warning(
        "discord reply failed",
        exc_info=True,
        extra={"platform": PLATFORM, "request_id": request_id, "kind": kind, **fields},
    )
