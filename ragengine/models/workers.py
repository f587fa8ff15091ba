"""The background worker's heartbeat: readiness checks (/readyz) and the metrics read it."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time a django-q2 worker on `host` showed it runs tasks: written when its
    worker processes start and by a schedule every minute, one row per host."""

    host = models.CharField(max_length=255, unique=True)
    pid = models.PositiveIntegerField(default=0)
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "worker heartbeat"

    def __str__(self) -> str:
        return f"{self.host} (pid {self.pid}) at {self.seen_at:%Y-%m-%d %H:%M:%S}"
