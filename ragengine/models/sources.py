"""Folder sources: a folder on the server (or a mounted share) that is re-scanned into a
knowledge set on a schedule, and the record of each scan.

Which folders are allowed, and the scan itself, live in `services/source_sync.py`; a
source's django-q2 Schedule is kept in step with the row there too.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from ragengine.models.knowledge import KnowledgeSet

MAX_INTERVAL_MINUTES = 7 * 24 * 60


class Source(models.Model):
    """A folder kept in step with a knowledge set (as a connector is in Onyx).

    `syncing_since` is the lock of a sync in progress: set by one conditional UPDATE, so
    two syncs of one source never run at once; a value older than the task timeout is a
    worker that died, and the next sync takes over.
    """

    name = models.CharField(max_length=120, unique=True)
    knowledge_set = models.ForeignKey(
        KnowledgeSet, on_delete=models.CASCADE, related_name="sources"
    )
    path = models.CharField(
        max_length=1000,
        help_text=(
            "A folder under one of the allowed folders (ARANDU_SOURCE_ROOTS); a relative "
            "path is taken under the first of them."
        ),
    )
    enabled = models.BooleanField(default=True, help_text="Scanned on its schedule.")
    interval_minutes = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_INTERVAL_MINUTES)],
        help_text="Minutes between scans (1 to 10080, a week).",
    )
    prune = models.BooleanField(
        default=False,
        help_text="Remove the set's documents whose files were deleted from the folder.",
    )
    syncing_since = models.DateTimeField(null=True, blank=True, editable=False)
    last_synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    q_schedule = models.OneToOneField(
        "django_q.Schedule",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "folder source"

    def __str__(self) -> str:
        return self.name


class SyncRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Finished with failed files"
    FAILED = "failed", "Failed"


class SyncTrigger(models.TextChoices):
    SCHEDULED = "scheduled", "Schedule"
    MANUAL = "manual", "Sync now"


class SyncRun(models.Model):
    """One scan of a source: what it found, file by file counted, and why files failed."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(
        max_length=10, choices=SyncTrigger.choices, default=SyncTrigger.SCHEDULED
    )
    status = models.CharField(
        max_length=10, choices=SyncRunStatus.choices, default=SyncRunStatus.RUNNING
    )
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    added = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    failures = models.JSONField(
        default=list, blank=True, help_text='[{"source": path, "error": reason}, ...]'
    )
    error = models.TextField(blank=True, help_text="Why the sync could not run.")

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = "source sync run"

    def __str__(self) -> str:
        return f"{self.source} at {self.started_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def summary(self) -> str:
        """One line for lists: the counts, or why it could not run."""
        if self.status == SyncRunStatus.RUNNING:
            return "running"
        if self.status == SyncRunStatus.FAILED:
            return f"failed: {self.error}"
        return (
            f"{self.added} added, {self.changed} changed, {self.unchanged} unchanged, "
            f"{self.removed} removed, {self.failed} failed"
        )
