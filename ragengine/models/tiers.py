"""Tiers decide which models answer a person, how much they may spend and how often."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from ragengine.models.providers import ProviderEndpoint


class HardLimitPolicy(models.TextChoices):
    DOWNGRADE = "downgrade", "Downgrade to a cheaper/free model"
    EXTRACTIVE = "extractive", "Answer extractively (no model)"
    REFUSE = "refuse", "Refuse with a clear message"


class Tier(models.Model):
    name = models.CharField(max_length=80, unique=True)
    is_default = models.BooleanField(
        default=False, help_text="Used for people whose workspace has no default tier."
    )
    max_output_tokens = models.PositiveIntegerField(default=500, validators=[MinValueValidator(16)])
    min_output_tokens = models.PositiveIntegerField(
        default=100,
        validators=[MinValueValidator(1)],
        help_text="Near the budget limit an answer's length is capped to what the budget "
        "left can pay; below this many tokens (or max output tokens, if smaller) the hard-limit "
        "policy applies instead.",
    )
    context_token_budget = models.PositiveIntegerField(
        default=3000,
        validators=[MinValueValidator(1024)],
        help_text="Prompt tokens: instructions, sources and history (the instructions alone "
        "take ~350-600).",
    )
    daily_budget = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, help_text="Empty = no limit."
    )
    monthly_budget = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, help_text="Empty = no limit."
    )
    soft_limit_percent = models.PositiveSmallIntegerField(
        default=80, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    hard_limit_policy = models.CharField(
        max_length=20, choices=HardLimitPolicy.choices, default=HardLimitPolicy.EXTRACTIVE
    )
    downgrade_endpoint = models.ForeignKey(
        ProviderEndpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    downgrade_model = models.CharField(max_length=120, blank=True)
    questions_per_hour = models.PositiveIntegerField(null=True, blank=True)
    questions_per_day = models.PositiveIntegerField(null=True, blank=True)
    ab_endpoint = models.ForeignKey(
        ProviderEndpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ab_model = models.CharField(max_length=120, blank=True, help_text="Second arm of an A/B split.")
    ab_percent = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(100)],
        help_text="Share of members (by a stable hash) answered by the B model.",
    )
    semantic_cache_enabled = models.BooleanField(
        default=True,
        help_text="Serve cached answers to paraphrases, not only to the same question.",
    )
    cache_hits_count_toward_quota = models.BooleanField(
        default=True, help_text="Whether answers served from the cache count as questions."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.hard_limit_policy == HardLimitPolicy.DOWNGRADE and not (
            self.downgrade_endpoint_id and self.downgrade_model
        ):
            errors["downgrade_model"] = "The downgrade policy needs an endpoint and a model."
        if self.ab_percent and not (self.ab_endpoint_id and self.ab_model):
            errors["ab_model"] = "An A/B share needs the B endpoint and model."
        for field in ("daily_budget", "monthly_budget"):
            value = getattr(self, field)
            if value is not None and value < Decimal("0"):
                errors[field] = "Budgets cannot be negative."
        if errors:
            raise ValidationError(errors)


class TierModel(models.Model):
    """One step of a tier's provider chain; lower position is tried first."""

    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="chain")
    position = models.PositiveSmallIntegerField(default=0)
    endpoint = models.ForeignKey(ProviderEndpoint, on_delete=models.PROTECT, related_name="+")
    model = models.CharField(max_length=120)

    class Meta:
        ordering = ["tier", "position", "pk"]

    def __str__(self) -> str:
        return f"{self.endpoint.name}:{self.model}"


class Workspace(models.Model):
    """A Slack workspace or Discord guild; new members from it get its default tier, its
    unbound channels and its members' direct messages read its default knowledge sets.

    With no default sets those questions are refused, unless an admin switched on
    `answers_from_every_set`: reading every set is a choice, never a fallback.
    """

    platform = models.CharField(max_length=20)
    external_id = models.CharField(max_length=100)
    name = models.CharField(max_length=200, blank=True)
    default_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.SET_NULL)
    default_knowledge_sets = models.ManyToManyField(
        "ragengine.KnowledgeSet",
        blank=True,
        related_name="default_for_workspaces",
        help_text="Sets used in channels without a binding and in the direct messages of "
        "members who have no sets of their own. Empty = those questions are refused, unless "
        "“answer from every set” is on.",
    )
    answers_from_every_set = models.BooleanField(
        default=False,
        verbose_name="answer from every set when nothing narrower applies",
        help_text="On: unbound channels and direct messages read every knowledge set when "
        "this workspace has no default sets. Off (recommended): they are refused with a "
        "message asking for an admin.",
    )

    class Meta:
        ordering = ["platform", "name"]
        constraints = [
            models.UniqueConstraint(fields=["platform", "external_id"], name="workspace_unique")
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.name or self.external_id}"
