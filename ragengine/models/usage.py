"""The usage ledger: one row per question asked, the only source of spend figures."""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from ragengine.models.people import Member
from ragengine.models.tiers import Tier


class UsageStatus(models.TextChoices):
    RESERVED = "reserved", "Reserved (call in flight)"
    SETTLED = "settled", "Settled"
    # Its process died between reserving and settling; `reserved` keeps the amount held,
    # since the call may have been made (and paid) before the process died.
    ABANDONED = "abandoned", "Abandoned (process died mid-question)"


class UsageRecord(models.Model):
    """Spend for any period is a sum over these rows; nothing is ever reset.

    While a call is in flight the row holds the worst-case cost in `reserved`; settling
    sets the real `cost` and zeroes `reserved`, in one update. A reservation nobody settled
    stops counting once no call it paid for can still be running, and the sweep then
    marks it abandoned (`ragengine.services.budgets.usage_sweep`).
    """

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="usage")
    tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(
        max_length=10, choices=UsageStatus.choices, default=UsageStatus.RESERVED
    )
    mode = models.CharField(max_length=12, blank=True)
    provider = models.CharField(max_length=60, blank=True)
    model = models.CharField(max_length=120, blank=True)
    arm = models.CharField(max_length=1, blank=True, help_text="A/B arm.")
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal("0"))
    reserved = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal("0"))
    cost_saved = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal("0"))
    counts_toward_quota = models.BooleanField(default=True)
    latencies_ms = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=32, db_index=True)
    channel = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["member", "created_at"]),
            # The dashboard reads a period's rows from the index alone (PostgreSQL).
            models.Index(
                fields=["created_at"],
                include=[
                    "status", "mode", "channel", "tier", "member", "provider", "model",
                    "cost", "cost_saved", "reserved", "latencies_ms",
                ],
                name="usage_dashboard_cover",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.request_id} {self.mode} {self.cost}"
