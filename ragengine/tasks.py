"""django-q2 entry points. Thin: each one calls a service and returns a small summary."""

from __future__ import annotations

from ragengine.cache import cache_prune
from ragengine.evaluation.deliveries import deliveries_retry
from ragengine.evaluation.runner import run_execute
from ragengine.evaluation.runs import run_sweep_stale
from ragengine.evaluation.schedules import scheduled_run
from ragengine.services.budgets import usage_sweep
from ragengine.services.document_upload import document_ingest
from ragengine.services.workers import worker_heartbeat


def cache_prune_task() -> int:
    """Delete expired cached answers and those built on old index versions (hourly)."""
    return cache_prune()


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


def worker_heartbeat_task() -> str:
    """Every minute: the worker is alive and takes tasks (/readyz reads it)."""
    return worker_heartbeat().seen_at.isoformat()
