"""The answer cache: admin-edited TTL rules, the durable cached answers, and hit events.

The hot path lives in the Django cache framework (shared by every process with Redis);
these rows are the durable record: a restart or a cold cache falls back to them, and
admins browse and purge them.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


class CacheCategory(models.TextChoices):
    FACTUAL = "factual", "Factual"
    CODE = "code", "Code"
    DOCUMENT_ANALYSIS = "document_analysis", "Document analysis"
    QUICK = "quick", "Quick query"
    REALTIME = "realtime", "Real-time data"
    OTHER = "other", "Other"


# What a rule with a blank pattern matches: its category's built-in pattern. Patterns are
# searched in the lower-cased, accent-free question (so "código" is written "codigo").
# "other" with a blank pattern matches every question: a catch-all default.
CATEGORY_PATTERNS: dict[str, str] = {
    CacheCategory.REALTIME: (
        r"\b(today|tonight|now|right now|current(ly)?|latest|live|status|this (week|month)"
        r"|hoje|agora|atual(mente)?|ultim[oa]s?|esta semana|este mes)\b"
    ),
    CacheCategory.CODE: (
        r"\b(code|script|function|method|class|error|exception|stack ?trace|traceback|bug"
        r"|sql|regex|python|javascript|codigo|funcao|erro|excecao)\b"
    ),
    CacheCategory.DOCUMENT_ANALYSIS: (
        r"\b(summari[sz]e|summary|analy[sz]e|analysis|compare|comparison|this (document|file|pdf)"
        r"|resum[oa]|resumir|analise|analisar|comparar|compara[cç]ao|este documento)\b"
    ),
    CacheCategory.QUICK: r"^\W*[^\W_]+(?:\W+[^\W_]+){0,2}\W*$",  # three words or fewer
    CacheCategory.FACTUAL: (
        r"\b(what|who|when|where|which|how (many|much|long)|policy|policies|rule|allowed"
        r"|o que|qual|quais|quem|quando|onde|quantos?|quantas?|politica|regra|permitido)\b"
    ),
    CacheCategory.OTHER: r"",
}


class CacheRule(models.Model):
    """Pattern or category → time to live, or never cache; the first enabled match by
    `priority` (lower first) wins; no match → ARANDU_CACHE_DEFAULT_TTL."""

    name = models.CharField(max_length=80, unique=True)
    pattern = models.TextField(
        blank=True,
        help_text=(
            "Regular expression searched in the lower-cased, accent-free question. Blank: "
            "the category's built-in pattern (for 'other': every question)."
        ),
    )
    category = models.CharField(
        max_length=20, choices=CacheCategory.choices, default=CacheCategory.OTHER
    )
    ttl_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="How long answers stay cached. Blank: never cache."
    )
    never_cache = models.BooleanField(default=False)
    semantic_enabled = models.BooleanField(
        default=True, help_text="Also serve these answers to paraphrased questions."
    )
    priority = models.IntegerField(default=100, help_text="Lower is checked first.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_pattern(self) -> str:
        return self.pattern or CATEGORY_PATTERNS.get(self.category, "")

    def clean(self) -> None:
        try:
            re.compile(self.effective_pattern)
        except re.error as exc:
            raise ValidationError({"pattern": f"Not a valid regular expression: {exc}"}) from exc


class CachedAnswer(models.Model):
    """One cached answer, valid only for its scope: the knowledge sets the asker could
    see, their index versions when it was answered, and the model family that answered.
    A document change bumps a set's version, so the scope (and `key`) can never match
    again: stale answers are unreachable at once (`cache_prune` deletes the rows later)."""

    key = models.CharField(max_length=64, unique=True, help_text="sha256 of question + scope.")
    scope_digest = models.CharField(max_length=64, db_index=True)
    question = models.TextField()
    normalized_question = models.TextField()
    scope_sets = models.JSONField(default=list, blank=True, help_text="Knowledge set ids.")
    index_versions = models.JSONField(default=dict, blank=True)
    model_family = models.CharField(max_length=200)
    embedding = models.BinaryField(help_text="float32 little-endian, L2-normalised.")
    semantic_enabled = models.BooleanField(default=True)
    semantic_key = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        help_text="Shared by rewordings of one question in one scope; blank: exact only.",
    )
    answer = models.JSONField(default=dict, help_text="text, mode, sources, provider, model…")
    cost = models.DecimalField(
        max_digits=14, decimal_places=8, default=Decimal("0"), help_text="What generating it cost."
    )
    rule = models.ForeignKey(
        CacheRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="answers"
    )
    hits = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    last_hit_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.question[:80]


class CacheEventKind(models.TextChoices):
    EXACT = "exact", "Exact hit"
    SEMANTIC = "semantic", "Semantic hit"
    STORE = "store", "Stored (a miss that was answered and cached)"


class CacheEvent(models.Model):
    """Hits and stores, per entry, rule and scope: what hit-rate and savings per knowledge
    set and per rule are computed from (the ledger row of a cached answer doesn't know
    which entry served it). Rows outlive purges (entry and rule become null)."""

    kind = models.CharField(max_length=10, choices=CacheEventKind.choices)
    entry = models.ForeignKey(
        CachedAnswer, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    rule = models.ForeignKey(
        CacheRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    rule_name = models.CharField(max_length=80, blank=True, help_text="Kept if the rule goes.")
    scope_sets = models.JSONField(default=list, blank=True)
    cost_saved = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal("0"))
    similarity = models.FloatField(default=1.0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.entry_id}"
