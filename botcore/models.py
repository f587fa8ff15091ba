"""What the doors remember between events: which deliveries they already handled (Slack
retries the same event) and which threads they answer in without a mention."""

from __future__ import annotations

from django.db import models


class HandledEvent(models.Model):
    """A platform event id that has been taken by a worker; a retry finds it and stops."""

    platform = models.CharField(max_length=20)
    event_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "event_id"], name="handled_event_unique")
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.event_id}"


class BotThread(models.Model):
    """A thread the bot answered in: later messages there are follow-ups to it."""

    platform = models.CharField(max_length=20)
    channel_id = models.CharField(max_length=100)
    thread_id = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "channel_id", "thread_id"], name="bot_thread_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.channel_id}/{self.thread_id}"
