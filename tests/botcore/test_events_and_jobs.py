"""Event claims (retries answered once), bot threads, and the background job pool."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from botcore.events import (
    event_claim,
    handled_events_prune,
    thread_is_ours,
    thread_remember,
)
from botcore.jobs import BackgroundJobs
from botcore.models import HandledEvent
from botcore.tasks import handled_events_prune_task


@pytest.mark.django_db
def test_an_event_is_claimed_once_per_platform():
    assert event_claim(platform="slack", event_id="Ev1")
    assert not event_claim(platform="slack", event_id="Ev1")
    assert event_claim(platform="discord", event_id="Ev1")
    assert event_claim(platform="slack", event_id="")  # nothing to deduplicate on


@pytest.mark.django_db
def test_old_claims_are_pruned_by_the_daily_task():
    event_claim(platform="slack", event_id="old")
    event_claim(platform="slack", event_id="new")
    HandledEvent.objects.filter(event_id="old").update(
        created_at=timezone.now() - timedelta(days=2)
    )
    assert handled_events_prune_task() == 1
    assert list(HandledEvent.objects.values_list("event_id", flat=True)) == ["new"]
    assert handled_events_prune(older_than=timedelta(0)) == 1


@pytest.mark.django_db
def test_threads_are_remembered_idempotently():
    assert not thread_is_ours(platform="slack", channel_id="C1", thread_id="1.2")
    thread_remember(platform="slack", channel_id="C1", thread_id="1.2")
    thread_remember(platform="slack", channel_id="C1", thread_id="1.2")
    assert thread_is_ours(platform="slack", channel_id="C1", thread_id="1.2")
    assert not thread_is_ours(platform="slack", channel_id="C2", thread_id="1.2")


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_event_have_exactly_one_winner():
    if connection.vendor == "sqlite":
        pytest.skip("needs PostgreSQL: SQLite serialises writers, so there is no race to lose")
    start = threading.Barrier(8)
    wins: list[bool] = []
    lock = threading.Lock()

    def deliver() -> None:
        start.wait(timeout=10)
        claimed = event_claim(platform="slack", event_id="EvRace")
        with lock:
            wins.append(claimed)

    jobs = BackgroundJobs(workers=8)
    futures = [jobs.submit(deliver) for _ in range(8)]
    for future in futures:
        future.result(timeout=30)
    jobs.shutdown()
    assert sorted(wins) == [False] * 7 + [True]


@pytest.mark.django_db
def test_inline_jobs_run_now_and_errors_are_logged_not_raised(caplog):
    jobs = BackgroundJobs(workers=0)
    assert jobs.submit(lambda x: x * 2, 21).result() == 42

    def broken() -> None:
        raise ValueError("nope")

    with caplog.at_level(logging.ERROR, logger="botcore.jobs"):
        assert jobs.submit(broken).result() is None
    assert any(r.getMessage() == "background job failed" and r.exc_info for r in caplog.records)


@pytest.mark.django_db
def test_pooled_jobs_run_off_the_calling_thread():
    jobs = BackgroundJobs(workers=2, name="t")
    caller = threading.get_ident()
    ran_on = jobs.submit(threading.get_ident).result(timeout=10)
    jobs.shutdown()
    assert ran_on != caller
