"""django-q2 entry points for the doors."""

from __future__ import annotations

from botcore.events import handled_events_prune


def handled_events_prune_task() -> int:
    """Forget delivered event ids older than a day (daily)."""
    return handled_events_prune()
