"""django-q2 entry points. Thin: each one calls a service and returns a small summary."""

from __future__ import annotations

from ragengine.cache import cache_prune
from ragengine.evaluation.runner import run_execute
from ragengine.evaluation.runs import run_sweep_stale


def cache_prune_task() -> int:
    """Delete expired cached answers and those built on old index versions (hourly)."""
    return cache_prune()


def evaluation_run_task(run_id: int) -> str:
    """Answer a queued evaluation run (admin → Evaluation runs); returns its final status."""
    run = run_execute(run_id=run_id)
    return run.status if run is not None else "skipped"


def evaluation_sweep_task() -> int:
    """Mark failed the runs whose worker died, keeping their partial results (every 5 min)."""
    return run_sweep_stale()
