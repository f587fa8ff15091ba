"""Whether the django-q2 worker is running, judged from the schedules it should have run.

A running cluster picks up every due Schedule within seconds and moves its `next_run`
on; a schedule left overdue for longer than GRACE means no worker is taking them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django_q.models import Schedule

GRACE = timedelta(minutes=3)


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    running: bool
    last_seen: datetime | None
    reason: str


def worker_status(*, now: datetime | None = None) -> WorkerStatus:
    """Running unless a repeating schedule is overdue by more than GRACE."""
    now = now or timezone.now()
    overdue = (
        Schedule.objects.exclude(repeats=0)
        .filter(next_run__lt=now - GRACE)
        .order_by("next_run")
        .first()
    )
    if overdue is None:
        return WorkerStatus(running=True, last_seen=now, reason="")
    return WorkerStatus(
        running=False,
        last_seen=overdue.next_run,
        reason=f"Schedule {overdue.name or overdue.func!r} has been due since "
        f"{overdue.next_run:%Y-%m-%d %H:%M} UTC and no worker has run it.",
    )
