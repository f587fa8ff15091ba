"""👍/👎 clicks and comments from any door, recorded against the clicker's member."""

from __future__ import annotations

from dataclasses import dataclass

from botcore.jobs import release_stale_connections
from ragengine.models import FeedbackValue
from ragengine.services.feedback import FeedbackError, feedback_comment, feedback_record
from ragengine.services.members import member_resolve

THANKS_UP = "Thanks for the feedback! 👍"
THANKS_DOWN = "Thanks, noted 👎. A comment on what was wrong helps us fix it."


@dataclass(frozen=True, slots=True)
class Clicker:
    platform: str
    user_id: str
    workspace_id: str = ""
    user_name: str = ""
    channel_id: str = ""


def vote(*, clicker: Clicker, request_id: str, up: bool) -> str:
    """Record the vote; returns the text to show the clicker (errors included)."""
    release_stale_connections()  # called from bot threads, which outlive requests
    member = _member(clicker)
    value = FeedbackValue.UP if up else FeedbackValue.DOWN
    try:
        feedback_record(
            member=member,
            request_id=request_id,
            value=int(value),
            platform=clicker.platform,
            channel=f"{clicker.platform}:{clicker.channel_id}",
        )
    except FeedbackError as exc:
        return str(exc)
    return THANKS_UP if up else THANKS_DOWN


def comment(*, clicker: Clicker, request_id: str, text: str) -> str:
    """Attach a comment to the clicker's vote; returns the text to show them."""
    release_stale_connections()
    try:
        feedback_comment(member=_member(clicker), request_id=request_id, comment=text)
    except FeedbackError as exc:
        return str(exc)
    return "Thanks, your comment was saved."


def _member(clicker: Clicker):
    return member_resolve(
        platform=clicker.platform,
        user_id=clicker.user_id,
        workspace_id=clicker.workspace_id,
        display_name=clicker.user_name,
    )
