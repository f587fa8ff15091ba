"""Is a django-q2 worker running? From its heartbeat: written when its processes start
and by a schedule every minute (ragengine.tasks.worker_heartbeat_task), so a heartbeat
older than ARANDU_WORKER_STALE_S means no worker has been taking tasks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django_q.models import Schedule

from ragengine.models import WorkerHeartbeat

HEARTBEAT_FUNC = "ragengine.tasks.worker_heartbeat_task"


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    running: bool
    last_seen: datetime | None
    reason: str  # why it is not running ("" when it is)


def worker_status(*, now: datetime | None = None) -> WorkerStatus:
    now = now or timezone.now()
    stale_s = settings.ARANDU_WORKER_STALE_S
    beat = WorkerHeartbeat.objects.order_by("-seen_at").first()
    if beat is None:
        return WorkerStatus(
            running=False,
            last_seen=None,
            reason="no worker has ever reported: start one (manage.py qcluster, or serve)",
        )
    age_s = (now - beat.seen_at).total_seconds()
    if age_s > stale_s:
        return WorkerStatus(
            running=False,
            last_seen=beat.seen_at,
            reason=f"the worker's last heartbeat was {int(age_s)} s ago (more than {stale_s} s)",
        )
    if not Schedule.objects.filter(func=HEARTBEAT_FUNC).exists():
        return WorkerStatus(
            running=False,
            last_seen=beat.seen_at,
            reason="the heartbeat schedule is missing: run manage.py migrate",
        )
    return WorkerStatus(running=True, last_seen=beat.seen_at, reason="")
