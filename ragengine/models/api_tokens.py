"""REST API tokens: each one speaks for a member (their tier, budget and knowledge sets)
or for a service account (the knowledge sets and scopes an admin chose for it)."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from ragengine.models.knowledge import KnowledgeSet
from ragengine.models.people import Member

# DRF's rate format: "60/min", "1000/hour", "5/s", "20000/day".
RATE_PATTERN = re.compile(r"^[1-9][0-9]{0,6}/(s|sec|second|m|min|minute|h|hour|d|day)$")
TOKEN_PREFIX = "ak"


class ApiScope(models.TextChoices):
    ASK = "ask", "Ask questions"
    DOCUMENTS = "documents", "Read, upload and delete documents"
    REPORTS = "reports", "Usage and cost reports (the whole ledger)"
    EVALUATION = (
        "evaluation",
        "Start evaluation runs of sets within the token's knowledge sets and read their "
        "results (service accounts only)",
    )


class ApiTokenKind(models.TextChoices):
    MEMBER = "member", "A member: their tier, budget and knowledge sets"
    SERVICE = "service", "A service account: the knowledge sets chosen on the token"


def default_scopes() -> list[str]:
    return [ApiScope.ASK.value]


def validate_scopes(value: object) -> None:
    allowed = set(ApiScope.values)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("Scopes must be a list of names.")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ValidationError(
            f"Unknown scope(s): {', '.join(unknown)}. Choose from {', '.join(ApiScope.values)}."
        )


def validate_rate(value: str) -> None:
    if value and not RATE_PATTERN.match(value):
        raise ValidationError(
            f"{value!r} is not a rate: use requests/period, e.g. 60/min, 1000/hour or 5/s."
        )


class ApiToken(models.Model):
    """Only a hash of the secret is kept; the plain token is shown once, at creation.

    The plain token is `ak_<lookup>_<secret>`: `lookup` finds the row, the sha256 of the
    whole token must match `secret_hash`. Questions are charged to `member` (for a service
    account without one, a member "api:<name>" is created with the token).
    """

    name = models.CharField(
        max_length=120, unique=True, help_text="What uses it, e.g. 'intranet search'."
    )
    kind = models.CharField(
        max_length=10, choices=ApiTokenKind.choices, default=ApiTokenKind.MEMBER
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.CASCADE,
        blank=True,
        related_name="api_tokens",
        help_text="Whose tier, budget and ledger apply. A member token reads the member's "
        "own knowledge sets, else their workspace's default sets. Leave empty for a "
        "service account to create a member 'api:<token name>'.",
    )
    scopes = models.JSONField(
        default=default_scopes,
        validators=[validate_scopes],
        help_text="What the token may do.",
    )
    knowledge_sets = models.ManyToManyField(
        KnowledgeSet,
        blank=True,
        related_name="api_tokens",
        help_text="Service accounts only: the sets its questions and documents may use "
        "(none chosen = it is refused).",
    )
    rate_limit = models.CharField(
        max_length=20,
        blank=True,
        validators=[validate_rate],
        help_text="Requests allowed, e.g. 120/min. Empty = ARANDU_API_RATE.",
    )
    lookup = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        editable=False,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API token"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def display_prefix(self) -> str:
        """What identifies the token in lists and logs (never the secret)."""
        return f"{TOKEN_PREFIX}_{self.lookup}_…" if self.lookup else ""

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def clean(self) -> None:
        if self.kind == ApiTokenKind.MEMBER and not self.member_id:
            raise ValidationError({"member": "A member token needs the member it speaks for."})
