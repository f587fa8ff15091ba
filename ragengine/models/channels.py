"""Which knowledge sets a chat channel may read."""

from __future__ import annotations

from django.db import models

from ragengine.models.knowledge import KnowledgeSet
from ragengine.models.people import Platform


class ChannelBinding(models.Model):
    """A Slack channel or Discord channel bound to the knowledge sets it may answer from.

    Answers in a bound channel never use any other set. A binding with no sets switches
    the bot off in that channel. Threads follow their parent channel's binding.

    Matched by platform and channel id only: both platforms' channel ids are globally
    unique, and a Slack Connect channel shared with another organisation keeps its id
    while its questions arrive with the other team's id. So one channel has at most one
    binding, whichever workspace asks.
    """

    platform = models.CharField(
        max_length=20, choices=[(p.value, p.label) for p in (Platform.SLACK, Platform.DISCORD)]
    )
    workspace_id = models.CharField(
        max_length=100,
        blank=True,
        help_text="For your reference: the Slack team or Discord server the channel belongs "
        "to. The binding applies to everyone asking in the channel, whatever their team.",
    )
    channel_id = models.CharField(max_length=100, help_text="e.g. C0123ABCD or 112233445566")
    name = models.CharField(max_length=200, blank=True, help_text="For your reference: #hr")
    knowledge_sets = models.ManyToManyField(KnowledgeSet, blank=True, related_name="channels")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["platform", "name", "channel_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "channel_id"], name="channel_binding_one_per_channel"
            )
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.name or self.channel_id}"
