"""A Slack thread (conversations.replies) as the conversation `Turn`s `ask()` takes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from botcore.conversation import strip_mention
from botcore.slack.blocks import ANSWER_BLOCK_PREFIX, PLACEHOLDER_TEXT, WORD_JOINER
from ragengine.ask_types import Turn

Message = Mapping[str, Any]


def is_from_bot(message: Message, *, bot_user_id: str, bot_id: str = "") -> bool:
    return bool(
        (bot_user_id and message.get("user") == bot_user_id)
        or (bot_id and message.get("bot_id") == bot_id)
    )


def thread_turns(
    messages: Iterable[Message],
    *,
    bot_user_id: str,
    bot_id: str = "",
    exclude_ts: Iterable[str] = (),
    limit: int,
) -> tuple[Turn, ...]:
    """The bot's messages as assistant turns, everyone else's as user turns (mentions of
    the bot removed), oldest first, the last `limit` of them.

    `exclude_ts` names the message being answered and our placeholder; placeholders of
    other answers still in progress are left out too, as are other bots and system
    messages (joins, edits), which are not part of the conversation.
    """
    skip = set(exclude_ts)
    turns: list[Turn] = []
    for message in messages:
        if message.get("ts") in skip:
            continue
        if is_from_bot(message, bot_user_id=bot_user_id, bot_id=bot_id):
            text = answer_text(message)
            if text and not text.startswith(PLACEHOLDER_TEXT):
                turns.append(Turn(role="assistant", text=text))
            continue
        if message.get("bot_id") or message.get("subtype") not in (None, "thread_broadcast"):
            continue
        text = unescape(strip_mention(str(message.get("text") or ""), bot_user_id=bot_user_id))
        if text:
            turns.append(Turn(role="user", text=text))
    return tuple(turns[-limit:]) if limit > 0 else ()


def answer_text(message: Message) -> str:
    """The answer part of one of our messages: its answer sections when it has blocks
    (the `text` field is only a short notification line), else its text."""
    sections = [
        block.get("text", {}).get("text", "")
        for block in message.get("blocks") or ()
        if str(block.get("block_id", "")).startswith(ANSWER_BLOCK_PREFIX)
    ]
    text = "\n\n".join(s for s in sections if s) or str(message.get("text") or "")
    return unescape(text).strip()


def unescape(text: str) -> str:
    """Undo `blocks.escape`: Slack's three control characters and defused broadcasts."""
    text = text.replace("@" + WORD_JOINER, "@")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
