"""People who ask, and the platform accounts that identify them."""

from __future__ import annotations

from django.db import models

from ragengine.models.tiers import Tier, Workspace


class Member(models.Model):
    display_name = models.CharField(max_length=200)
    tier = models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
        help_text="Empty = the workspace's default tier, else the global default tier.",
    )
    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    is_active = models.BooleanField(default=True)
    knowledge_sets = models.ManyToManyField(
        "ragengine.KnowledgeSet",
        blank=True,
        related_name="members",
        help_text="Sets this person's direct messages use. Empty = their workspace's default sets.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


class Platform(models.TextChoices):
    SLACK = "slack", "Slack"
    DISCORD = "discord", "Discord"
    API = "api", "API"
    CLI = "cli", "Command line"


class Identity(models.Model):
    """One platform account (Slack workspace + user, Discord guild + user, API user)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="identities")
    platform = models.CharField(max_length=20, choices=Platform.choices)
    workspace_id = models.CharField(max_length=100, blank=True)
    user_id = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "workspace_id", "user_id"], name="identity_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.workspace_id}/{self.user_id}"
