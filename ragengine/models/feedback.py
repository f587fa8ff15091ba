"""What people thought of an answer (👍/👎 and an optional comment)."""

from __future__ import annotations

from django.db import models

from ragengine.models.people import Member
from ragengine.models.usage import UsageRecord


class FeedbackValue(models.IntegerChoices):
    UP = 1, "👍 helpful"
    DOWN = -1, "👎 not helpful"


class Feedback(models.Model):
    """One vote per member per answer; voting again changes it.

    `request_id` names the answer (it is in the logs and the ledger); `usage` links the
    ledger row when the answer had one (refusals for bad input have none).
    """

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="feedback")
    request_id = models.CharField(max_length=32, db_index=True)
    usage = models.ForeignKey(
        UsageRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    value = models.SmallIntegerField(choices=FeedbackValue.choices)
    comment = models.TextField(blank=True)
    platform = models.CharField(max_length=20, blank=True)
    channel = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "feedback"
        constraints = [
            models.UniqueConstraint(fields=["member", "request_id"], name="feedback_one_per_answer")
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.get_value_display()}"
