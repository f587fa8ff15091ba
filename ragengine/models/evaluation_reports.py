"""Scheduled evaluations and the reports they leave for the doors to deliver.

The engine never talks to Slack, Discord or a mail server: a finished scheduled run gets
one `ReportDelivery` row per destination (pending), and botcore posts them.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, validate_email
from django.db import models

from ragengine.models.evaluation import EvalSet

_CRON = re.compile(r"^\s*\S+(\s+\S+){4}\s*$")


class Frequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    CRON = "cron", "Cron expression"


class EvalSchedule(models.Model):
    """Run a set on a schedule (a django-q2 Schedule kept in step with this row) and post
    the short report to a Slack channel, a Discord channel and/or e-mail addresses."""

    name = models.CharField(max_length=120, unique=True)
    eval_set = models.ForeignKey(EvalSet, on_delete=models.CASCADE, related_name="schedules")
    targets = models.JSONField(
        default=list,
        help_text='Target specs: "extractive", "tier:NAME" or "model:ENDPOINT:MODEL".',
    )
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.DAILY)
    cron = models.CharField(
        max_length=100, blank=True, help_text='For "cron": e.g. "0 6 * * 1-5" (06:00 on weekdays).'
    )
    use_cache = models.BooleanField(default=False)
    budget_cap = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Most each target may spend per run.",
    )
    slack_channel = models.CharField(max_length=100, blank=True, help_text="Channel id, C0123ABCD")
    discord_channel = models.CharField(max_length=100, blank=True, help_text="Channel id")
    email_to = models.CharField(
        max_length=500, blank=True, help_text="Comma-separated e-mail addresses."
    )
    enabled = models.BooleanField(default=True)
    q_schedule = models.OneToOneField(
        "django_q.Schedule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "evaluation schedule"

    def __str__(self) -> str:
        return self.name

    @property
    def emails(self) -> list[str]:
        return [e.strip() for e in self.email_to.split(",") if e.strip()]

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.frequency == Frequency.CRON and not _CRON.match(self.cron or ""):
            errors["cron"] = 'A cron expression has five fields, e.g. "0 6 * * 1-5".'
        if self.frequency == Frequency.CRON and not errors:
            try:
                from croniter import croniter

                croniter(self.cron)
            except (ValueError, KeyError) as exc:
                errors["cron"] = f"Not a valid cron expression: {exc}"
        for address in self.emails:
            try:
                validate_email(address)
            except ValidationError:
                errors["email_to"] = f"{address!r} is not an e-mail address."
        if not isinstance(self.targets, list) or not self.targets:
            errors["targets"] = "Give at least one target."
        if errors:
            raise ValidationError(errors)


class DeliveryChannel(models.TextChoices):
    SLACK = "slack", "Slack"
    DISCORD = "discord", "Discord"
    EMAIL = "email", "E-mail"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class ReportDelivery(models.Model):
    """One report of one finished run to one destination, delivered by the doors."""

    run = models.ForeignKey(
        "ragengine.EvalRun", on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=10, choices=DeliveryChannel.choices)
    destination = models.CharField(max_length=500)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "pk"]
        verbose_name_plural = "report deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["run", "channel", "destination"], name="report_delivery_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.destination} ({self.status})"
