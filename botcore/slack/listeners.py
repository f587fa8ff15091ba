"""Bolt listeners: decide in microseconds whether an event is for us, acknowledge, hand
the work to the background pool and return. No database or model work happens here
(the one exception is the modal submission, which must answer within Slack's 3 s)."""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from botcore.conversation import HELP_TEXT, is_help, mentions, new_request_id
from botcore.feedback import Clicker, comment
from botcore.jobs import BackgroundJobs
from botcore.slack import handlers
from botcore.slack.blocks import (
    COMMENT_ACTION,
    COMMENT_BLOCK,
    COMMENT_CALLBACK,
    FEEDBACK_DOWN,
    FEEDBACK_UP,
    PLACEHOLDER_TEXT,
    comment_modal,
    notice_modal,
)
from ragengine.request_context import request_scope
from ragengine.services.feedback import COMMENT_MAX_CHARS

logger = logging.getLogger(__name__)

ASK_COMMAND = "/ask"
SETS_PLACEHOLDER = ":mag: Checking which knowledge sets answer here…"
USAGE_TEXT = (
    f"{HELP_TEXT}\n\n"
    "• `/ask <question>`: only you see the answer\n"
    "• `/ask sets`: which knowledge sets answer in this channel, and why\n"
    "• `/ask help`: this message\n"
    "• Mention me in a channel (answered in a thread; follow-ups there need no mention), "
    "or send me a direct message."
)
# Message subtypes that are still a person writing; every other subtype (edits,
# deletions, joins, bot messages) is not a question.
ANSWERABLE_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})
RECEIVED_AT = "arandu_received_at"
REQUEST_ID = "arandu_request_id"


