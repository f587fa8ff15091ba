"""django-q2 entry points for the doors."""

from __future__ import annotations

from botcore.events import handled_events_prune


def handled_events_prune_task() -> int:
    """Forget delivered event ids older than a day (daily)."""
    return handled_events_prune()


def report_deliveries_task(run_id: int) -> int:
    """Post the evaluation reports a finished run left (see botcore/reports.py)."""
    from botcore.reports import report_deliveries_send

    return report_deliveries_send(run_id=run_id)


def alert_deliveries_task(event_id: int) -> int:
    """Post the alert notices an incident left (see botcore/alerts.py)."""
    from botcore.alerts import alert_deliveries_send

    return alert_deliveries_send(event_id=event_id)
