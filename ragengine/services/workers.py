"""The django-q2 worker says it is alive (its heartbeat, read by `worker_status`)."""

from __future__ import annotations

import os
import socket
from datetime import datetime

from django.utils import timezone

from ragengine.models import WorkerHeartbeat


def worker_heartbeat(*, now: datetime | None = None) -> WorkerHeartbeat:
    """Record that a worker on this host runs tasks now (one row per host)."""
    beat, _ = WorkerHeartbeat.objects.update_or_create(
        host=socket.gethostname()[:255],
        defaults={"pid": os.getpid(), "seen_at": now or timezone.now()},
    )
    return beat
