"""The question history: what was asked, what was answered, through which door.

The ledger (`UsageRecord`) holds money and is kept forever; this holds people's words and
is kept only `ARANDU_QUESTION_RETENTION_DAYS` (its text is emptied after that, and never
stored when the setting is 0), so the two are separate tables.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from ragengine.models.people import Member


class QuestionOutcome(models.TextChoices):
    GENERATED = "generated", "Generated"
    EXTRACTIVE = "extractive", "Extractive"
    CACHED = "cached", "Cached"
    REFUSED = "refused", "Refused"
    ERROR = "error", "Error"


class QuestionRecord(models.Model):
    """One row per `ask()`, refusals and errors included (the ledger has no row for a
    question refused before any spending decision).

    `not_found` marks an answer that found nothing in the documents (no sources): with
    the refusals these are the content gaps an admin should write documents for.
    `knowledge_sets` lists the set names the door scoped the question to; empty means
    every set.
    """

    request_id = models.CharField(max_length=32, db_index=True)
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="questions"
    )
    door = models.CharField(max_length=20, db_index=True)
    channel = models.CharField(max_length=120, blank=True)
    knowledge_sets = models.JSONField(default=list, blank=True)
    question = models.TextField(blank=True)
    answer = models.TextField(blank=True)
    outcome = models.CharField(max_length=12, choices=QuestionOutcome.choices, db_index=True)
    not_found = models.BooleanField(default=False)
    sources = models.JSONField(default=list, blank=True)
    provider = models.CharField(max_length=60, blank=True)
    model = models.CharField(max_length=120, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal("0"))
    total_ms = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "question"
        verbose_name_plural = "question history"
        ordering = ["-created_at"]
        permissions = [
            # The playground with no member and no channel reads every knowledge set.
            ("ask_every_set", "Can ask the playground over every knowledge set"),
        ]
        indexes = [
            models.Index(fields=["door", "created_at"]),
            # The dashboard reads a period's rows from the index alone (PostgreSQL).
            models.Index(
                fields=["created_at"],
                include=["door", "outcome", "member", "not_found", "knowledge_sets"],
                name="question_dashboard_cover",
            ),
            # The unanswered questions (content gaps) of a period, without the answered.
            models.Index(
                fields=["-created_at"],
                condition=models.Q(not_found=True) | models.Q(outcome="refused"),
                name="question_gap_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.outcome}"
