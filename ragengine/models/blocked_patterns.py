"""Input patterns refused before any retrieval or spend, edited in admin."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


class BlockedPattern(models.Model):
    """Extra patterns, or overrides of the built-in ones by name (disable one by adding a
    row with its name and `enabled` off)."""

    KINDS = [
        ("credentials", "Credential request"),
        ("code", "Code / injection"),
        ("other", "Other"),
    ]

    name = models.CharField(max_length=80, unique=True)
    pattern = models.TextField(
        blank=True,
        help_text="Regular expression searched in the lower-cased, accent-free question.",
    )
    kind = models.CharField(max_length=20, choices=KINDS, default="other")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.enabled and not self.pattern:
            raise ValidationError({"pattern": "An enabled pattern needs a regular expression."})
        if not self.enabled:
            return
        from ragengine.blocked_patterns import BlockedPattern as Rule

        try:  # also refuses patterns that would match every question
            Rule(name=self.name or "pattern", pattern=self.pattern, kind=self.kind)
        except ValueError as exc:
            raise ValidationError({"pattern": str(exc)}) from exc
