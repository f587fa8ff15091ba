"""Delivery bookkeeping shared by the doors: claim an event once (Slack retries an event,
Discord's gateway replays events after a resume) and remember the threads the bot
answers in."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from botcore.models import BotThread, HandledEvent

logger = logging.getLogger(__name__)

# Slack retries for about an hour at most and Discord replays only within a resumable
# session (minutes); a day leaves a wide margin.
HANDLED_EVENT_RETENTION = timedelta(days=1)


def event_claim(*, platform: str, event_id: str) -> bool:
    """True for the first delivery of `event_id`, False for every later one (a retry),
    across threads and processes: the unique row decides."""
    if not event_id:
        return True  # nothing to deduplicate on
    try:
        with transaction.atomic():
            HandledEvent.objects.create(platform=platform, event_id=event_id[:200])
    except IntegrityError:
        logger.info("duplicate event ignored", extra={"platform": platform, "event_id": event_id})
        return False
    return True


def handled_events_prune(*, older_than: timedelta = HANDLED_EVENT_RETENTION) -> int:
    deleted, _ = HandledEvent.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted


def thread_remember(*, platform: str, channel_id: str, thread_id: str) -> None:
    """Mark a thread as one the bot answers in (idempotent)."""
    try:
        with transaction.atomic():
            BotThread.objects.get_or_create(
                platform=platform, channel_id=channel_id, thread_id=thread_id
            )
    except IntegrityError:  # remembered concurrently
        pass


def thread_is_ours(*, platform: str, channel_id: str, thread_id: str) -> bool:
    return BotThread.objects.filter(
        platform=platform, channel_id=channel_id, thread_id=thread_id
    ).exists()
