"""django-q2 entry points. Thin: each one calls a service and returns a small summary."""

from __future__ import annotations

from ragengine.alerts.evaluate import alerts_evaluate
from ragengine.cache import cache_prune
from ragengine.evaluation.deliveries import deliveries_retry
from ragengine.evaluation.runner import run_execute
from ragengine.evaluation.runs import run_sweep_stale
from ragengine.evaluation.schedules import scheduled_run
from ragengine.services.budgets import usage_sweep
from ragengine.services.dashboard_rollups import rollups_fill
from ragengine.services.document_ingestion import (
    document_ingest,
    document_move,
    documents_ingest,
    documents_sweep_stale,
)
from ragengine.services.question_history import question_history_prune
from ragengine.services.reembed import knowledge_set_reembed, knowledge_sets_queue_outdated
from ragengine.services.sentence_vectors import store_sentences_backfill
from ragengine.services.workers import worker_heartbeat


def cache_prune_task() -> int:
    """Delete expired cached answers and those built on old index versions (hourly)."""
    return cache_prune()


def question_history_prune_task() -> int:
    """Empty question and answer text past ARANDU_QUESTION_RETENTION_DAYS (daily)."""
    return question_history_prune()


def dashboard_rollups_task() -> int:
    """Roll up the dashboard's closed days that have none yet (hourly); how many."""
    return rollups_fill()


def usage_sweep_task() -> int:
    """Mark reservations whose process died before settling as abandoned (every 5 min)."""
    return usage_sweep()


def documents_ingest_task(document_ids: list[int]) -> dict[int, str]:
    """Ingest documents (queued by an upload, a re-ingest or the sweep); their statuses."""
    return documents_ingest(document_ids=document_ids)


def document_ingest_task(document_id: int) -> str:
    """Ingest one document (tasks queued before uploads were batched); its status."""
    return document_ingest(document_id=document_id)


def document_move_task(document_id: int, knowledge_set_id: int) -> str:
    """Move a document to another knowledge set and ingest it there (admin action)."""
    return document_move(document_id=document_id, knowledge_set_id=knowledge_set_id)


def knowledge_set_reembed_task(knowledge_set_id: int) -> str:
    """Embed a knowledge set again with the configured embedder, then switch it to the new
    vectors (queued by a question that reached it, or the admin); its re-embed status."""
    return knowledge_set_reembed(knowledge_set_id=knowledge_set_id)


def knowledge_sets_reembed_outdated_task() -> int:
    """Hourly: queue a re-embed of the sets whose vectors are not the configured
    embedder's of the configured text (ARANDU_EMBED_TITLES), so a data dir from before
    moves over without anyone asking; how many were queued."""
    return len(knowledge_sets_queue_outdated())


def documents_sweep_task() -> int:
    """Every 5 minutes: queue again (or fail, after a few tries) the ingestions whose
    worker died, so no document stays queued, parsing or embedding forever."""
    return documents_sweep_stale()


def sentence_vectors_backfill_task() -> int:
    """After an ingestion, and hourly: store sentence vectors for the chunks that have
    none (a no-op once every chunk has them); returns the documents rewritten."""
    return store_sentences_backfill()


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


def worker_heartbeat_task() -> str:
    """Every minute: the worker is alive and takes tasks (/readyz reads it)."""
    return worker_heartbeat().seen_at.isoformat()
