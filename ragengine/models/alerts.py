"""Alerts: rules an evaluator checks every minute, the incidents they open, where they are
delivered (Slack, Discord, e-mail, signed webhooks) and every webhook attempt.

The engine records what to deliver (`AlertDelivery`, pending) and the doors post it, as
they post evaluation reports. Webhook secrets are named by environment variable only.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, validate_email
from django.db import models
from django.db.models import Q

from ragengine.models.evaluation_reports import DeliveryChannel, DeliveryStatus, EvalSchedule
from ragengine.models.tiers import Tier

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class AlertKind(models.TextChoices):
    SPEND_DAILY = "spend_daily", "Spend above N% of a tier's daily budget"
    SPEND_MONTHLY = "spend_monthly", "Spend above N% of a tier's monthly budget"
    ERROR_RATE = "error_rate", "Error rate above N% over the window"
    LATENCY_P95 = "latency_p95", "p95 latency above N ms over the window"
    CIRCUIT_OPEN = "circuit_open", "A provider's circuit is open"
    WORKER_DOWN = "worker_down", "The background worker is not running"
    INGESTION_FAILURES = "ingestion_failures", "N or more documents failed in the window"


SPEND_KINDS = (AlertKind.SPEND_DAILY, AlertKind.SPEND_MONTHLY)
# Kinds whose threshold is a number the admin must give (the others are yes/no states).
THRESHOLD_KINDS = (*SPEND_KINDS, AlertKind.ERROR_RATE, AlertKind.LATENCY_P95)


class AlertRule(models.Model):
    """One condition, checked every minute. It fires when the measured value reaches
    `threshold`; an incident already firing is not announced again, and a new one within
    `cooldown_minutes` of the last announcement is recorded but not sent."""

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    threshold = models.FloatField(
        default=0,
        validators=[MinValueValidator(0)],
        help_text="Percent for spend and error rate, milliseconds for latency, a count of "
        "documents for ingestion failures (0 counts as 1); unused for circuits and the worker.",
    )
    window_minutes = models.PositiveIntegerField(
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(7 * 24 * 60)],
        help_text="Error rate, latency and ingestion failures look this far back.",
    )
    min_questions = models.PositiveIntegerField(
        default=5,
        help_text="Error rate and latency stay quiet with fewer questions in the window.",
    )
    tier = models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_rules",
        help_text="Spend: the tier whose budget is watched (required). Error rate and "
        "latency: only this tier's questions (empty = all).",
    )
    provider = models.CharField(
        max_length=60, blank=True, help_text="Circuit: one endpoint's name (empty = any)."
    )
    cooldown_minutes = models.PositiveIntegerField(
        default=30, help_text="A new incident this soon after the last announced one is not sent."
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind in SPEND_KINDS:
            if self.tier_id is None:
                errors["tier"] = "A spend alert watches one tier's budget: choose the tier."
            else:
                budget = (
                    self.tier.daily_budget
                    if self.kind == AlertKind.SPEND_DAILY
                    else self.tier.monthly_budget
                )
                if not budget:
                    errors["tier"] = f"Tier {self.tier} has no such budget to watch."
        if self.kind in THRESHOLD_KINDS and not self.threshold:
            errors["threshold"] = "Give the value at which this alert fires."
        if errors:
            raise ValidationError(errors)


class Webhook(models.Model):
    """An outbound webhook: a JSON body signed with HMAC-SHA256 over "timestamp.body"
    with the secret in the environment variable `secret_env` (never the secret itself)."""

    name = models.SlugField(max_length=60, unique=True)
    url = models.URLField(max_length=500, help_text="http(s) address that receives the POST.")
    secret_env = models.CharField(
        max_length=100,
        help_text="Name of the environment variable holding the signing secret, e.g. "
        "ARANDU_WEBHOOK_SECRET (never the secret). It must contain WEBHOOK.",
    )
    max_attempts = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    timeout_s = models.FloatField(default=10.0, validators=[MinValueValidator(0.1)])
    enabled = models.BooleanField(default=True)
    eval_schedules = models.ManyToManyField(
        EvalSchedule,
        blank=True,
        related_name="webhooks",
        help_text="Evaluation schedules whose reports are also posted here.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Only webhook secrets may sign: a variable such as DJANGO_SECRET_KEY must never
        become a signing oracle for whoever edits this row."""
        name = self.secret_env.strip()
        if name.startswith(("sk-", "sk_", "whsec_")) or not _ENV_NAME.fullmatch(name):
            raise ValidationError(
                {"secret_env": "Enter the NAME of an environment variable, not the secret."}
            )
        if "WEBHOOK" not in name.upper():
            raise ValidationError(
                {
                    "secret_env": "The variable's name must contain WEBHOOK, "
                    "e.g. ARANDU_WEBHOOK_SECRET."
                }
            )
        if not self.url.lower().startswith(("http://", "https://")):
            raise ValidationError({"url": "A webhook is an http(s) address."})


