"""An `Answer` (or an apology) as a Slack message: Block Kit blocks plus the plain
`text` Slack shows in notifications and falls back to where blocks can't render."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from botcore.conversation import Outcome
from botcore.text import split_text as split_words
from ragengine.ask_types import Answer, AnswerMode, Source

SECTION_MAX_CHARS = 3000  # Slack's limit for a section's text
MAX_BLOCKS = 50  # Slack's limit for one message
FALLBACK_MAX_CHARS = 200
STREAMING_MAX_CHARS = 3900  # a plain-text edit stays readable and well under Slack's limit

PLACEHOLDER_TEXT = ":hourglass_flowing_sand: Looking that up…"
ANSWER_BLOCK_PREFIX = "answer-"  # history.py reads an answer back from these sections
FEEDBACK_UP = "feedback_up"
FEEDBACK_DOWN = "feedback_down"
NOTICE_EMOJI = ":information_source:"
TRUNCATED = "…"

Block = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """What chat.postMessage / chat.update / respond() take."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks} if self.blocks else {"text": self.text}


WORD_JOINER = "\u2060"  # invisible; keeps "@" and "here" from reading as "@here"
_BROADCAST = re.compile(r"(?<![\w.])@(?=(?:everyone|channel|here)\b)", re.IGNORECASE)


def escape(text: str) -> str:
    """Text (a model's, a document's, a person's) made inert: Slack's three control
    characters escaped, so it can't form links or mentions such as `<!channel>`
    (https://api.slack.com/reference/surfaces/formatting#escaping), and a plain
    @everyone / @channel / @here defused, since Slack may parse those too."""
    return _BROADCAST.sub("@" + WORD_JOINER, escape_markup(text))


