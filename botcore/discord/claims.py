"""Handle each Discord delivery once.

The gateway can deliver an event again (after a RESUME it replays what it believes the
client missed). Each copy would be answered on its own: a second try to start a thread
(Discord refuses: 160004), then a second answer in the channel and a second engine call.
Messages are claimed by message id and interactions by interaction id with the same
`HandledEvent` row the Slack door takes for its `event_id`: the unique row decides across
tasks, threads and processes.
"""

from __future__ import annotations

import logging

import discord
from asgiref.sync import sync_to_async
from django.db import DatabaseError

from botcore.events import event_claim
from botcore.jobs import release_stale_connections

logger = logging.getLogger(__name__)

PLATFORM = "discord"


async def message_claim(message: discord.Message) -> bool:
    """True for the first delivery of this message, False for a replayed copy."""
    return await _claim(f"message:{message.id}")


async def interaction_claim(interaction: discord.Interaction) -> bool:
    """True for the first delivery of this interaction, False for a replayed copy."""
    return await _claim(f"interaction:{interaction.id}")


async def _claim(event_id: str) -> bool:
    try:
        return await sync_to_async(_claim_in_worker, thread_sensitive=False)(event_id)
    except DatabaseError:
        # Answering (or apologising, if the database is really gone) beats dropping the
        # question; the cost is a possible double answer while the database fails.
        logger.warning(
            "discord event claim failed",
            exc_info=True,
            extra={"platform": PLATFORM, "event_id": event_id},
        )
        return True


def _claim_in_worker(event_id: str) -> bool:
    release_stale_connections()  # worker threads outlive requests
    return event_claim(platform=PLATFORM, event_id=event_id)