class AlertDestination(models.Model):
    """Where a rule's alerts go: a Slack channel id, a Discord channel id, e-mail
    addresses (comma-separated) or a webhook."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="destinations")
    channel = models.CharField(max_length=10, choices=DeliveryChannel.choices)
    target = models.CharField(
        max_length=500,
        blank=True,
        help_text="Slack channel id (C0123ABCD), Discord channel id, or e-mail addresses.",
    )
    webhook = models.ForeignKey(
        Webhook, null=True, blank=True, on_delete=models.CASCADE, related_name="destinations"
    )

    class Meta:
        ordering = ["rule", "channel", "pk"]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.webhook or self.target}"

    def addresses(self) -> list[str]:
        """The destinations one row stands for (several addresses for e-mail)."""
        if self.channel == DeliveryChannel.WEBHOOK:
            return [self.webhook.name] if self.webhook else []
        if self.channel == DeliveryChannel.EMAIL:
            return [a.strip() for a in self.target.split(",") if a.strip()]
        return [self.target.strip()] if self.target.strip() else []

    def clean(self) -> None:
        target = self.target.strip()
        if self.channel == DeliveryChannel.WEBHOOK:
            if self.webhook_id is None:
                raise ValidationError({"webhook": "Choose the webhook."})
            return
        if self.webhook_id is not None:
            raise ValidationError({"webhook": "Only webhook destinations name a webhook."})
        if not target:
            raise ValidationError({"target": "Give the channel id or the addresses."})
        if self.channel == DeliveryChannel.DISCORD and not target.isdigit():
            raise ValidationError({"target": "A Discord channel id is a number."})
        if self.channel == DeliveryChannel.SLACK and not re.fullmatch(r"[A-Z0-9]{6,20}", target):
            raise ValidationError({"target": "A Slack channel id looks like C0123ABCD."})
        if self.channel == DeliveryChannel.EMAIL:
            for address in self.addresses():
                try:
                    validate_email(address)
                except ValidationError:
                    raise ValidationError(
                        {"target": f"{address!r} is not an e-mail address."}
                    ) from None


class AlertState(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class AlertEvent(models.Model):
    """One incident of a rule: opened when its condition starts to hold, resolved when it
    stops. At most one incident per rule is firing (a constraint, so two evaluators at
    once cannot open two)."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="events")
    state = models.CharField(max_length=10, choices=AlertState.choices, default=AlertState.FIRING)
    started_at = models.DateTimeField(db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField()
    first_value = models.FloatField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    message = models.TextField(blank=True)
    announced = models.BooleanField(
        default=True,
        help_text="Sent to the destinations (not when it began within the rule's cool-down).",
    )
    is_test = models.BooleanField(default=False, help_text="Sent by the admin's test action.")

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule"],
                condition=Q(state="firing", is_test=False),
                name="alert_one_firing_per_rule",
            )
        ]

    def __str__(self) -> str:
        if self.resolved_at is None:
            return f"{self.rule}: firing since {self.started_at:%Y-%m-%d %H:%M}"
        return f"{self.rule}: {self.started_at:%Y-%m-%d %H:%M} – {self.resolved_at:%H:%M}"


class AlertNotice(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"
    TEST = "test", "Test"


class AlertDelivery(models.Model):
    """One notice (firing, resolved, test) of one incident to one destination; the doors
    post it and record how it went, as for evaluation reports."""

    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="deliveries")
    notice = models.CharField(max_length=10, choices=AlertNotice.choices)
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
        verbose_name_plural = "alert deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["event", "notice", "channel", "destination"],
                name="alert_delivery_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.notice} → {self.channel}:{self.destination} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP attempt at a webhook (an alert or an evaluation report): what came back."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="attempts")
    alert_delivery = models.ForeignKey(
        AlertDelivery, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    report_delivery = models.ForeignKey(
        "ragengine.ReportDelivery",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    attempt = models.PositiveSmallIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.webhook} attempt {self.attempt}: {self.status_code or self.error[:40]}"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class CircuitState(models.TextChoices):
    CLOSED = "closed", "Closed"
    OPEN = "open", "Open"


class ProviderCircuit(models.Model):
    """The last circuit change seen for a provider, in any process: breakers live in the
    process that asks, the alert evaluator runs in the worker."""

    name = models.CharField(max_length=60, unique=True)
    state = models.CharField(max_length=10, choices=CircuitState.choices)
    changed_at = models.DateTimeField()
    failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}: {self.state}"
