"""People who ask. Tiers, identities and budgets attach here in later work."""

from __future__ import annotations

from django.db import models


class Member(models.Model):
    display_name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name
