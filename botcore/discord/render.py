"""`Outcome` → Discord messages: answer text (split at 2000 characters), a "Sources"
embed within Discord's embed limits, notices in its footer, 👍/👎 on the last message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import discord

from botcore.conversation import Outcome
from botcore.discord.feedback_view import feedback_view, is_feedback_request_id
from botcore.text import split_text as split_words
from ragengine.ask_types import Answer, AnswerMode, Source

# Discord's documented limits (https://discord.com/developers/docs/resources/message).
MESSAGE_LIMIT = 2000
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FOOTER_LIMIT = 2048
EMBED_FIELDS_LIMIT = 25
EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
QUESTION_QUOTE_LIMIT = 300
SOURCES_TITLE = "Sources"
NOTES_TITLE = "Notes"
_ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Reply:
    """One Discord message to send; `feedback_request_id` adds the 👍/👎 buttons."""

    content: str
    embeds: tuple[discord.Embed, ...] = ()
    feedback_request_id: str = ""


def render_outcome(outcome: Outcome, *, question: str = "") -> list[Reply]:
    """The messages for one outcome. `question` is quoted first (for `/ask`, where the
    channel does not show what was asked)."""
    quote = _quote(question)
    if outcome.failed:
        return [Reply(part) for part in split_text(quote + outcome.apology)]
    answer = outcome.answer
    assert answer is not None
    if answer.mode == AnswerMode.REFUSED:
        return [Reply(part) for part in split_text(quote + (answer.text or "…"))]
    parts = split_text(quote + answer.text) or [""]
    embeds = answer_embeds(answer)
    request_id = answer.request_id or outcome.request_id
    last = Reply(
        parts[-1] if parts[-1] or embeds else _ELLIPSIS,
        embeds=embeds,
        feedback_request_id=request_id if is_feedback_request_id(request_id) else "",
    )
    return [Reply(part) for part in parts[:-1]] + [last]


def plain_replies(text: str) -> list[Reply]:
    return [Reply(part) for part in split_text(text)]


def split_text(text: str, *, limit: int = MESSAGE_LIMIT) -> list[str]:
    return split_words(text, limit=limit)


def answer_embeds(answer: Answer) -> tuple[discord.Embed, ...]:
    """The "Sources" embed (notices in its footer), or a "Notes" embed when an answer
    has notices but no sources."""
    notices = "\n".join(n.strip() for n in answer.notices if n.strip())
    if answer.sources:
        embed = discord.Embed(
            title=answer.labels.get("sources", SOURCES_TITLE),
            description=sources_text(answer.sources),
        )
        room = EMBED_TOTAL_LIMIT - len(embed)
        if notices and room > 0:
            embed.set_footer(text=_truncate(notices, min(EMBED_FOOTER_LIMIT, room)))
        return (embed,)
    if notices:
        return (
            discord.Embed(
                title=answer.labels.get("notes", NOTES_TITLE),
                description=_truncate(notices, EMBED_DESCRIPTION_LIMIT),
            ),
        )
    return ()


def sources_text(sources: list[Source], *, limit: int = EMBED_DESCRIPTION_LIMIT) -> str:
    """One line per source, "[n] Title — location", the title linked when it has a web
    link; lines that don't fit are summarised as "…and N more"."""
    lines: list[str] = []
    used = 0
    for index, source in enumerate(sources):
        line = source_line(source)
        remaining = len(sources) - index
        reserve = len(f"\n{_ELLIPSIS}and {remaining} more") if remaining > 1 else 0
        if used + len(line) + 1 + reserve > limit:
            lines.append(f"{_ELLIPSIS}and {remaining} more")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)[:limit]


def source_line(source: Source) -> str:
    title = _escape_link_text(_truncate(source.title or "Untitled", 200))
    if source.link.startswith(("https://", "http://")):
        title = f"[{title}]({source.link.replace(')', '%29').replace(' ', '%20')})"
    location = _truncate(source.location, 200)
    where = f" — {discord.utils.escape_markdown(location)}" if location else ""
    return f"[{source.number}] {title}{where}"


def send_kwargs(reply: Reply) -> dict[str, Any]:
    """Keyword arguments for `Messageable.send` / `Webhook.send`: answers never ping."""
    kwargs: dict[str, Any] = {
        "content": reply.content,
        "allowed_mentions": discord.AllowedMentions.none(),
    }
    if reply.embeds:
        kwargs["embeds"] = list(reply.embeds[:EMBEDS_PER_MESSAGE])
    if reply.feedback_request_id:
        kwargs["view"] = feedback_view(request_id=reply.feedback_request_id)
    return kwargs


def thread_name(question: str, *, limit: int = 90) -> str:
    """A thread title from the question (Discord allows 100; we keep it at `limit`)."""
    name = " ".join(question.split()) or "Question"
    return _truncate(name, limit)


def _quote(question: str) -> str:
    question = " ".join(question.split())
    if not question:
        return ""
    return f"> {_truncate(question, QUESTION_QUOTE_LIMIT)}\n"


def _truncate(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + _ELLIPSIS


def _escape_link_text(text: str) -> str:
    return discord.utils.escape_markdown(text).replace("[", "\\[").replace("]", "\\]")