def escape_markup(text: str) -> str:
    """Only `&`, `<` and `>` escaped (for URLs, where a word joiner would break them)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def link(url: str, label: str) -> str:
    """`<url|label>`; characters that would end the link early are made harmless."""
    safe_url = escape_markup(url).replace("|", "%7C").replace(" ", "%20")
    safe_label = escape(label).replace("|", "¦")
    return f"<{safe_url}|{safe_label}>"


def to_mrkdwn(markdown: str) -> str:
    """Markdown as written by models (and our extractive answers) → Slack mrkdwn.

    `**bold**` and `# headings` → `*bold*`, `[text](url)` → `<url|text>`; everything
    else is escaped, so `[n]` source markers stay as they are.
    """
    pieces: list[str] = []
    position = 0
    for match in _LINK.finditer(markdown):
        pieces.append(_inline(markdown[position : match.start()]))
        pieces.append(link(match.group(2), match.group(1).replace("**", "")))
        position = match.end()
    pieces.append(_inline(markdown[position:]))
    return "".join(pieces)


def _inline(text: str) -> str:
    text = _HEADING.sub(lambda m: f"**{m.group(1)}**", escape(text))
    return _BOLD.sub(lambda m: f"*{m.group(1)}*", text)


def split_text(text: str, *, limit: int = SECTION_MAX_CHARS) -> list[str]:
    """Chunks of at most `limit` characters (see `botcore.text.split_text`); a hard cut
    never splits an escape such as "&amp;" in two."""
    return split_words(text, limit=limit, hard_cut=_entity_safe_cut)


def _entity_safe_cut(text: str, limit: int) -> int:
    amp = text.rfind("&", limit - 5, limit)
    return amp if amp > 0 and ";" not in text[amp:limit] else limit


def section(text: str, *, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id:
        block["block_id"] = block_id
    return block


def text_sections(mrkdwn: str, *, block_prefix: str | None = None) -> list[Block]:
    return [
        section(part, block_id=f"{block_prefix}{i}" if block_prefix else None)
        for i, part in enumerate(split_text(mrkdwn) or [" "])
    ]


def source_line(source: Source) -> str:
    title = source.title or "Untitled"
    shown = link(source.link, title) if source.link else escape(title)
    where = f" — {escape(source.location)}" if source.location else ""
    return f"[{source.number}] *{shown}*{where}"


def sources_sections(sources: list[Source], *, title: str = "Sources") -> list[Block]:
    """The numbered sources under `title` (the engine's label, in the question's
    language)."""
    if not sources:
        return []
    lines = "\n".join(source_line(s) for s in sorted(sources, key=lambda s: s.number))
    return text_sections(f"*{escape(title)}*\n{lines}", block_prefix="sources-")


def notices_block(notices: list[str]) -> Block | None:
    lines = [f"{NOTICE_EMOJI} {escape(n.strip())}" for n in notices if n and n.strip()]
    if not lines:
        return None
    text = split_text("\n".join(lines))[0]
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def feedback_block(request_id: str) -> Block:
    def button(emoji: str, label: str, action_id: str) -> Block:
        return {
            "type": "button",
            "text": {"type": "plain_text", "text": f"{emoji} {label}", "emoji": True},
            "action_id": action_id,
            "value": request_id,
        }

    return {
        "type": "actions",
        "block_id": "feedback",
        "elements": [
            button("👍", "Helpful", FEEDBACK_UP),
            button("👎", "Not helpful", FEEDBACK_DOWN),
        ],
    }


def fallback_text(text: str) -> str:
    """A short plain line for notifications (no markup, markers kept). Slack parses this
    `text` too, so it is escaped like the blocks: a document quoting `<!channel>` or
    @everyone must not notify anyone."""
    plain = escape(" ".join(text.replace("**", "").split()))
    if len(plain) <= FALLBACK_MAX_CHARS:
        return plain
    cut = _entity_safe_cut(plain, FALLBACK_MAX_CHARS - 1)
    return plain[:cut].rstrip() + TRUNCATED


def plain_message(text: str) -> SlackMessage:
    """A refusal, an apology, help: just the text."""
    return SlackMessage(text=fallback_text(text), blocks=text_sections(to_mrkdwn(text)))


def answer_message(answer: Answer) -> SlackMessage:
    """The answer with its [n] markers, its sources, notices and 👍/👎 buttons."""
    if answer.mode == AnswerMode.REFUSED:
        return plain_message(answer.text)
    tail: list[Block] = sources_sections(
        answer.sources, title=answer.labels.get("sources", "Sources")
    )
    notices = notices_block(answer.notices)
    if notices is not None:
        tail.append(notices)
    if answer.request_id:
        tail.append(feedback_block(answer.request_id))
    tail = tail[-(MAX_BLOCKS - 1) :]  # always leave room for at least one answer section
    body = text_sections(to_mrkdwn(answer.text), block_prefix=ANSWER_BLOCK_PREFIX)
    room = MAX_BLOCKS - len(tail)
    if len(body) > room:
        body = body[:room]
        last = body[-1]["text"]
        last["text"] = last["text"][: SECTION_MAX_CHARS - len(TRUNCATED)] + TRUNCATED
    return SlackMessage(text=fallback_text(answer.text), blocks=body + tail)


def outcome_message(outcome: Outcome) -> SlackMessage:
    if outcome.answer is None:
        return plain_message(outcome.apology)
    return answer_message(outcome.answer)


def streaming_text(text_so_far: str) -> str:
    """The placeholder's text while a model is still writing."""
    parts = split_text(to_mrkdwn(text_so_far), limit=STREAMING_MAX_CHARS)
    return f"{parts[0] if parts else ''} {TRUNCATED}"


COMMENT_CALLBACK = "feedback_comment"
COMMENT_BLOCK = "comment"
COMMENT_ACTION = "comment_input"


def comment_modal(request_id: str) -> Block:
    """The modal a 👎 opens: one optional comment, tied to the answer by request id."""
    return {
        "type": "modal",
        "callback_id": COMMENT_CALLBACK,
        "private_metadata": request_id,
        "title": {"type": "plain_text", "text": "What was wrong?"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Skip"},
        "blocks": [
            {
                "type": "input",
                "block_id": COMMENT_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Comment (optional)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": COMMENT_ACTION,
                    "multiline": True,
                    "placeholder": {
                        "type": "plain_text",
                        "text": "Missing source, wrong number, outdated policy…",
                    },
                },
            }
        ],
    }


def notice_modal(text: str) -> Block:
    """What the comment modal turns into once submitted (thanks, or why it failed)."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Feedback"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [section(escape(text))],
    }
