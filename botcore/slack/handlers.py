"""The work a Slack listener hands to the background pools: claim the event and post a
placeholder (quick pool), then answer, streaming into the placeholder, and replace it
with the answer (answer pool).

Nothing here runs on the acknowledgement path, and nothing here raises: Slack API
failures are logged with the request id and the job ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from botcore.conversation import (
    HELP_TEXT,
    Incoming,
    answer_incoming,
    channel_sets,
    is_help,
    strip_mention,
)
from botcore.events import event_claim, thread_is_ours, thread_remember
from botcore.feedback import Clicker, vote
from botcore.jobs import BackgroundJobs
from botcore.slack.blocks import (
    PLACEHOLDER_TEXT,
    SlackMessage,
    outcome_message,
    plain_message,
    streaming_text,
)
from botcore.slack.history import thread_turns
from ragengine.ask_types import Turn
from ragengine.selectors.channels import ChannelScope, ScopeOrigin

logger = logging.getLogger(__name__)

PLATFORM = "slack"
REPLIES_PAGE = 200  # conversations.replies page size; only the last turns are kept

Respond = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class ThreadQuestion:
    """A question asked by message (mention, direct message or thread follow-up); the
    answer goes into the message's thread."""

    request_id: str
    event_id: str
    team_id: str
    channel_id: str
    user_id: str
    text: str  # as received, mentions included
    ts: str
    thread_ts: str = ""  # "" for a message that doesn't start or sit in a thread yet
    is_direct: bool = False
    follow_up: bool = False  # answer only if the thread is one the bot answered in
    bot_user_id: str = ""
    bot_id: str = ""

    @property
    def reply_thread(self) -> str:
        return self.thread_ts or self.ts


@dataclass(frozen=True, slots=True)
class SlashQuestion:
    """`/ask <text>`: answered ephemerally through the command's response_url."""

    request_id: str
    team_id: str
    channel_id: str
    user_id: str
    text: str
    user_name: str = ""
    is_direct: bool = False


def _incoming(
    question: ThreadQuestion | SlashQuestion, *, text: str, history: tuple[Turn, ...] = ()
) -> Incoming:
    """The conversation layer's view of a Slack question, one rule for messages and
    `/ask`: the team is the workspace, and the event's request id goes along."""
    return Incoming(
        platform=PLATFORM,
        user_id=question.user_id,
        channel_id=question.channel_id,
        text=text,
        workspace_id=question.team_id,
        user_name=question.user_name if isinstance(question, SlashQuestion) else "",
        is_direct=question.is_direct,
        history=history,
        request_id=question.request_id,
    )


def announce_in_thread(
    *, client: WebClient, question: ThreadQuestion, answer_jobs: BackgroundJobs
) -> None:
    """Stage 1, on the quick pool: claim the event and post the placeholder, so the asker
    sees "Looking that up…" at once even while every answer worker is busy; then queue
    the answering (stage 2) on `answer_jobs`."""
    if question.follow_up and not thread_is_ours(
        platform=PLATFORM, channel_id=question.channel_id, thread_id=question.thread_ts
    ):
        return
    if not event_claim(platform=PLATFORM, event_id=question.event_id):
        return  # a retry of an event another job already answers
    slack = SlackCalls(client=client, request_id=question.request_id)
    text = strip_mention(question.text, bot_user_id=question.bot_user_id)
    if is_help(text):
        slack.post(question, plain_message(HELP_TEXT))
        _remember(question)
        return
    placeholder_ts = slack.post(question, SlackMessage(text=PLACEHOLDER_TEXT))
    answer_jobs.submit(
        answer_in_thread, slack=slack, question=question, text=text, placeholder_ts=placeholder_ts
    )


def answer_in_thread(
    *, slack: SlackCalls, question: ThreadQuestion, text: str, placeholder_ts: str
) -> None:
    """Stage 2, on the answer pool: thread history, ask (streaming into the placeholder),
    then replace the placeholder with the answer."""
    history = _history(slack, question, placeholder_ts=placeholder_ts)
    editor = (
        PlaceholderEditor(slack=slack, channel_id=question.channel_id, ts=placeholder_ts)
        if placeholder_ts
        else None
    )
    outcome = answer_incoming(_incoming(question, text=text, history=history), on_text=editor)
    message = outcome_message(outcome)
    if placeholder_ts:
        slack.update(question.channel_id, placeholder_ts, message)
    else:  # the placeholder couldn't be posted: try once more with the answer itself
        slack.post(question, message)
    _remember(question)


def _remember(question: ThreadQuestion) -> None:
    thread_remember(
        platform=PLATFORM, channel_id=question.channel_id, thread_id=question.reply_thread
    )


def _history(slack: SlackCalls, question: ThreadQuestion, *, placeholder_ts: str) -> tuple:
    limit = settings.ARANDU_BOT_HISTORY_TURNS
    if not question.thread_ts or limit <= 0:
        return ()
    messages = slack.replies(question.channel_id, question.thread_ts)
    return thread_turns(
        messages,
        bot_user_id=question.bot_user_id,
        bot_id=question.bot_id,
        exclude_ts={question.ts, placeholder_ts},
        limit=limit,
    )


def answer_slash(*, respond: Respond, question: SlashQuestion) -> None:
    """`/ask <question>`: the answer replaces the ephemeral "Looking that up…"."""
    outcome = answer_incoming(_incoming(question, text=question.text))
    _respond(respond, outcome_message(outcome), request_id=question.request_id)


