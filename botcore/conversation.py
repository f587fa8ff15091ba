"""The platform-neutral conversation layer: a chat message in, an `Answer` (or an apology
naming a request id) out. Slack and Discord only translate to and from these types."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field

from botcore.jobs import release_stale_connections
from ragengine.ask_types import Answer, Turn
from ragengine.models import Member
from ragengine.request_context import current_request_id
from ragengine.request_context import new_request_id as fresh_request_id
from ragengine.selectors.channels import ChannelScope, ScopeOrigin, channel_scope
from ragengine.services.ask import TextSink, ask
from ragengine.services.members import member_resolve

logger = logging.getLogger(__name__)

HELP_TEXT = (
    "Ask me anything about the company's documents and I'll answer with numbered sources. "
    "For example: “How many vacation days do I get?”"
)


def new_request_id() -> str:
    """The id of the event being handled when one is bound (an HTTP request's), else new:
    one id from the event's arrival to its answer."""
    return current_request_id() or fresh_request_id()


def apology(request_id: str) -> str:
    return (
        "Sorry, something went wrong on my side and I couldn't answer. "
        f"If it keeps happening, give an admin this reference: {request_id}"
    )


_MENTION = re.compile(r"<@!?&?([A-Za-z0-9]+)(?:\|[^>]*)?>")


def strip_mention(text: str, *, bot_user_id: str) -> str:
    """The message without mentions of the bot (Slack `<@U1>`, Discord `<@1>`/`<@!1>`)."""
    if not bot_user_id:
        return text.strip()
    cleaned = _MENTION.sub(lambda m: "" if m.group(1) == bot_user_id else m.group(0), text)
    return " ".join(cleaned.split())


def mentions(text: str, *, bot_user_id: str) -> bool:
    return bool(bot_user_id) and any(
        m.group(1) == bot_user_id for m in _MENTION.finditer(text or "")
    )


@dataclass(frozen=True, slots=True)
class Incoming:
    """One question as a door received it (mentions already removed from `text`)."""

    platform: str
    user_id: str
    channel_id: str
    text: str
    workspace_id: str = ""
    workspace_name: str = ""
    user_name: str = ""
    parent_channel_id: str = ""  # a thread's channel, for its binding
    # From trusted ids only (Slack: a "D…" conversation; Discord: a DM channel, no guild):
    # a direct message reads the asker's own sets, never the channel's.
    is_direct: bool = False
    # A thread, or a channel the door could not identify: without `parent_channel_id`
    # its scope is unknown and the question is refused.
    is_thread: bool = False
    history: tuple[Turn, ...] = ()
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class Outcome:
    """An answer, or (when something unexpected broke) `apology` to show instead."""

    request_id: str
    answer: Answer | None
    latency_ms: float
    apology: str = ""

    @property
    def failed(self) -> bool:
        return self.answer is None


def is_help(text: str) -> bool:
    return text.strip().lower() in {"", "help", "ajuda", "?"}


def answer_incoming(incoming: Incoming, *, on_text: TextSink | None = None) -> Outcome:
    """Resolve the asker and the channel's knowledge sets, then call `ask()`.

    Never raises: anything unexpected is logged with the request id and becomes an
    apology naming it, so the user has something to report.
    """
    started = time.perf_counter()
    release_stale_connections()  # bot threads outlive requests
    try:
        member, scope = _asker_and_scope(incoming)
        if scope.origin == ScopeOrigin.NONE:
            logger.warning(
                "door question has no knowledge-set scope",
                extra=_log_fields(incoming, latency_ms=ms_since(started), mode="refused")
                | {"workspace": incoming.workspace_id, "member": member.pk},
            )
        answer = ask(
            member=member,
            question=incoming.text,
            channel=scope.channel,
            history=incoming.history,
            request_id=incoming.request_id,
            on_text=on_text,
        )
    except Exception:
        latency = ms_since(started)
        logger.exception(
            "door question failed",
            extra=_log_fields(incoming, latency_ms=latency, mode="error"),
        )
        return Outcome(incoming.request_id, None, latency, apology(incoming.request_id))
    latency = ms_since(started)
    logger.info(
        "door question answered",
        extra=_log_fields(incoming, latency_ms=latency, mode=str(answer.mode))
        | {"sets": scope.origin.value, "sources": len(answer.sources)},
    )
    return Outcome(answer.request_id or incoming.request_id, answer, latency)


def channel_sets(incoming: Incoming) -> ChannelScope:
    """The knowledge sets a question from `incoming`'s asker and channel would read, and
    why (for `/ask sets`); `incoming.text` is not used."""
    return _asker_and_scope(incoming)[1]


def _asker_and_scope(incoming: Incoming) -> tuple[Member, ChannelScope]:
    member = member_resolve(
        platform=incoming.platform,
        user_id=incoming.user_id,
        workspace_id=incoming.workspace_id,
        display_name=incoming.user_name,
        workspace_name=incoming.workspace_name,
    )
    scope = channel_scope(
        platform=incoming.platform,
        workspace_id=incoming.workspace_id,
        channel_id=incoming.channel_id,
        parent_channel_id=incoming.parent_channel_id,
        is_direct=incoming.is_direct,
        is_thread=incoming.is_thread,
        member=member,
    )
    return member, scope


def ms_since(started: float) -> float:
    """Milliseconds since `started` (a `time.perf_counter()` reading), for logs."""
    return round((time.perf_counter() - started) * 1000, 1)


def _log_fields(incoming: Incoming, *, latency_ms: float, mode: str) -> dict[str, object]:
    return {
        "request_id": incoming.request_id,
        "platform": incoming.platform,
        "channel": incoming.channel_id,
        "direct": incoming.is_direct,
        "history_turns": len(incoming.history),
        "latency_ms": latency_ms,
        "mode": mode,
    }
