"""The "worker not running" rule is checked outside the worker: by `manage.py serve`'s
supervisor loop, every minute, so it fires even when no worker runs the schedules."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from adminsite.management.commands import serve
from adminsite.worker_watch import WorkerWatch, worker_rule_check
from ragengine.models import AlertEvent, ProviderCircuit, WorkerHeartbeat
from tests.factories import AlertRuleFactory

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_watch_checks_the_worker_rule_once_per_interval():
    worker = AlertRuleFactory(name="Worker", kind="worker_down")
    circuit = AlertRuleFactory(name="Circuit", kind="circuit_open")
    ProviderCircuit.objects.create(name="stub", state="open", changed_at=timezone.now())
    clock = Clock()
    watch = WorkerWatch(interval_s=60, clock=clock)
    assert watch.tick() is None  # a worker still starting is not reported
    clock.now += 59
    assert watch.tick() is None and not AlertEvent.objects.exists()
    clock.now += 1
    summary = watch.tick()
    assert summary.fired == ["Worker"]  # no worker ever sent a heartbeat
    assert AlertEvent.objects.filter(rule=worker, state="firing").exists()
    assert not AlertEvent.objects.filter(rule=circuit).exists()  # the worker's own job
    assert watch.tick() is None  # not again before the next interval
    WorkerHeartbeat.objects.create(host="box", pid=7, seen_at=timezone.now())
    clock.now += 60
    assert watch.tick().resolved == ["Worker"]


def test_a_failed_check_is_logged_and_the_supervisor_goes_on(monkeypatch, caplog):
    def down(**kwargs):
        raise RuntimeError("database is down")

    monkeypatch.setattr("adminsite.worker_watch.alerts_evaluate", down)
    with caplog.at_level(logging.ERROR, logger="adminsite.worker_watch"):
        assert worker_rule_check() is None
    assert "could not be checked" in caplog.text


class FakeChild:
    """A child process that exits after `polls` polls."""

    pid = 4242

    def __init__(self, polls: int) -> None:
        self.polls = polls

    def poll(self):
        self.polls -= 1
        return None if self.polls > 0 else 0

    def send_signal(self, signum) -> None:
        self.polls = 0

    def wait(self, timeout=None) -> int:
        return 0


def test_serve_fires_the_worker_rule_while_it_supervises(monkeypatch):
    rule = AlertRuleFactory(name="Worker", kind="worker_down")
    WorkerHeartbeat.objects.create(
        host="box", pid=7, seen_at=timezone.now() - timedelta(hours=1)
    )  # the worker stopped sending heartbeats an hour ago, its process still there
    monkeypatch.setattr(serve, "static_files_missing", lambda: "")
    monkeypatch.setattr(serve, "metrics_dir_reset", lambda: None)
    monkeypatch.setattr(serve.subprocess, "Popen", lambda argv: FakeChild(polls=4))
    monkeypatch.setattr(serve.time, "sleep", lambda s: None)
    monkeypatch.setattr(serve, "WorkerWatch", lambda: WorkerWatch(interval_s=0))
    serve.Command().handle(address="127.0.0.1:8999", no_collectstatic=True)  # nothing listens
    event = AlertEvent.objects.get(rule=rule)
    assert event.state == "firing" and "heartbeat" in event.message