def describe_sets(*, respond: Respond, question: SlashQuestion) -> None:
    """`/ask sets`: which knowledge sets answer here, and why."""
    scope = channel_sets(_incoming(question, text=""))
    text = sets_text(scope, is_direct=question.is_direct)
    _respond(respond, plain_message(text), request_id=question.request_id)


def sets_text(scope: ChannelScope, *, is_direct: bool = False) -> str:
    """What `/ask sets` says: the sets a question here reads and why, or why none."""
    names, origin = scope.channel.knowledge_sets, scope.origin
    if origin == ScopeOrigin.NONE:
        return scope.channel.refusal
    if names is None:
        narrower = (
            "you have no sets of your own and your workspace has no default sets"
            if is_direct
            else "this channel has no binding and the workspace has no default sets"
        )
        return (
            f"Here I answer from **all knowledge sets**: {narrower}, and an admin chose to "
            "let this workspace read every set."
        )
    if not names:
        return "I don't answer in this channel: its binding has no knowledge sets."
    listed = ", ".join(f"**{name}**" for name in names)
    if origin == ScopeOrigin.WORKSPACE:
        why = (
            "you have no sets of your own, so your workspace's defaults apply"
            if is_direct
            else "this channel has no binding, so the workspace defaults apply"
        )
    elif origin == ScopeOrigin.MEMBER:
        why = "they are your own sets, used in direct messages"
    else:
        why = "an admin bound them to this channel"
    return f"Here I answer from {listed} ({why})."


def record_vote(*, respond: Respond, clicker: Clicker, request_id: str, up: bool) -> None:
    """A 👍/👎 click: store it and tell the clicker (only them)."""
    text = vote(clicker=clicker, request_id=request_id, up=up)
    _respond(respond, SlackMessage(text=text), request_id=request_id, replace_original=False)


def _respond(
    respond: Respond, message: SlackMessage, *, request_id: str, replace_original: bool = True
) -> None:
    try:
        response = respond(
            **message.as_kwargs(), response_type="ephemeral", replace_original=replace_original
        )
    except (SlackClientError, OSError) as exc:
        _log_failure("response_url", request_id, exc)
        return
    status = getattr(response, "status_code", 200)
    if status != 200:
        _log_failure("response_url", request_id, f"HTTP {status}")


class SlackCalls:
    """The Web API calls a job makes, each logging (never raising) a failure."""

    def __init__(self, *, client: WebClient, request_id: str) -> None:
        self.client = client
        self.request_id = request_id

    def post(self, question: ThreadQuestion, message: SlackMessage) -> str:
        """Reply in the question's thread; returns the new message's ts ("" on failure)."""
        response = self._call(
            "chat.postMessage",
            self.client.chat_postMessage,
            channel=question.channel_id,
            thread_ts=question.reply_thread,
            **message.as_kwargs(),
        )
        return str(response.get("ts") or "") if response else ""

    def update(self, channel_id: str, ts: str, message: SlackMessage) -> bool:
        kwargs = message.as_kwargs()
        kwargs.setdefault("blocks", [])  # replace the placeholder's content entirely
        return bool(
            self._call("chat.update", self.client.chat_update, channel=channel_id, ts=ts, **kwargs)
        )

    def edit_text(self, channel_id: str, ts: str, text: str) -> bool:
        return bool(
            self._call("chat.update", self.client.chat_update, channel=channel_id, ts=ts, text=text)
        )

    def replies(self, channel_id: str, thread_ts: str) -> list[dict[str, Any]]:
        response = self._call(
            "conversations.replies",
            self.client.conversations_replies,
            channel=channel_id,
            ts=thread_ts,
            limit=REPLIES_PAGE,
        )
        return list(response.get("messages") or []) if response else []

    def _call(self, method: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except (SlackClientError, OSError) as exc:
            _log_failure(method, self.request_id, exc, channel=kwargs.get("channel", ""))
            return None


def _log_failure(method: str, request_id: str, error: object, *, channel: str = "") -> None:
    response = getattr(error, "response", None)
    reason = response.get("error") if hasattr(response, "get") else None
    logger.warning(
        "slack api call failed",
        extra={
            "request_id": request_id,
            "platform": PLATFORM,
            "method": method,
            "channel": channel,
            "error": reason or str(error)[:200],
        },
    )


class PlaceholderEditor:
    """`on_text` for a streaming model: shows the text so far in the placeholder, at
    most once per ARANDU_BOT_EDIT_INTERVAL_S (Slack rate-limits chat.update)."""

    def __init__(
        self,
        *,
        slack: SlackCalls,
        channel_id: str,
        ts: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slack = slack
        self._channel_id = channel_id
        self._ts = ts
        self._clock = clock
        self._interval = float(settings.ARANDU_BOT_EDIT_INTERVAL_S)
        self._last_edit = clock()  # the placeholder was just posted
        self._last_text = ""
        self._lock = threading.Lock()
        self.edits = 0

    def __call__(self, text_so_far: str) -> None:
        with self._lock:
            now = self._clock()
            if not text_so_far.strip() or text_so_far == self._last_text:
                return
            if now - self._last_edit < self._interval:
                return
            self._last_edit, self._last_text = now, text_so_far
            self.edits += 1
        self._slack.edit_text(self._channel_id, self._ts, streaming_text(text_so_far))
