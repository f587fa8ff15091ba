"""django-q2 entry points. Thin: each one calls a service and returns a small summary."""

from __future__ import annotations

from ragengine.alerts.evaluate import alerts_evaluate
from ragengine.cache import cache_prune
from ragengine.evaluation.deliveries import deliveries_retry
from ragengine.evaluation.runner import run_execute
from ragengine.evaluation.runs import run_sweep_stale
from ragengine.evaluation.schedules import scheduled_run
from ragengine.services.budgets import usage_sweep
from ragengine.services.document_upload import document_ingest
from ragengine.services.question_history import question_history_prune


def cache_prune_task() -> int:
    """Delete expired cached answers and those built on old index versions (hourly)."""
    return cache_prune()


def question_history_prune_task() -> int:
    """Empty question and answer text past ARANDU_QUESTION_RETENTION_DAYS (daily)."""
    return question_history_prune()


def usage_sweep_task() -> int:
    """Mark reservations whose process died before settling as abandoned (every 5 min)."""
    return usage_sweep()


def document_ingest_task(document_id: int) -> str:
    """Ingest an uploaded document (queued by the REST API's upload)."""
    return document_ingest(document_id=document_id)


def evaluation_run_task(run_id: int) -> str:
    """Answer a queued evaluation run (admin → Evaluation runs); returns its final status."""
    run = run_execute(run_id=run_id)
    return run.status if run is not None else "skipped"


def evaluation_scheduled_task(schedule_id: int) -> str:
    """Run an evaluation schedule's set now (its django-q2 Schedule calls this)."""
    run = scheduled_run(schedule_id=schedule_id)
    return run.status if run is not None else "skipped"


def evaluation_sweep_task() -> int:
    """Every 5 minutes: mark failed the runs whose worker died (keeping their partial
    results) and offer again the reports still waiting to be delivered."""
    return run_sweep_stale() + deliveries_retry()


def alerts_evaluate_task() -> str:
    """Evaluate every enabled alert rule (every minute); says what changed."""
    summary = alerts_evaluate()
    return (
        f"fired {len(summary.fired)}, resolved {len(summary.resolved)}, "
        f"suppressed {len(summary.suppressed)}, failed {len(summary.failed)}"
    )


def source_sync_task(source_id: int, trigger: str = "scheduled") -> str:
    """Scan a folder source into its knowledge set (its django-q2 Schedule, or the admin's
    "Sync now"); returns the run's status, or why there was none."""
    from ragengine.services.source_sync import source_sync_by_id

    return source_sync_by_id(source_id=source_id, trigger=trigger)