def register_listeners(app: App, *, jobs: BackgroundJobs, quick: BackgroundJobs) -> None:
    """Wire every trigger to `app`. `quick` runs the short steps (claim, placeholder,
    votes) and `jobs` the answering, both off Bolt's threads, so a queue of questions
    never delays the "Looking that up…" of the next one."""

    @app.middleware
    def stamp_arrival(context: BoltContext, next: Any) -> Any:  # Bolt passes `next` by name
        context[RECEIVED_AT] = time.perf_counter()
        # Runs on the thread that received the event (the HTTP request's, whose id the
        # listener then binds on its own thread): one id from event to answer.
        context[REQUEST_ID] = new_request_id()
        return next()

    @app.event("app_mention")
    def on_mention(body: dict, event: dict, context: BoltContext, client: WebClient) -> None:
        if event.get("bot_id") or event.get("subtype"):
            return
        question = _thread_question(body, event, context, follow_up=False)
        with request_scope(question.request_id, door="slack"):
            quick.submit(
                handlers.announce_in_thread, client=client, question=question, answer_jobs=jobs
            )
            _accepted(context, question.request_id, "app_mention", question.channel_id)

    @app.event("message")
    def on_message(body: dict, event: dict, context: BoltContext, client: WebClient) -> None:
        kind = message_kind(event, bot_user_id=context.bot_user_id or "")
        if kind is None:
            return
        question = _thread_question(body, event, context, follow_up=kind == "follow_up")
        with request_scope(question.request_id, door="slack"):
            quick.submit(
                handlers.announce_in_thread, client=client, question=question, answer_jobs=jobs
            )
            _accepted(context, question.request_id, f"message:{kind}", question.channel_id)

    @app.command(ASK_COMMAND)
    def on_ask(ack: Ack, command: dict, respond: Respond, context: BoltContext) -> None:
        text = (command.get("text") or "").strip()
        if is_help(text):
            ack(text=USAGE_TEXT, response_type="ephemeral")
            _accepted(context, "", "command:help", command.get("channel_id", ""))
            return
        sets = text.lower() == "sets"
        ack(text=SETS_PLACEHOLDER if sets else PLACEHOLDER_TEXT, response_type="ephemeral")
        channel_id = command.get("channel_id", "")
        question = handlers.SlashQuestion(
            request_id=context.get(REQUEST_ID) or new_request_id(),
            team_id=command.get("team_id", ""),
            channel_id=channel_id,
            user_id=command.get("user_id", ""),
            user_name=command.get("user_name", ""),
            text=text,
            is_direct=is_direct_channel(channel_id),  # never the payload's channel_name
        )
        with request_scope(question.request_id, door="slack"):
            if sets:
                quick.submit(handlers.describe_sets, respond=respond, question=question)
            else:
                jobs.submit(handlers.answer_slash, respond=respond, question=question)
            _accepted(
                context,
                question.request_id,
                "command:sets" if sets else "command",
                question.channel_id,
            )

    def on_feedback(
        ack: Ack,
        body: dict,
        action: dict,
        respond: Respond,
        context: BoltContext,
        client: WebClient,
    ) -> None:
        ack()
        up = action.get("action_id") == FEEDBACK_UP
        request_id = str(action.get("value") or "")
        if not up and body.get("trigger_id"):
            # trigger ids expire after 3 s: open the modal now, not from a queued job
            _open_modal(client, body["trigger_id"], request_id)
        clicker = _clicker(body)
        quick.submit(
            handlers.record_vote, respond=respond, clicker=clicker, request_id=request_id, up=up
        )
        _accepted(context, request_id, "block_actions", clicker.channel_id)

    app.action(FEEDBACK_UP)(on_feedback)
    app.action(FEEDBACK_DOWN)(on_feedback)

    @app.view(COMMENT_CALLBACK)
    def on_comment(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
        request_id = str(view.get("private_metadata") or "")
        text = comment_value(view)
        if len(text.strip()) > COMMENT_MAX_CHARS:
            ack(
                response_action="errors",
                errors={COMMENT_BLOCK: f"Please keep it under {COMMENT_MAX_CHARS} characters."},
            )
            return
        # Saving is one small write; doing it here lets the modal show the outcome.
        result = comment(clicker=_clicker(body), request_id=request_id, text=text)
        ack(response_action="update", view=notice_modal(result))
        _accepted(context, request_id, "view_submission", "")


def message_kind(event: dict, *, bot_user_id: str) -> str | None:
    """ "direct", "follow_up" (a reply in some thread: the job checks it is ours) or None
    for everything the bot must not answer."""
    if event.get("bot_id") or event.get("subtype") not in ANSWERABLE_SUBTYPES:
        return None
    if not event.get("user") or event.get("user") == bot_user_id:
        return None
    if event.get("channel_type") == "im" and is_direct_channel(event.get("channel") or ""):
        return "direct"
    if mentions(event.get("text") or "", bot_user_id=bot_user_id):
        return None  # app_mention answers it
    thread_ts = event.get("thread_ts")
    if thread_ts and thread_ts != event.get("ts"):
        return "follow_up"
    return None


def is_direct_channel(channel_id: str) -> bool:
    """Whether a Slack conversation id names a direct message with the bot.

    Slack gives DM conversations ids starting with "D" (channels "C", private channels
    and group DMs "C" or "G"), and a channel id can't be chosen by whoever sends a
    message. Display fields such as a command's `channel_name` don't decide this: a DM
    reads the asker's own sets, a channel its binding.
    """
    return channel_id.startswith("D")


def comment_value(view: dict) -> str:
    values = view.get("state", {}).get("values", {})
    return str(values.get(COMMENT_BLOCK, {}).get(COMMENT_ACTION, {}).get("value") or "")


def _thread_question(
    body: dict, event: dict, context: BoltContext, *, follow_up: bool
) -> handlers.ThreadQuestion:
    channel_id = str(event.get("channel") or "")
    return handlers.ThreadQuestion(
        request_id=context.get(REQUEST_ID) or new_request_id(),
        event_id=str(body.get("event_id") or ""),
        team_id=str(body.get("team_id") or context.team_id or ""),
        channel_id=channel_id,
        user_id=str(event.get("user") or ""),
        text=str(event.get("text") or ""),
        ts=str(event.get("ts") or ""),
        thread_ts=str(event.get("thread_ts") or ""),
        is_direct=is_direct_channel(channel_id),
        follow_up=follow_up,
        bot_user_id=context.bot_user_id or "",
        bot_id=context.bot_id or "",
    )


def _clicker(body: dict) -> Clicker:
    user = body.get("user") or {}
    return Clicker(
        platform=handlers.PLATFORM,
        user_id=str(user.get("id") or ""),
        workspace_id=str((body.get("team") or {}).get("id") or user.get("team_id") or ""),
        user_name=str(user.get("name") or user.get("username") or ""),
        channel_id=str((body.get("channel") or {}).get("id") or ""),
    )


def _open_modal(client: WebClient, trigger_id: str, request_id: str) -> None:
    try:
        client.views_open(trigger_id=trigger_id, view=comment_modal(request_id))
    except Exception as exc:  # a missing modal must not lose the vote
        logger.warning(
            "slack api call failed",
            extra={
                "request_id": request_id,
                "platform": "slack",
                "method": "views.open",
                "error": str(exc)[:200],
            },
        )


def _accepted(context: BoltContext, request_id: str, event_type: str, channel: str) -> None:
    received = context.get(RECEIVED_AT)
    ack_ms = round((time.perf_counter() - received) * 1000, 2) if received else None
    logger.info(
        "slack event accepted",
        extra={
            "request_id": request_id,
            "platform": "slack",
            "channel": channel,
            "event_type": event_type,
            "ack_ms": ack_ms,
        },
    )
