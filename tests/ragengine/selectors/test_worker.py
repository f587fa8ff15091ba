"""worker_status(): running while a heartbeat is recent, with why when it is not."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from ragengine.models import WorkerHeartbeat
from ragengine.selectors.worker import HEARTBEAT_FUNC, WorkerStatus, worker_status
from ragengine.services.workers import worker_heartbeat

pytestmark = pytest.mark.django_db


def test_no_heartbeat_ever():
    status = worker_status()
    assert status == WorkerStatus(running=False, last_seen=None, reason=status.reason)
    assert "no worker has ever reported" in status.reason


def test_a_recent_heartbeat_means_running(settings):
    settings.ARANDU_WORKER_STALE_S = 180
    now = timezone.now()
    worker_heartbeat(now=now - timezone.timedelta(seconds=100))

    status = worker_status(now=now)

    assert status.running and status.reason == ""
    assert status.last_seen == now - timezone.timedelta(seconds=100)


def test_a_stale_heartbeat_means_not_running(settings):
    settings.ARANDU_WORKER_STALE_S = 180
    now = timezone.now()
    worker_heartbeat(now=now - timezone.timedelta(seconds=181))

    status = worker_status(now=now)

    assert not status.running
    assert "181 s ago (more than 180 s)" in status.reason


def test_the_newest_heartbeat_of_any_host_counts(settings):
    now = timezone.now()
    WorkerHeartbeat.objects.create(host="old-box", pid=1, seen_at=now - timezone.timedelta(hours=1))
    WorkerHeartbeat.objects.create(
        host="new-box", pid=2, seen_at=now - timezone.timedelta(seconds=5)
    )
    assert worker_status(now=now).running


def test_without_the_heartbeat_schedule_the_worker_cannot_be_known_alive():
    worker_heartbeat()
    Schedule.objects.filter(func=HEARTBEAT_FUNC).delete()
    status = worker_status()
    assert not status.running and "migrate" in status.reason


def test_the_migration_schedules_the_heartbeat_every_minute():
    schedule = Schedule.objects.get(func=HEARTBEAT_FUNC)
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)


def test_the_heartbeat_task_records_one_row_per_host():
    async_task(HEARTBEAT_FUNC, sync=True)  # runs now, through the worker code
    async_task(HEARTBEAT_FUNC, sync=True)
    assert WorkerHeartbeat.objects.count() == 1
    assert worker_status().running
