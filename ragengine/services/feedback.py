"""Recording what people thought of an answer."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from ragengine.models import Feedback, FeedbackValue, Member, UsageRecord
from ragengine.plaintext import unreadable_characters, unreadable_problem

logger = logging.getLogger(__name__)

COMMENT_MAX_CHARS = 2000


class FeedbackError(ValueError):
    """The vote can't be stored; the message is safe to show the user."""


def feedback_record(
    *, member: Member, request_id: str, value: int, platform: str = "", channel: str = ""
) -> Feedback:
    """Store `member`'s 👍 (1) or 👎 (-1) on the answer `request_id`; a second click
    changes the vote instead of adding one."""
    if value not in FeedbackValue.values:
        raise FeedbackError("Feedback must be 👍 or 👎.")
    request_id = (request_id or "").strip()
    if not request_id or len(request_id) > 32 or unreadable_characters(request_id):
        raise FeedbackError("That button doesn't belong to an answer I know.")
    usage = UsageRecord.objects.filter(request_id=request_id).order_by("pk").first()
    fields = {"value": value, "usage": usage, "platform": platform, "channel": channel}
    try:
        with transaction.atomic():
            feedback, created = Feedback.objects.update_or_create(
                member=member, request_id=request_id, defaults=fields
            )
    except IntegrityError:  # a double click raced us: the other insert won, update it
        feedback = Feedback.objects.get(member=member, request_id=request_id)
        Feedback.objects.filter(pk=feedback.pk).update(**fields)
        feedback.refresh_from_db()
        created = False
    logger.info(
        "feedback recorded",
        extra={
            "request_id": request_id,
            "member_id": member.pk,
            "value": value,
            "platform": platform,
            "changed": not created,
        },
    )
    return feedback


def feedback_comment(*, member: Member, request_id: str, comment: str) -> Feedback:
    """Attach a comment to the member's vote on `request_id` (the vote must exist)."""
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX_CHARS:
        raise FeedbackError(f"Please keep the comment under {COMMENT_MAX_CHARS} characters.")
    unreadable = unreadable_problem(comment, what="The comment")
    if unreadable is not None:
        raise FeedbackError(unreadable)
    feedback = Feedback.objects.filter(member=member, request_id=request_id).first()
    if feedback is None:
        raise FeedbackError("Please click 👍 or 👎 on the answer first.")
    feedback.comment = comment
    feedback.save(update_fields=["comment", "updated_at"])
    logger.info(
        "feedback comment recorded",
        extra={"request_id": request_id, "member_id": member.pk, "chars": len(comment)},
    )
    return feedback
