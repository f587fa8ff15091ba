"""Evaluation runs: which set was asked of which targets, how far it got, and one result
row per case × target with the answer and its metrics."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from ragengine.models.evaluation import EvalCase, EvalSet
from ragengine.models.people import Member
from ragengine.models.providers import ProviderEndpoint
from ragengine.models.tiers import Tier


class EvalRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = (EvalRunStatus.DONE, EvalRunStatus.FAILED, EvalRunStatus.CANCELLED)


class EvalRun(models.Model):
    """One run of a set against one or more targets, as a background task.

    Progress is `cases_done` of `cases_total` (case × target pairs); `heartbeat_at` moves
    with every answer, so a run whose worker died is found by the stale sweep and marked
    failed with its partial results. `summary` holds the aggregates once it ends.
    """

    eval_set = models.ForeignKey(EvalSet, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(
        max_length=10, choices=EvalRunStatus.choices, default=EvalRunStatus.QUEUED
    )
    use_cache = models.BooleanField(
        default=False,
        help_text="Off (the default): answers never come from or go to the answer cache, so "
        "the run measures answering, not the cache.",
    )
    budget_cap = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Most each target may spend in this run (its evaluation member's budget).",
    )
    concurrency = models.PositiveSmallIntegerField(
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(32)],
        help_text="Questions asked at once, over all targets.",
    )
    k = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="Rank cut-off of the retrieval metrics (hit@k, MRR@k, …).",
    )
    judge_tier = models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Optional: a tier whose first model judges faithfulness and relevance.",
    )
    schedule = models.ForeignKey(
        "ragengine.EvalSchedule",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runs",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    cases_total = models.PositiveIntegerField(default=0)
    cases_done = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    flagged = models.BooleanField(
        default=False, help_text="A metric regressed or drifted beyond its threshold."
    )
    error = models.TextField(blank=True)
    summary = models.JSONField(default=dict, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "evaluation run"
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.eval_set}"

    @property
    def channel_id(self) -> str:
        """Where its questions are asked: the ledger's channel is `eval:run:<id>`."""
        return f"run:{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class TargetKind(models.TextChoices):
    TIER = "tier", "A tier (its models, in order)"
    MODEL = "model", "One model (endpoint + model)"
    EXTRACTIVE = "extractive", "Extractive (no model)"


class EvalRunTarget(models.Model):
    """One thing a run measures. Its questions are asked by an evaluation member of its
    own, whose tier (`tier`, named `eval:…`) was built for this target: never a real
    person's budget or a real tier."""

    run = models.ForeignKey(EvalRun, on_delete=models.CASCADE, related_name="targets")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=12, choices=TargetKind.choices)
    spec = models.CharField(
        max_length=250, help_text="tier:NAME, model:ENDPOINT:MODEL or extractive"
    )
    source_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    endpoint = models.ForeignKey(
        ProviderEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model = models.CharField(max_length=120, blank=True)
    tier = models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The evaluation tier built for this target.",
    )
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "position", "pk"]

    def __str__(self) -> str:
        return self.spec


class ResultStatus(models.TextChoices):
    OK = "ok", "Answered"
    FAILED = "failed", "Failed"


class EvalResult(models.Model):
    """One case asked of one target. The question, tags and expectations are copied at
    run time, so editing or deleting a case later never rewrites a finished run."""

    run = models.ForeignKey(EvalRun, on_delete=models.CASCADE, related_name="results")
    target = models.ForeignKey(EvalRunTarget, on_delete=models.CASCADE, related_name="results")
    case = models.ForeignKey(
        EvalCase, null=True, blank=True, on_delete=models.SET_NULL, related_name="results"
    )
    position = models.PositiveIntegerField(default=0)
    question = models.TextField()
    language = models.CharField(max_length=8, blank=True)
    tags = models.JSONField(default=list, blank=True)
    must_refuse = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=ResultStatus.choices, default=ResultStatus.OK)
    error = models.TextField(blank=True)
    mode = models.CharField(max_length=12, blank=True)
    answer = models.TextField(blank=True)
    sources = models.JSONField(default=list, blank=True)
    notices = models.JSONField(default=list, blank=True)
    retrieved = models.JSONField(default=list, blank=True, help_text="Ranked document ids.")
    expected_document_ids = models.JSONField(default=list, blank=True)
    facts_found = models.JSONField(default=list, blank=True)
    facts_missed = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    judge = models.JSONField(default=dict, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal("0"))
    timings_ms = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "position", "target__position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["target", "case"], name="eval_result_one_per_case")
        ]

    def __str__(self) -> str:
        return f"{self.target} · {self.question[:60]}"
