"""django-q2 entry points. Thin: each one calls a service and returns a small summary."""

from __future__ import annotations

from ragengine.cache import cache_prune
from ragengine.services.budgets import usage_sweep
from ragengine.services.document_upload import document_ingest


def cache_prune_task() -> int:
    """Delete expired cached answers and those built on old index versions (hourly)."""
    return cache_prune()


def usage_sweep_task() -> int:
    """Mark reservations whose process died before settling as abandoned (every 5 min)."""
    return usage_sweep()


def document_ingest_task(document_id: int) -> str:
    """Ingest an uploaded document (queued by the REST API's upload)."""
    return document_ingest(document_id=document_id)
