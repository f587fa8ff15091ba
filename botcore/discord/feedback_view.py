"""👍/👎 buttons that keep working after a restart, and the 👎 comment modal.

The buttons are `DynamicItem`s: their custom_id carries the vote and the request id, and
the client registers the class in `setup_hook`, so a click on a message sent by an earlier
process is still routed without any stored view state or database lookup.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import discord
from asgiref.sync import sync_to_async

from botcore import feedback
from botcore.discord.claims import interaction_claim
from botcore.feedback import THANKS_DOWN, Clicker
from ragengine.services.feedback import COMMENT_MAX_CHARS

logger = logging.getLogger(__name__)

PLATFORM = "discord"
FEEDBACK_TEMPLATE = r"arandu:fb:(?P<vote>up|down):(?P<rid>[0-9a-f]{6,32})"
_REQUEST_ID = re.compile(r"[0-9a-f]{6,32}")
SAVE_FAILED = "Sorry, I couldn't save that. Please try again later."


def is_feedback_request_id(request_id: str) -> bool:
    """Whether buttons can carry this request id (the custom_id template accepts it)."""
    return bool(_REQUEST_ID.fullmatch(request_id or ""))


def feedback_custom_id(*, up: bool, request_id: str) -> str:
    return f"arandu:fb:{'up' if up else 'down'}:{request_id}"


class FeedbackButton(discord.ui.DynamicItem[discord.ui.Button], template=FEEDBACK_TEMPLATE):
    """One 👍 or 👎 button for the answer `request_id`."""

    def __init__(self, *, up: bool, request_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                emoji="👍" if up else "👎",
                custom_id=feedback_custom_id(up=up, request_id=request_id),
            )
        )
        self.up = up
        self.request_id = request_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> FeedbackButton:
        return cls(up=match["vote"] == "up", request_id=match["rid"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await feedback_click(interaction, up=self.up, request_id=self.request_id)


def feedback_view(*, request_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(FeedbackButton(up=True, request_id=request_id))
    view.add_item(FeedbackButton(up=False, request_id=request_id))
    return view


class CommentModal(discord.ui.Modal, title="What was wrong with the answer?"):
    """Asked after a 👎 (the vote is already saved); submitting attaches the comment."""

    comment: discord.ui.TextInput = discord.ui.TextInput(
        label="Comment (optional)",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=COMMENT_MAX_CHARS,
        placeholder="What was missing or wrong?",
    )

    def __init__(self, *, request_id: str) -> None:
        super().__init__(timeout=15 * 60)  # Discord drops unanswered modals anyway
        self.request_id = request_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        if not await interaction_claim(interaction):
            return  # a copy the gateway delivered again
        clicker = clicker_for(interaction)
        _log_receipt("discord feedback comment received", interaction, self.request_id)
        text = await _in_worker_thread(
            feedback.comment, clicker=clicker, request_id=self.request_id, text=self.comment.value
        )
        await _reply_ephemeral(interaction, text, request_id=self.request_id)


async def feedback_click(interaction: discord.Interaction, *, up: bool, request_id: str) -> None:
    """Record the vote, then thank the clicker (👍) or ask for a comment (👎)."""
    if not await interaction_claim(interaction):
        return  # a copy the gateway delivered again
    _log_receipt("discord feedback click received", interaction, request_id, up=up)
    text = await _in_worker_thread(
        feedback.vote, clicker=clicker_for(interaction), request_id=request_id, up=up
    )
    if not up and text == THANKS_DOWN:
        try:
            await interaction.response.send_modal(CommentModal(request_id=request_id))
        except discord.HTTPException:
            logger.warning(
                "discord reply failed",
                exc_info=True,
                extra={"platform": PLATFORM, "request_id": request_id, "kind": "modal"},
            )
        return
    await _reply_ephemeral(interaction, text, request_id=request_id)


def clicker_for(interaction: discord.Interaction) -> Clicker:
    """The person who clicked, keyed like the asker (guild id, or "" in DMs)."""
    user = interaction.user
    return Clicker(
        platform=PLATFORM,
        user_id=str(user.id),
        workspace_id=str(interaction.guild_id or ""),
        user_name=getattr(user, "display_name", "") or user.name,
        channel_id=str(interaction.channel_id or ""),
    )


async def _in_worker_thread(fn: Callable[..., str], /, **kwargs: Any) -> str:
    """Run a sync feedback helper off the event loop (not serialised with other clicks)."""

    try:
        return await sync_to_async(fn, thread_sensitive=False)(**kwargs)
    except Exception:
        logger.exception(
            "discord feedback failed",
            extra={"platform": PLATFORM, "request_id": kwargs.get("request_id", "")},
        )
        return SAVE_FAILED


async def _reply_ephemeral(interaction: discord.Interaction, text: str, *, request_id: str) -> None:
    try:
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )
    except discord.HTTPException:
        logger.warning(
            "discord reply failed",
            exc_info=True,
            extra={"platform": PLATFORM, "request_id": request_id, "kind": "feedback"},
        )


def _log_receipt(
    message: str, interaction: discord.Interaction, request_id: str, **fields: object
) -> None:
    logger.info(
        message,
        extra={
            "platform": PLATFORM,
            "request_id": request_id,
            "channel": str(interaction.channel_id or ""),
            "guild": str(interaction.guild_id or ""),
            **fields,
        },
    )
